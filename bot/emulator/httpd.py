"""A loopback HTTP server run on a background thread, shared by the local fakes."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class _TrackingServer(ThreadingHTTPServer):
    """Remembers open client sockets so stop() can cut idle keep-alive connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # socketserver's 5 drops connections under load (bench/load.py)

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_sockets(self) -> None:
        """Shut down every client socket still open (idle keep-alive connections)."""
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer


class BackgroundHTTPServer:
    """Runs a `ThreadingHTTPServer` on a daemon thread; a context manager.

    Subclasses supply the request handler class; the handler reaches its owner through
    `self.server.owner` (set here), so one handler class can serve many instances.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._server: _TrackingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("server is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Root URL of the running server, ending with "/"."""
        return f"http://{self._host}:{self.port}/"

    def start(self) -> Self:
        """Bind and serve on a background thread. Returns self for chaining."""
        if self._server is not None:
            return self
        server = _TrackingServer((self._host, self._port), self._handler)
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_open_sockets()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """Request handler base: HTTP/1.1, no stderr access log, JSON helpers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK
    # hold the second write ~40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    # Idle keep-alive connections give up after this long instead of pinning a thread.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr logging."""

    def read_body(self) -> bytes:
        """Read the request body (Content-Length framed; chunked is not used by clients here)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send `payload` as a JSON response."""
        body = json.dumps(payload).encode("utf-8")
        self.send_bytes(status, body, JSON_CONTENT_TYPE, headers)
