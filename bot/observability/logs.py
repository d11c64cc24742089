"""Logging for operators: text for a terminal or one JSON object per line, every record made
for a request or job stamped with its `request_id`, and no job payloads (they hold what people
wrote) from the job engine's own log lines."""

from __future__ import annotations

import copy
import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from bot.observability.request_ids import current_request_id
from bot.observability.settings import ObservabilitySettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
# procrastinate logs each job's call, arguments included, at INFO ("Starting job …",
# "Deferred 1 job"): quieted, and stripped by JobPayloadFilter from what it logs above INFO.
QUIETED_LOGGERS = ("procrastinate",)


class RequestIdFilter(logging.Filter):
    """Stamps `request_id` on each record made while a request or job is being handled.

    On handlers (like the PII filter), so records of every logger, propagated, get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp; always keep the record."""
        request_id = current_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class JobPayloadFilter(logging.Filter):
    """Takes job arguments out of procrastinate's records: its messages may embed a job's call
    string (`task[id](payload={…})`) and its `job` / `jobs` extras the arguments themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite in place; always keep the record."""
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            record.job = self._without_payload(record, job)
        jobs = getattr(record, "jobs", None)
        if isinstance(jobs, list):
            record.jobs = [self._without_payload(record, j) for j in jobs if isinstance(j, dict)]
        return True

    @staticmethod
    def _without_payload(record: logging.LogRecord, job: dict[str, Any]) -> dict[str, Any]:
        short = f"{job.get('task_name')}[{job.get('id')}]"
        call = job.get("call_string")
        if isinstance(call, str) and isinstance(record.msg, str):
            record.msg = record.msg.replace(call, short)
        kept = {k: v for k, v in job.items() if k not in ("task_kwargs", "call_string")}
        return {**kept, "call_string": short}


class SafeJsonFormatter(JsonFormatter):
    """JSON lines that keep a traceback as the filters left it (PII redacted): the base class
    would format `exc_info` afresh and bring back what the redaction took out."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object for the record."""
        if record.exc_info and record.exc_text:
            record = copy.copy(record)
            record.exc_info = None
        return super().format(record)


def json_formatter() -> logging.Formatter:
    """`{"level", "logger", "message", …extras, "request_id", "time"}` per line; the time in
    ISO 8601, UTC."""
    return SafeJsonFormatter(
        JSON_FIELDS,
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "taskName", "_pii_redacted"],
    )


def text_formatter() -> logging.Formatter:
    """One readable line; `-` where no request is being handled."""
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


def log_handler(settings: ObservabilitySettings) -> logging.Handler:
    """A stderr handler in the configured format, with the request-id and payload filters."""
    handler = logging.StreamHandler()
    json_lines = settings.log_format == "json"
    handler.setFormatter(json_formatter() if json_lines else text_formatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(JobPayloadFilter())
    return handler


def configure_logging(settings: ObservabilitySettings, *, level: str) -> None:
    """Set up the root logger once per process (the CLI calls it before anything logs).

    Unless DEBUG is asked for, the job engine's loggers are raised to WARNING: their INFO
    lines are one or two per job, each carrying its payload."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(settings)])
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in QUIETED_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
