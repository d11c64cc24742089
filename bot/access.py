"""Where the bot speaks: user and channel allowlists (settings) and per-channel switches
(`/ai-channel`, stored per org), checked before a new request is queued.

Only new asks are gated (mentions, DMs, thread follow-ups, `/ai`, `/ai-suggest`, message
shortcuts): a click on an existing draft card keeps working, and approval is decided by role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltResponse

from bot.channel_command import channel_rules
from bot.runner import JobRunner
from bot.services import Services
from bot.settings import AccessSettings

log = logging.getLogger(__name__)

ACCESS_NOTICE = "access_notice"
GATED_COMMANDS = frozenset({"/ai", "/ai-suggest"})
NOT_YOU = "Countersign isn't enabled for you in this workspace. Ask a Slack admin to add you."
NOT_HERE = "Countersign isn't enabled in this channel."
OFF_HERE = (
    "Countersign is switched off in this channel (an admin can turn it on: `/ai-channel on`)."
)


@dataclass(frozen=True)
class Ask:
    """A new request: who asked, where, and how (to decide how to say no)."""

    kind: str  # "mention", "dm", "follow_up", "command", "shortcut"
    team_id: str
    channel: str
    user: str


def ask_of(body: dict[str, Any]) -> Ask | None:
    """The new request in a Slack payload, or None for clicks, views and other events."""
    team = str(body.get("team_id") or (body.get("team") or {}).get("id") or "")
    if command := body.get("command"):
        if command not in GATED_COMMANDS:
            return None
        return Ask("command", team, str(body.get("channel_id", "")), str(body.get("user_id", "")))
    if body.get("type") == "message_action":
        channel = (body.get("channel") or {}).get("id", "")
        return Ask("shortcut", team, str(channel), str((body.get("user") or {}).get("id", "")))
    event = body.get("event") if body.get("type") == "event_callback" else None
    if not isinstance(event, dict) or event.get("bot_id") or not event.get("user"):
        return None
    kind = _event_kind(event)
    return Ask(kind, team, str(event.get("channel", "")), str(event["user"])) if kind else None


def _event_kind(event: dict[str, Any]) -> str | None:
    """mention, dm, follow_up (a reply in a channel thread), or None: a top-level channel
    message is nobody's question, and costs no lookup (the bot sees every one it is in)."""
    if event.get("type") == "app_mention":
        return "mention"
    if event.get("type") != "message":
        return None
    if event.get("channel_type") == "im":
        return "dm"
    thread = event.get("thread_ts")
    return "follow_up" if thread and thread != event.get("ts") else None


def refusal(ask: Ask, settings: AccessSettings, channel_enabled: bool) -> str | None:
    """Why this ask is refused, or None when the bot may answer it."""
    users = settings.users()
    if users and ask.user not in users:
        return NOT_YOU
    if ask.kind == "dm":
        return None
    channels = settings.channels()
    if channels and ask.channel not in channels:
        return NOT_HERE
    return None if channel_enabled else OFF_HERE


def channel_enabled(services: Services, team_id: str, channel: str) -> bool:
    """The channel's `/ai-channel on|off` switch (on when never set)."""
    rules = channel_rules(services, team_id, channel)
    return rules is None or rules.enabled


def access_middleware(services: Services) -> Callable[..., BoltResponse | None]:
    """A Bolt middleware: refused asks are acked here and never reach a listener."""
    settings = services.settings.access

    def access(body: dict[str, Any], next_: Callable[[], BoltResponse]) -> BoltResponse | None:
        ask = ask_of(body)
        if ask is None:
            return next_()
        enabled = ask.kind == "dm" or channel_enabled(services, ask.team_id, ask.channel)
        reason = refusal(ask, settings, enabled)
        if reason is None:
            return next_()
        log.info("%s by %s in %s refused: %s", ask.kind, ask.user, ask.channel, reason)
        return _refuse(services.runner, ask, reason)

    return access


def _refuse(runner: JobRunner, ask: Ask, reason: str) -> BoltResponse:
    if ask.kind == "command":  # the ack's text is shown to the person only
        return BoltResponse(status=200, body=reason)
    if ask.kind in ("mention", "dm", "shortcut"):  # they addressed the bot: tell them
        runner.defer(
            ACCESS_NOTICE,
            {"team_id": ask.team_id, "channel": ask.channel, "user": ask.user, "text": reason},
        )
    return BoltResponse(status=200, body="")  # a follow-up nobody addressed: stay quiet


def register_access_jobs(services: Services) -> None:
    """The refusal notice, posted after the ack."""
    services.runner.register(ACCESS_NOTICE, lambda payload: _notify(services, payload))


def _notify(services: Services, payload: dict[str, Any]) -> None:
    services.slack_for(payload["team_id"]).chat_postEphemeral(
        channel=payload["channel"], user=payload["user"], text=f":no_entry: {payload['text']}"
    )
