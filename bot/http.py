"""The WSGI front: /slack/events and the install pages through Bolt's adapter, plus health.
Served by waitress."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.services import Services
from bot.shapes import command_problem, envelope_problem, interaction_problem
from bot.signing import SigningSecrets

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, services: Services) -> WSGIApp:
    """Route requests: Slack to Bolt, installs to Bolt's OAuth flow, health checks to us,
    anything else 404. Signatures are checked here, against every configured secret (so a
    signing-secret rotation loses nothing); Bolt's own check is off over HTTP (bot/app.py)."""
    slack = SlackRequestHandler(app, path="/slack/events")
    verifier = SigningSecrets(services.settings.slack.signing_secrets())
    install_paths = _install_paths(app)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method == "GET":
            return _json(start_response, "200 OK", _health())
        if path == "/slack/events" and method == "POST":
            body = _read_body(environ)
            if not verifier.valid(body, _signature_headers(environ)):
                return _json(start_response, "401 Unauthorized", {"error": "invalid signature"})
            if problem := malformed(body, environ.get("CONTENT_TYPE", "")):
                return _json(start_response, "400 Bad Request", {"error": problem})
            return slack(environ, start_response)
        if path in install_paths and method == "GET":
            return slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return application


def _install_paths(app: App) -> frozenset[str]:
    """/slack/install and /slack/oauth_redirect, when OAuth installs are configured."""
    flow = app.oauth_flow
    return frozenset({flow.install_path, flow.redirect_uri_path}) if flow else frozenset()


def _signature_headers(environ: dict[str, Any]) -> dict[str, str]:
    return {
        "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
        "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE", ""),
    }


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back, so Bolt's adapter reads the same bytes."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a signed Slack request body can't be handled (it doesn't parse, or lacks the shape
    Slack always gives it: bot/shapes.py), or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return "body is not valid JSON"
        return (
            envelope_problem(parsed) if isinstance(parsed, dict) else "JSON body must be an object"
        )
    form = parse_qs(text)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            return "payload field is not valid JSON"
        return (
            interaction_problem(payload)
            if isinstance(payload, dict)
            else "payload must be a JSON object"
        )
    if "command" in form:
        return command_problem({key: values[0] for key, values in form.items()})
    if "ssl_check" in form:  # Slack checking the certificate of a command's URL
        return None
    return "a form must be a slash command or an interaction payload" if form else "empty body"


def _health() -> dict[str, Any]:
    """Liveness only: the process answers. Dependencies are /readyz's business, so a database
    outage takes processes out of rotation instead of getting them restarted."""
    return {"status": "ok"}


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
