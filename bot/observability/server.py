"""A small HTTP server for processes without a web front (`countersign worker`, Socket Mode):
/metrics, /healthz and /readyz on COUNTERSIGN_METRICS_PORT, on a daemon thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from waitress.server import create_server

from bot.observability.settings import ObservabilitySettings
from bot.observability.wiring import Instruments
from bot.observability.wsgi import StartResponse, json_response

log = logging.getLogger(__name__)


def alive(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """/healthz (the process answers at all); anything else not found."""
    if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
        return json_response(start_response, "200 OK", {"status": "ok"})
    return json_response(start_response, "404 Not Found", {"error": "not found"})


def start_ops_server(settings: ObservabilitySettings, instruments: Instruments) -> Any | None:
    """Serve in the background and return the server (`.close()` stops it), or None when the
    port is 0 or taken: a worker without metrics still does its work, and says so."""
    if settings.metrics_port == 0:
        return None
    try:
        server: Any = create_server(
            instruments.wrap(alive),
            host=settings.metrics_host,
            port=settings.metrics_port,
            threads=2,
            ident="countersign",
        )
    except OSError as exc:
        log.warning(
            "/metrics not served: %s:%d is unavailable (%s); give each process on a host its "
            "own COUNTERSIGN_METRICS_PORT",
            settings.metrics_host,
            settings.metrics_port,
            exc.strerror,
        )
        return None
    threading.Thread(target=server.run, name="countersign-ops-http", daemon=True).start()
    log.info(
        "serving /metrics, /healthz and /readyz on http://%s:%s",
        settings.metrics_host,
        settings.metrics_port,
    )
    return server
