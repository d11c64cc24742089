"""A scripted local server speaking the Anthropic Messages API wire format.

Point the real SDK at it: `anthropic.Anthropic(api_key="test-key", base_url=fake.base_url)`.
Each POST /v1/messages consumes the next scripted step (`Reply`, `Fail`, `CutStream`,
`ErrorMidStream`, `Hang`); an unexpected call, a failed `expect` or a request the real API
would reject is recorded in `.problems`, and `assert_done()` (run on a clean `with` exit)
fails on any of them or on steps left unconsumed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from bot.emulator.httpd import BackgroundHTTPServer, QuietHandler

from .anthropic_wire import (
    ERROR_TYPES,
    build_message,
    error_body,
    estimate_input_tokens,
    stream_events,
    validate_request,
)

Expectation = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Reply:
    """A successful model turn. `stop_reason` defaults to "tool_use" when a tool is called."""

    content: list[dict[str, Any]] | str
    usage: Mapping[str, Any] | None = None
    stop_reason: str | None = None
    model: str | None = None
    latency: float = 0.0
    expect: Expectation | None = None

    def message(self, request: dict[str, Any]) -> dict[str, Any]:
        """The Messages API response body this reply produces for `request`."""
        return build_message(
            request, self.content, usage=self.usage, stop_reason=self.stop_reason, model=self.model
        )


@dataclass(frozen=True)
class Fail:
    """An HTTP error with the real error body; `error_type` defaults from the status."""

    status: int = 500
    error_type: str | None = None
    message: str = "scripted failure"
    retry_after: float | str | None = None
    expect: Expectation | None = None


@dataclass(frozen=True)
class CutStream:
    """A streamed reply whose connection drops after `after_events` SSE frames."""

    after_events: int = 3
    reply: Reply = field(default_factory=lambda: Reply("This answer never finishes, sorry."))
    expect: Expectation | None = None


@dataclass(frozen=True)
class ErrorMidStream:
    """A streamed reply that, after `after_events` SSE frames, sends an `error` event (what
    the real API does when it is overloaded mid-answer) and ends the stream cleanly."""

    after_events: int = 3
    error_type: str = "overloaded_error"
    reply: Reply = field(default_factory=lambda: Reply("This answer stops halfway, sorry."))
    expect: Expectation | None = None


@dataclass(frozen=True)
class Hang:
    """No answer at all for `seconds` (set it past the client's timeout), then the
    connection drops: what a client timeout looks like from the server's side."""

    seconds: float = 2.0
    expect: Expectation | None = None


Step = Reply | Fail | CutStream | ErrorMidStream | Hang


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: path, lower-cased headers, parsed JSON body."""

    path: str
    headers: dict[str, str]
    json: dict[str, Any]

    @property
    def api_key(self) -> str | None:
        """The key sent as `x-api-key` or as `Authorization: Bearer` (what SDK 2.x does)."""
        return _api_key(self.headers.get("x-api-key"), self.headers.get("authorization"))


def text_reply(text: str, **kwargs: Any) -> Reply:
    """A reply with one text block."""
    return Reply([{"type": "text", "text": text}], **kwargs)


def tool_reply(
    name: str, tool_input: dict[str, Any], *, text: str | None = None, **kwargs: Any
) -> Reply:
    """A reply calling one tool (optionally after some text); stop_reason "tool_use"."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks.append({"type": "tool_use", "name": name, "input": tool_input})
    return Reply(blocks, **kwargs)


class FakeAnthropicAPI(BackgroundHTTPServer):
    """The Messages API on loopback: scripted replies, request checks, recorded traffic."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, check_on_exit: bool = True):
        super().__init__(_Handler, host, port)
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self._check_on_exit = check_on_exit

    @property
    def base_url(self) -> str:
        """Root URL for `Anthropic(base_url=...)`, e.g. "http://127.0.0.1:PORT"."""
        return super().base_url.rstrip("/")

    def script(self, *steps: Step) -> FakeAnthropicAPI:
        """Queue steps; each POST /v1/messages consumes the next one."""
        with self._lock:
            self._steps.extend(steps)
        return self

    @property
    def message_requests(self) -> list[dict[str, Any]]:
        """Bodies of the POST /v1/messages requests, oldest first."""
        return [r.json for r in self.requests if r.path == "/v1/messages"]

    def assert_done(self) -> None:
        """Fail if a scripted step was not consumed or anything unexpected happened."""
        with self._lock:
            issues = list(self.problems)
            issues += [f"unconsumed step: {step!r}" for step in self._steps]
        if issues:
            raise AssertionError("FakeAnthropicAPI:\n  " + "\n  ".join(issues))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is None and self._check_on_exit:
            self.assert_done()

    def record(self, path: str, headers: Mapping[str, str], body: dict[str, Any]) -> None:
        """Keep a received request (called by the handler)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(path, lowered, body))

    def problem(self, message: str) -> None:
        """Note something `assert_done` must report."""
        with self._lock:
            self.problems.append(message)

    def next_step(self) -> Step | None:
        """Pop the next scripted step (None when the script is exhausted)."""
        with self._lock:
            return self._steps.popleft() if self._steps else None


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        fake: FakeAnthropicAPI = self.server.owner  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        raw = self.read_body()
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        fake.record(path, dict(self.headers.items()), body if isinstance(body, dict) else {})
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._error(404, "not_found_error", f"Not found: {path}")
            return
        if (rejection := self._rejection(path, body)) is not None:
            status, error_type, message = rejection
            fake.problem(f"{path} rejected ({status} {error_type}): {message}")
            self._error(status, error_type, message)
            return
        assert isinstance(body, dict)
        if path.endswith("/count_tokens"):
            self.send_json(200, {"input_tokens": estimate_input_tokens(body)})
            return
        self._run_step(fake, body)

    def _rejection(self, path: str, body: Any) -> tuple[int, str, str] | None:
        # SDK 2.x sends the API key as `Authorization: Bearer …`; raw clients use x-api-key.
        if not _api_key(self.headers.get("x-api-key"), self.headers.get("authorization")):
            return 401, "authentication_error", "x-api-key header is required"
        if not self.headers.get("anthropic-version"):
            return 400, "invalid_request_error", "anthropic-version: header is required"
        if not isinstance(body, dict):
            return 400, "invalid_request_error", "Request body must be a JSON object"
        message = validate_request(body, needs_max_tokens=path == "/v1/messages")
        return None if message is None else (400, "invalid_request_error", message)

    def _run_step(self, fake: FakeAnthropicAPI, body: dict[str, Any]) -> None:
        step = fake.next_step()
        if step is None:
            summary = json.dumps(body.get("messages", []))[-300:]
            fake.problem(f"unexpected POST /v1/messages (script exhausted); messages: {summary}")
            # x-should-retry: false stops the SDK from retrying into the same dead end.
            self._error(500, "api_error", "FakeAnthropicAPI: no scripted step left", retry=False)
            return
        if step.expect is not None:
            try:
                step.expect(body)
            except Exception as exc:  # an expect may fail any way; all of them are reported
                fake.problem(f"expectation failed for {step!r}: {exc}")
                self._error(400, "invalid_request_error", f"FakeAnthropicAPI expect: {exc}")
                return
        if isinstance(step, Fail):
            self._fail(step)
        elif isinstance(step, Hang):
            time.sleep(step.seconds)
            self.close_connection = True  # the client gave up long ago
        elif isinstance(step, CutStream | ErrorMidStream) and not body.get("stream"):
            self.close_connection = True  # drop the connection without any response
        elif isinstance(step, CutStream):
            self._stream(step.reply, body, cut_after=step.after_events)
        elif isinstance(step, ErrorMidStream):
            error = error_body(step.error_type, "scripted mid-stream failure", _request_id())
            self._stream(step.reply, body, cut_after=step.after_events, error=error)
        elif body.get("stream"):
            self._stream(step, body, cut_after=None)
        else:
            time.sleep(step.latency)
            self.send_json(200, step.message(body), {"request-id": _request_id()})

    def _fail(self, step: Fail) -> None:
        error_type = step.error_type or ERROR_TYPES.get(step.status, "api_error")
        headers = {} if step.retry_after is None else {"retry-after": str(step.retry_after)}
        self._error(step.status, error_type, step.message, headers=headers)

    def _error(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        retry: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        request_id = _request_id()
        body = error_body(error_type, message, request_id)
        all_headers = {"request-id": request_id, **(headers or {})}
        if retry is not None:
            all_headers["x-should-retry"] = "true" if retry else "false"
        self.send_json(status, body, all_headers)

    def _stream(
        self,
        reply: Reply,
        body: dict[str, Any],
        *,
        cut_after: int | None,
        error: dict[str, Any] | None = None,
    ) -> None:
        time.sleep(reply.latency)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        # Chunked framing is what makes a cut detectable: the client sees an incomplete
        # body instead of a clean end of stream.
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", _request_id())
        self.end_headers()
        for sent, (event, data) in enumerate(stream_events(reply.message(body))):
            if cut_after is not None and sent >= cut_after and error is not None:
                self._write_chunk(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                break
            if cut_after is not None and sent >= cut_after:
                self.wfile.flush()
                self.close_connection = True
                return
            self._write_chunk(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, payload: bytes) -> None:
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()


def _api_key(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip() or None
    return None


def _request_id() -> str:
    return f"req_{secrets.token_hex(12)}"
