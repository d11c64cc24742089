"""The WSGI front: /slack/events through Bolt's adapter, plus health. Served by waitress."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.services import Services

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, services: Services) -> WSGIApp:
    """Route requests: Slack to Bolt, health checks to us, anything else 404."""
    slack = SlackRequestHandler(app, path="/slack/events")
    secret = services.settings.slack.signing_secret
    verifier = SignatureVerifier(secret.get_secret_value() if secret else "")

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method == "GET":
            return _json(start_response, "200 OK", _health(services))
        if path == "/slack/events" and method == "POST":
            body = _read_body(environ)
            problem = malformed(body, environ.get("CONTENT_TYPE", ""))
            if problem and not _signed(verifier, body, environ):
                return _json(start_response, "401 Unauthorized", {"error": "invalid signature"})
            if problem:
                return _json(start_response, "400 Bad Request", {"error": problem})
            return slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return application


def _signed(verifier: SignatureVerifier, body: bytes, environ: dict[str, Any]) -> bool:
    """Signature check for bodies Bolt never sees (malformed ones): 401 before 400."""
    headers = {
        "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
        "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE", ""),
    }
    return bool(verifier.is_valid_request(body, headers))


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back, so Bolt's adapter reads the same bytes."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a Slack request body cannot be parsed, or None. (Signature is checked by Bolt.)"""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return "body is not valid JSON"
        return None if isinstance(parsed, dict) else "JSON body must be an object"
    form = parse_qs(text)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            return "payload field is not valid JSON"
        return None if isinstance(payload, dict) else "payload must be a JSON object"
    return None if form else "empty body"


def _health(services: Services) -> dict[str, Any]:
    return {"status": "ok", "jobs_idle": services.runner.idle()}


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
