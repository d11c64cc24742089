"""The shape Slack always gives its requests, checked before Bolt sees them: a body that parses
but lacks a field the app reads (or has it with another type) is a 400, not a 500.

Written here because Bolt trusts a signed body's shape and indexes it freely; the models list
only the fields Slack always sends and the app reads, and allow every other field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Id = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Said(_Open):
    type: Literal["app_mention", "message"]
    channel: Id
    ts: Id
    text: str = ""
    user: Id | None = None
    thread_ts: Id | None = None


class _HomeOpened(_Open):
    type: Literal["app_home_opened"]
    user: Id
    tab: str = "home"
    channel: Id | None = None


class _Thread(_Open):
    user_id: Id
    channel_id: Id
    thread_ts: Id
    context: dict[str, Any] = Field(default_factory=dict)


class _ThreadStarted(_Open):
    type: Literal["assistant_thread_started"]
    assistant_thread: _Thread


class _OtherEvent(_Open):
    type: Annotated[str, Field(min_length=1)]


_Event = _Said | _HomeOpened | _ThreadStarted


class _Callback(_Open):
    type: Literal["event_callback"]
    team_id: Id
    event_id: Id
    event: dict[str, Any]


class _Challenge(_Open):
    type: Literal["url_verification"]
    challenge: str


class _Team(_Open):
    id: Id


class _User(_Open):
    id: Id


class _Action(_Open):
    action_id: Id


class _View(_Open):
    id: Id
    type: Id
    callback_id: str = ""
    private_metadata: str = ""
    state: dict[str, Any] = Field(default_factory=dict)


class _Interaction(_Open):
    type: Id
    team: _Team
    user: _User
    response_url: Url | None = None


class _Click(_Interaction):
    type: Literal["block_actions"]
    actions: Annotated[list[_Action], Field(min_length=1)]
    trigger_id: Id


class _Submission(_Interaction):
    type: Literal["view_submission", "view_closed"]
    view: _View


class _Shortcut(_Interaction):
    type: Literal["message_action"]
    callback_id: Id
    trigger_id: Id
    channel: _Team  # {"id": …}
    message: dict[str, Any]


class _Command(_Open):
    command: Id
    team_id: Id
    channel_id: Id
    user_id: Id
    trigger_id: Id
    response_url: Url
    text: str = ""


_EVENT_TYPES = {"app_mention", "message", "app_home_opened", "assistant_thread_started"}
_INTERACTIONS: dict[str, type[_Interaction]] = {
    "block_actions": _Click,
    "view_submission": _Submission,
    "view_closed": _Submission,
    "message_action": _Shortcut,
}
_EVENT = TypeAdapter(_Event)


def envelope_problem(body: dict[str, Any]) -> str | None:
    """What an Events API body lacks, or None."""
    kind = body.get("type")
    if kind == "url_verification":
        return _problem(_Challenge, body)
    if kind == "app_rate_limited":  # Slack telling us it dropped events; nothing to check
        return None
    if kind != "event_callback":
        return f"unknown request type {str(kind)[:40]!r}"
    if problem := _problem(_Callback, body):
        return problem
    event = body["event"]
    if event.get("type") in _EVENT_TYPES:
        return _problem(_EVENT, event, where="event")
    return _problem(_OtherEvent, event, where="event")


def command_problem(fields: dict[str, str]) -> str | None:
    """What a slash-command form lacks, or None."""
    return _problem(_Command, fields)


def interaction_problem(payload: dict[str, Any]) -> str | None:
    """What an interactivity payload lacks, or None (other kinds only need a team and user)."""
    return _problem(_INTERACTIONS.get(str(payload.get("type")), _Interaction), payload)


def _problem(model: Any, data: Any, *, where: str = "") -> str | None:
    try:
        if isinstance(model, TypeAdapter):
            model.validate_python(data)
        else:
            model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in (where, *first["loc"]) if p != "")
        return f"{path or 'body'}: {first['msg']}"
    return None
