"""What one Web API call carries in and out: the call context, argument readers, the record."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from typing import Any
from urllib.parse import parse_qsl

from bot.emulator.workspace import SlackError, Workspace


@dataclass(frozen=True)
class RecordedCall:
    """One request the emulator received, as the test sees it afterwards."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the emulator answered `"ok": true`."""
        return bool(self.response.get("ok"))

    def describe(self) -> str:
        """One line for failure messages: method, outcome and the interesting params."""
        outcome = "ok" if self.ok else f"error={self.response.get('error')!r}"
        shown = {key: _shorten(value) for key, value in self.params.items()}
        return f"{self.method} [{self.status} {outcome}] {shown}"


@dataclass(frozen=True)
class CallContext:
    """Arguments of one Web API call plus what a method needs to know about the caller."""

    params: dict[str, Any]
    team_id: str
    base_url: str

    def text(self, name: str, default: str = "") -> str:
        """An optional string argument."""
        value = self.params.get(name)
        return default if value is None else str(value)

    def required(self, name: str) -> str:
        """A required string argument; Slack answers `invalid_arguments` when it is missing."""
        value = self.text(name)
        if not value:
            raise SlackError("invalid_arguments")
        return value

    def optional(self, name: str) -> str | None:
        """A string argument that may be absent (empty counts as absent)."""
        return self.text(name) or None

    def structured(self, name: str) -> Any:
        """A JSON argument: form-encoded calls send it as a string, JSON calls as a value."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value) if value else None
            except json.JSONDecodeError as exc:
                raise SlackError(f"invalid_{name}") from exc
        return value

    def blocks(self, name: str = "blocks") -> list[dict[str, Any]]:
        """The `blocks` argument as a list of dicts (empty when absent)."""
        value = self.structured(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
            raise SlackError("invalid_blocks")
        return value


Handler = Callable[[Workspace, CallContext], dict[str, Any]]


def _shorten(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_params(body: bytes, content_type: str, query: str) -> dict[str, Any]:
    """Arguments from the query string plus a form, JSON or multipart body."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" and body:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise SlackError("invalid_json")
        params.update(decoded)
    elif media_type == "multipart/form-data":
        params.update(_multipart_fields(body, content_type))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def _multipart_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """Text fields as str, file fields as bytes (slack_sdk sends multipart for file uploads)."""
    envelope = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = BytesParser(policy=default).parsebytes(envelope)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        is_file = part.get_filename() is not None
        fields[name] = payload if is_file else payload.decode("utf-8")
    return fields


def bearer_token(authorization: str | None, params: dict[str, Any]) -> str | None:
    """The token from `Authorization: Bearer …`, else from a `token` argument (removed)."""
    from_param = params.pop("token", None)
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip() or None
    return str(from_param) if from_param else None
