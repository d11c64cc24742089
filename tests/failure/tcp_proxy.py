"""A loopback TCP proxy that can play a server restart: `outage()` drops every connection
through it and refuses new ones (the port is closed) until `restore()`. Put it between the app
and PostgreSQL to restart "the database" without touching the real server others use."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self

ACCEPT_POLL_SECONDS = 0.05


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`, one pair of pump threads per connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.accepted = 0  # connections taken in, over the proxy's life
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._serving = threading.Event()

    def __enter__(self) -> Self:
        self.restore()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.outage()

    def restore(self) -> None:
        """Listen again (on the same port after an outage) and forward what arrives."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._serving.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def outage(self) -> None:
        """Close the port (new connections are refused) and cut every open connection."""
        self._serving.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            cut, self._open = list(self._open), set()
        for sock in cut:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._serving.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by outage()
                return
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        client.settimeout(None)  # accepted sockets may inherit the listener's poll timeout
        upstream.settimeout(None)
        with self._lock:
            self.accepted += 1
            self._open.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side goes away, then close both."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    sock.close()
