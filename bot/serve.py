"""Run the app: HTTP (waitress, a production WSGI server) or Socket Mode."""

from __future__ import annotations

import gc
import logging
import signal

from slack_bolt.adapter.socket_mode import SocketModeHandler
from waitress.server import create_server

from bot.app import build_app
from bot.http import wsgi_app
from bot.observability.bolt_middleware import request_id_middleware
from bot.observability.server import start_ops_server
from bot.observability.wiring import instrument
from bot.periodic import schedule_periodic
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Move everything built at start-up out of the cyclic collector's sight.

    Measured in bench/ack_latency.py: a full collection of the ~370k start-up objects took
    ~200 ms and landed on request threads as p99 ack spikes; frozen, they are never rescanned."""
    gc.collect()
    gc.freeze()


def make_http_server(settings: Settings, services: Services, *, host: str, port: int) -> object:
    """A waitress server for the app (not yet running); `.run()` serves, `.close()` stops.

    In front of the app: request ids, metrics and the access log, GET /metrics and GET /readyz
    (bot/observability)."""
    app = build_app(settings, services)
    instruments = instrument(services)
    settle_heap()
    return create_server(
        instruments.wrap(wsgi_app(app, services)),
        host=host,
        port=port,
        threads=settings.runtime.http_threads,
        # waitress stops accepting past this many open connections (idle keep-alives count).
        connection_limit=settings.runtime.http_connection_limit,
        ident="countersign",
    )


def serve_http(settings: Settings, services: Services, *, host: str, port: int) -> None:
    """Serve POST /slack/events, GET /healthz, /readyz and /metrics until interrupted
    (settings checked by the CLI)."""
    server = make_http_server(settings, services, host=host, port=port)
    _schedule(settings, services)
    log.info("serving Slack over HTTP on http://%s:%d/slack/events", host, port)
    # SIGTERM (a deploy, honcho, Kubernetes) closes the server so the caller's `finally`
    # closes the services: queued jobs finish, the ledger drain flushes, pools close.
    signal.signal(signal.SIGTERM, lambda *_: server.close())  # type: ignore[attr-defined]
    try:
        server.run()  # type: ignore[attr-defined]
    except OSError:  # waitress's loop sees its sockets closed under it
        log.info("HTTP server stopped")


def serve_socket_mode(settings: Settings, services: Services) -> None:
    """Connect out to Slack over a WebSocket: no public URL needed."""
    app = build_app(settings, services, socket_mode=True)
    app.use(request_id_middleware)  # no WSGI middleware in front to give each delivery its id
    start_ops_server(settings.observability, instrument(services))  # no web front of its own
    assert settings.slack.app_token is not None
    handler = SocketModeHandler(
        app, app_token=settings.slack.app_token.get_secret_value(), web_client=services.slack
    )
    settle_heap()
    _schedule(settings, services)
    log.info("connecting to Slack in Socket Mode")
    handler.start()  # type: ignore[no-untyped-call]


def _schedule(settings: Settings, services: Services) -> None:
    """Periodic work: in embedded mode this process runs it; with the job engine it only knows
    the schedule, and `countersign worker` processes run each period once between them."""
    schedule_periodic(services)
    if settings.jobs.engine_for(settings.storage.resolved_database_url()) == "procrastinate":
        log.info("jobs are queued in PostgreSQL: run `countersign worker` to carry them out")
