"""The WSGI middleware in front of the app: a request id per request, metrics per route, Slack
acks by kind, an access log line; and GET /metrics and GET /readyz answered here.

The same middleware, around a tiny app that only knows /healthz, is the worker's HTTP server
(bot/observability/server.py)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import make_wsgi_app

from bot.observability.metrics import Metrics
from bot.observability.readiness import Readiness
from bot.observability.request_ids import acceptable, new_request_id, request_id_bound

log = logging.getLogger("countersign.access")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

SLACK_PATH = "/slack/events"
# Metrics are labelled by these routes only: a scan of random paths must not grow the labels.
ROUTES = frozenset(
    {SLACK_PATH, "/healthz", "/readyz", "/metrics", "/slack/install", "/slack/oauth_redirect"}
)
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # logged at DEBUG: scraped every few s


def observed(app: WSGIApp, *, metrics: Metrics, readiness: Readiness) -> WSGIApp:
    """`app` behind request ids, metrics and the access log, with /metrics and /readyz."""
    serve_metrics = make_wsgi_app(metrics.registry)

    def own_routes(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics" and method == "GET":
            scrape: Iterable[bytes] = serve_metrics(environ, start_response)
            return scrape
        if path == "/readyz" and method == "GET":
            verdict = readiness.verdict()
            status = "200 OK" if verdict.ready else "503 Service Unavailable"
            return json_response(start_response, status, verdict.body())
        return app(environ, start_response)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = acceptable(environ.get("HTTP_X_REQUEST_ID")) or new_request_id()
        with request_id_bound(request_id):
            return _handle(own_routes, metrics, request_id, environ, start_response)

    return application


def _handle(
    app: WSGIApp,
    metrics: Metrics,
    request_id: str,
    environ: dict[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    route = path if path in ROUTES else "other"
    kind = slack_kind(environ) if route == SLACK_PATH and method == "POST" else None
    statuses: list[str] = []

    def recording(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        statuses[:] = [status.split(" ", 1)[0]]
        return start_response(status, [*headers, ("X-Request-Id", request_id)], *exc_info)

    began = time.perf_counter()
    try:
        body = app(environ, recording)
    except BaseException:
        statuses[:] = ["500"]  # the server answers 500 for an app that raised
        raise
    finally:
        seconds = time.perf_counter() - began
        status = statuses[0] if statuses else "0"  # 0: the app had not answered yet
        _record(metrics, route, method, status, kind, seconds)
        level = logging.DEBUG if route in PROBES else logging.INFO
        log.log(
            level,
            "%s %s %s in %.1f ms",
            method,
            route,
            status,
            seconds * 1000,
            extra=_access_fields(environ, route, status, kind, seconds),
        )
    return body


def _access_fields(
    environ: dict[str, Any], route: str, status: str, kind: str | None, seconds: float
) -> dict[str, Any]:
    """Structured fields of the access line (JSON keys; the text format shows the message)."""
    fields: dict[str, Any] = {
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
    }
    if kind is not None:
        fields["slack_kind"] = kind
    if retry := environ.get("HTTP_X_SLACK_RETRY_NUM"):
        fields["slack_retry"] = retry  # Slack's redelivery number: the first try timed out
    return fields


def _record(
    metrics: Metrics, route: str, method: str, status: str, kind: str | None, seconds: float
) -> None:
    metrics.requests.labels(route, method, status).inc()
    metrics.request_seconds.labels(route).observe(seconds)
    if kind is not None:
        metrics.deliveries.labels(kind, "true" if status.startswith("2") else "false").inc()
        metrics.ack_seconds.labels(kind).observe(seconds)


def slack_kind(environ: dict[str, Any]) -> str:
    """event (JSON Events API), command (a slash command's form) or action (interactivity:
    buttons, modals, shortcuts: a form with a `payload` field). Reads the body and puts it
    back for the app."""
    if environ.get("CONTENT_TYPE", "").startswith("application/json"):
        return "event"
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "other"  # the app answers this one
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    fields = {part.split(b"=", 1)[0] for part in body.split(b"&")}
    if b"payload" in fields:
        return "action"
    return "command" if b"command" in fields else "other"


def json_response(start_response: StartResponse, status: str, payload: object) -> list[bytes]:
    """A small JSON answer."""
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
