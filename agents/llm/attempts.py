"""Why a Messages API call failed, and each attempt the SDK retried.

The SDK retries 429s, 5xx and timeouts itself (`max_retries`); we never add a loop of our own.
Its middleware runs once per HTTP attempt inside that retry loop, so `watch_attempts` sees
every attempt: when a new one starts, the one before it failed and was retried, and the
caller's `on_retry` hears about it (the meter gives it a ledger row). The last attempt's
failure is raised as usual and becomes ModelUnavailableError."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from agents.llm.port import FailedAttempt

# Outcomes that mean "the model can't answer now", by the SDK's error classes.
_BY_CLASS: tuple[tuple[type[Exception], str], ...] = (
    (anthropic.APITimeoutError, "timed out"),
    (anthropic.APIConnectionError, "unreachable"),
    (anthropic.RateLimitError, "rate limited"),
    (anthropic.OverloadedError, "overloaded"),
    (anthropic.AuthenticationError, "API key rejected"),
    (anthropic.PermissionDeniedError, "permission denied"),
    (anthropic.InternalServerError, "server error"),
    # Mid-stream the connection itself broke (the SDK does not wrap these).
    (httpx2.TimeoutException, "timed out"),
    (httpx2.TransportError, "stream cut"),
)
_BY_STATUS = {401: "API key rejected", 403: "permission denied", 429: "rate limited"}
# An `error` event inside a stream that began with 200 carries only the error's type.
_BY_ERROR_TYPE = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate limited",
    "api_error": "server error",
    "timeout_error": "timed out",
}


def unavailable_reason(error: Exception) -> str | None:
    """Why the model is unavailable, in a few words; None when `error` is not an outage
    (a bad request is a bug to surface, not a reason to answer offline)."""
    for error_class, reason in _BY_CLASS:
        if isinstance(error, error_class):
            return reason
    if isinstance(error, anthropic.APIStatusError) and error.status_code < 400:
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error")
        return _BY_ERROR_TYPE.get(str(detail.get("type"))) if isinstance(detail, dict) else None
    return None


def _status_reason(status: int) -> str:
    if status == 529:
        return "overloaded"
    return _BY_STATUS.get(status) or ("server error" if status >= 500 else f"HTTP {status}")


@dataclass
class _Call:
    on_retry: Callable[[FailedAttempt], None]
    failed: FailedAttempt | None = None  # the latest attempt, if it failed


_current: ContextVar[_Call | None] = ContextVar("countersign_model_call", default=None)


@contextmanager
def reporting_retries(on_retry: Callable[[FailedAttempt], None] | None) -> Iterator[None]:
    """Attempts the SDK retries within the block (this thread's calls) go to `on_retry`."""
    token = _current.set(_Call(on_retry) if on_retry is not None else None)
    try:
        yield
    finally:
        _current.reset(token)


def watch_attempts(
    request: anthropic.APIRequest, call_next: anthropic.CallNext
) -> anthropic.APIResponse[Any]:
    """SDK middleware: note how each attempt ended; a new attempt reports the retried one."""
    call = _current.get()
    if call is None:
        return call_next(request)
    if call.failed is not None:
        retried, call.failed = call.failed, None
        call.on_retry(retried)
    began = time.perf_counter()
    try:
        response = call_next(request)
    except anthropic.APIError as error:  # no response at all: a timeout, a refused connection
        call.failed = FailedAttempt(unavailable_reason(error) or type(error).__name__, _ms(began))
        raise
    if response.status_code >= 400:
        reason = _status_reason(response.status_code)
        call.failed = FailedAttempt(reason, _ms(began), response.request_id)
    return response


def _ms(began: float) -> int:
    return int((time.perf_counter() - began) * 1000)
