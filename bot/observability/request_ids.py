"""The request id: one short id per HTTP request or job run, on every log record made for it.

It lives in a context variable, so it follows the work on its own thread. Work handed to the
job engine carries it in the payload (`_request_id`), and the job runs under the same id, so
the worker's log lines for an answer share the id of the delivery that asked for it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

PAYLOAD_KEY = "_request_id"
# An id a proxy in front of us sent (X-Request-Id) is kept when it looks like one.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_current: ContextVar[str | None] = ContextVar("countersign_request_id", default=None)


def new_request_id() -> str:
    """A fresh id: 12 hex digits are plenty to tell a day's requests apart in logs."""
    return uuid.uuid4().hex[:12]


def acceptable(candidate: str | None) -> str | None:
    """`candidate` if it is a sane id to reuse (a proxy's X-Request-Id), else None."""
    return candidate if candidate and _ACCEPTABLE.match(candidate) else None


def current_request_id() -> str | None:
    """The id of the work this thread is doing, if any."""
    return _current.get()


@contextmanager
def request_id_bound(request_id: str) -> Iterator[str]:
    """Run the block under `request_id` (restored afterwards, so pool threads stay clean)."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def stamped(payload: dict[str, Any]) -> dict[str, Any]:
    """The job payload with the current request id added (a copy; the caller's is untouched)."""
    request_id = _current.get()
    if request_id is None:
        return payload
    return {**payload, PAYLOAD_KEY: request_id}


def unstamped(payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The id a job runs under (the deferring request's, or a new one) and the payload as the
    task expects it, without our key (tasks may splat or validate their payload)."""
    if PAYLOAD_KEY not in payload:
        return new_request_id(), payload
    rest = {k: v for k, v in payload.items() if k != PAYLOAD_KEY}
    return acceptable(str(payload[PAYLOAD_KEY])) or new_request_id(), rest
