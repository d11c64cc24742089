"""A steady Anthropic Messages API stand-in for load runs: every call is answered after a fixed
latency, whatever it asks, for as long as it runs.

tests/fakes/anthropic_api.py is scripted call by call (right for tests, which must fail on an
unexpected call); a load run makes tens of thousands of calls nobody can script. This fake
speaks the same wire format (it reuses tests/fakes/anthropic_wire.py: request checks, message
bodies, SSE events) and answers by shape:

- a forced tool call (`tool_choice: {"type": "tool"}`, e.g. triage's `route`) gets that tool
  with an input its schema accepts (enums: `prefer` if allowed, else the first choice);
- anything else gets a short text answer that quotes the `ref-N` token of the last user
  message as `ans-N`, so a load generator can find which answer belongs to which event.

Streamed requests get SSE, others JSON; a request the real API would refuse gets its 400.
`GET /stats` returns the calls served, by kind, and how many are in flight now.

    .venv/bin/python bench/fake_model.py --port 8400 --latency 2
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.fakes

from bot.emulator.httpd import QuietHandler
from tests.fakes.anthropic_wire import (
    build_message,
    error_body,
    estimate_input_tokens,
    stream_events,
    validate_request,
)

REF = re.compile(r"\bref-(\d+)\b")
ANSWER = (
    "Here is where things stand ({tag}). The account is active with an open deal in "
    "negotiation; the last activity was a call about the renewal, and one invoice is due "
    "next week. Next step: confirm the renewal terms and book the follow-up meeting."
)


class SteadyModel:
    """The fake's server: `start()` serves on a background thread, `stop()` ends it."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, latency: float, prefer: str = "customer"
    ) -> None:
        self.latency = latency
        self.prefer = prefer
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()
        self.in_flight = 0
        self.in_flight_max = 0
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What ANTHROPIC_BASE_URL should be."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SteadyModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "served": dict(self.served),
                "in_flight": self.in_flight,
                "in_flight_max": self.in_flight_max,
                "latency_s": self.latency,
            }

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)

    def leave(self, kind: str) -> None:
        with self.lock:
            self.in_flight -= 1
            self.served[kind] += 1

    def reply(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(kind, message body) answering `body`."""
        choice = body.get("tool_choice") or {}
        if choice.get("type") == "tool":
            tool = next(t for t in body.get("tools", []) if t.get("name") == choice["name"])
            use = {"type": "tool_use", "name": tool["name"], "input": self.fill(tool)}
            return "forced_tool", build_message(body, [use])
        tag = f"ans-{ref.group(1)}" if (ref := REF.search(_last_user_text(body))) else "ans-none"
        return "text", build_message(body, ANSWER.format(tag=tag))

    def fill(self, tool: dict[str, Any]) -> dict[str, Any]:
        """An input the tool's schema accepts: its required properties, simply filled."""
        schema = tool.get("input_schema", {})
        properties = schema.get("properties", {})
        return {name: self._value(properties.get(name, {})) for name in schema.get("required", [])}

    def _value(self, spec: dict[str, Any]) -> Any:
        if "enum" in spec:
            return self.prefer if self.prefer in spec["enum"] else spec["enum"][0]
        simple = {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}
        return simple.get(spec.get("type", "string"), "chosen by the load-test model")


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1].get("content")
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text", "")) for b in content or [] if isinstance(b, dict))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # hundreds of clients connect at once at the start of a run
    owner: SteadyModel


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        model = self.server.owner  # type: ignore[attr-defined]
        if self.path == "/stats":
            self.send_json(200, model.stats())
        else:
            self.send_json(404, error_body("not_found_error", "no such path", "req_fake"))

    def do_POST(self) -> None:
        model: SteadyModel = self.server.owner  # type: ignore[attr-defined]
        try:
            body = json.loads(self.read_body() or b"null")
        except ValueError:
            body = None
        problem = "body must be a JSON object" if not isinstance(body, dict) else None
        if body is not None and problem is None:
            problem = validate_request(body, needs_max_tokens=self.path == "/v1/messages")
        if problem is not None:
            self.send_json(400, error_body("invalid_request_error", problem, "req_fake"))
            return
        if self.path == "/v1/messages/count_tokens":
            self.send_json(200, {"input_tokens": estimate_input_tokens(body)})
            return
        model.enter()
        kind = "error"
        try:
            time.sleep(model.latency)
            kind, message = model.reply(body)
            if body.get("stream"):
                self._stream(message)
            else:
                self.send_json(200, message, {"request-id": "req_fake"})
        finally:
            model.leave(kind)

    def _stream(self, message: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_fake")
        self.end_headers()
        for event, data in stream_events(message):
            frame = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    model = SteadyModel(args.host, args.port, latency=args.latency).start()
    print(f"Anthropic fake on {model.base_url} (every answer after {args.latency:g} s)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
