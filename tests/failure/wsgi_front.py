"""The served app's WSGI callable (bot/http.py around build_app), called in-process: the same
front waitress runs, without a socket per request, so thousands of requests fit in a test."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

from bot.app import build_app
from bot.http import WSGIApp, wsgi_app
from tests.stack import Stack, running_stack

JSON, FORM = "application/json", "application/x-www-form-urlencoded"


def sign_request(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (any bytes, not only UTF-8 text)."""
    ts = str(int(time.time()) if timestamp is None else timestamp).encode()
    digest = hmac.new(secret.encode(), b"v0:" + ts + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts.decode(), "X-Slack-Signature": f"v0={digest}"}


class ErrorRecords(logging.Handler):
    """Every ERROR record: a listener's (bot.app's error handler) or a job's failure."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(logging.Formatter().format(record)[:3000])


@dataclass
class Front:
    app: WSGIApp
    secret: str
    stack: Stack
    errors: ErrorRecords
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def response_url(self) -> str:
        """Where slash commands and clicks may answer: the emulator, as Slack's would."""
        return self.stack.slack.base_url.rstrip("/") + "/response/fuzz"

    def post(self, body: bytes, content_type: str, headers: dict[str, str]) -> int:
        """One request through the WSGI callable, as waitress would make it."""
        environ: dict[str, Any] = {}
        setup_testing_defaults(environ)
        environ.update(
            REQUEST_METHOD="POST",
            PATH_INFO="/slack/events",
            CONTENT_TYPE=content_type,
            CONTENT_LENGTH=str(len(body)),
        )
        environ["wsgi.input"] = io.BytesIO(body)
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[str] = []
        b"".join(self.app(environ, lambda status, _headers, _exc=None: started.append(status)))
        status = int(started[0].split()[0])
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status

    def signed(self, body: bytes, content_type: str) -> int:
        return self.post(body, content_type, sign_request(body, self.secret))

    def reset(self) -> Front:
        self.stack.wait_idle(timeout=120)
        self.errors.seen.clear()
        self.statuses.clear()
        return self

    def settle(self, *, sent: int) -> None:
        """Let every queued job finish, then fail on any 5xx or error logged meanwhile (and
        unless at least `sent` requests went out: hypothesis may stop early)."""
        self.stack.wait_idle(timeout=120)
        assert sum(self.statuses.values()) >= sent, self.statuses
        assert not any(status >= 500 for status in self.statuses), self.statuses
        assert not self.errors.seen, f"{len(self.errors.seen)} errors, the first:\n" + "\n".join(
            self.errors.seen[:2]
        )


@contextmanager
def served_front(folder: Path) -> Iterator[Front]:
    """A sandbox (offline model, SQLite, the Slack emulator) and its WSGI front."""
    with running_stack(folder) as stack:
        secret = stack.settings.slack.signing_secret
        assert secret is not None
        errors = ErrorRecords()
        logging.getLogger().addHandler(errors)
        try:
            app = wsgi_app(build_app(stack.settings, stack.services), stack.services)
            yield Front(app, secret.get_secret_value(), stack, errors)
        finally:
            logging.getLogger().removeHandler(errors)
