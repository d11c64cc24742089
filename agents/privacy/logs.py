"""Keep PII out of the logs: a filter that redacts each record before any handler writes it."""

from __future__ import annotations

import logging

from agents.privacy.redactor import Redactor

_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (its args merged in) and traceback text with PII redacted.

    Merging the args first is what makes `log.info("mail %s", address)` safe: the address is
    only a string once it is formatted. Records are never dropped."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; always keep the record."""
        if getattr(record, "_pii_redacted", False):  # several handlers share one record
            return True
        record.msg = self.redactor.scrub(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.scrub(record.stack_info)
        record.__dict__["_pii_redacted"] = True
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # args that do not fit the format: keep both, redacted
        return f"{record.msg} {record.args!r}"


def install_log_redaction(redactor: Redactor, logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root by default), once each.

    On handlers, not the logger: a logger's filters do not see records propagated from child
    loggers, a handler's see every record it writes. Call it after logging is configured."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))
