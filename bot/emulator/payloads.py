"""Realistic payloads a Slack workspace posts to an app: events, commands, button clicks."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.emulator.workspace import BOT_ID, BOT_USER_ID

APP_ID = "A_COUNTERSIGN"
# The legacy verification token Slack still puts in every payload (Bolt ignores it).
VERIFICATION_TOKEN = "legacy-verification-token"
_MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")


def new_event_id() -> str:
    """An id shaped like Slack's ("Ev" + 9 upper-case alphanumerics)."""
    return "Ev" + secrets.token_hex(5).upper()[:9]


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's ("<digits>.<digits>.<hex>")."""
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The `rich_text` block Slack attaches to a typed message, with mentions as elements."""
    elements: list[dict[str, Any]] = []
    position = 0
    for match in _MENTION.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": secrets.token_hex(3), "elements": [section]}]


def _envelope(team_id: str, event: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(float(event["event_ts"])),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(12)}",
    }


def _message_event(
    kind: str, team_id: str, channel: str, user: str, text: str, ts: str, thread_ts: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team_id,
        "client_msg_id": secrets.token_hex(16),
        "blocks": rich_text_blocks(text),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    team_id: str,
    channel: str,
    user: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The Events API envelope for an `app_mention` (text should contain `<@U_BOT>`)."""
    event = _message_event("app_mention", team_id, channel, user, text, ts, thread_ts)
    return _envelope(team_id, event, event_id)


def dm_message_event(
    team_id: str,
    channel: str,
    user: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The Events API envelope for a user's message in a DM with the bot."""
    event = _message_event("message", team_id, channel, user, text, ts, thread_ts)
    event["channel_type"] = "im"
    return _envelope(team_id, event, event_id)


def slash_command(
    team_id: str,
    channel: str,
    user: str,
    command: str,
    text: str,
    *,
    emulator_url: str,
    trigger_id: str | None = None,
) -> str:
    """The form-encoded body Slack posts for a slash command.

    `emulator_url` is the emulator's root URL (`SlackEmulator.base_url`); the
    `response_url` points at its `/response/<id>`, recorded as a "response_url" call.
    """
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "emulated",
        "channel_id": channel,
        "channel_name": channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": _response_url(emulator_url),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields)


def block_action(
    team_id: str,
    channel: str,
    user: str,
    action_id: str,
    value: str,
    message_ts: str,
    *,
    emulator_url: str,
    block_id: str = "actions",
    message_blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    selected_option: dict[str, Any] | None = None,
) -> str:
    """The form body (`payload=<json>`) Slack posts when a button in a bot message is clicked
    (or, with `selected_option`, when an option of an overflow menu is chosen)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": "",
        "ts": message_ts,
        "blocks": message_blocks or [],
    }
    if thread_ts is not None:
        container["thread_ts"] = message["thread_ts"] = thread_ts
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id, "emoji": True},
        "value": value,
        "action_ts": f"{time.time():.6f}",
    }
    if selected_option is not None:
        del action["text"], action["value"]
        action.update(type="overflow", selected_option=selected_option)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": "emulated"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": _response_url(emulator_url),
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)})


def home_block_action(
    team_id: str,
    user: str,
    action_id: str,
    value: str,
    view: dict[str, Any],
    *,
    emulator_url: str,
    block_id: str = "actions",
    selected_option: dict[str, Any] | None = None,
) -> str:
    """The form body Slack posts when a button in the user's App Home is clicked: a view
    container and the published view, with neither channel nor message."""
    form = block_action(
        team_id,
        "",
        user,
        action_id,
        value,
        "",
        emulator_url=emulator_url,
        block_id=block_id,
        selected_option=selected_option,
    )
    payload = json.loads(parse_qs(form)["payload"][0])
    del payload["channel"], payload["message"]
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = view
    return urlencode({"payload": json.dumps(payload)})


def _response_url(emulator_url: str) -> str:
    return f"{emulator_url.rstrip('/')}/response/{secrets.token_hex(8)}"


def view_submission(
    team_id: str, user: str, view: dict[str, Any], values: dict[str, str | None]
) -> str:
    """The form body Slack posts when a modal is submitted; `values` maps each input's
    block_id to what the user typed (the input's action_id is assumed equal to its block_id)."""
    state = {
        block_id: {block_id: {"type": "plain_text_input", "value": value}}
        for block_id, value in values.items()
    }
    submitted = {**view, "state": {"values": state}}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "emulated"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)})


def app_home_opened_event(team_id: str, user: str, tab: str = "home") -> dict[str, Any]:
    """The Events API envelope Slack sends when someone opens the app's Home tab."""
    now = f"{time.time():.6f}"
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D{secrets.token_hex(4).upper()}",
        "tab": tab,
        "event_ts": now,
    }
    return _envelope(team_id, event, None)


def assistant_thread_started_event(
    team_id: str, user: str, channel: str, thread_ts: str, *, context_channel: str | None = None
) -> dict[str, Any]:
    """The Events API envelope Slack sends when someone starts a thread in the assistant
    container (`channel` is their DM with the app; `context_channel` the one they were
    viewing, when Slack knows it)."""
    context: dict[str, Any] = {"team_id": team_id, "enterprise_id": None}
    if context_channel is not None:
        context["channel_id"] = context_channel
    event = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": context,
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": f"{time.time():.6f}",
    }
    return _envelope(team_id, event, None)


def message_action(
    team_id: str,
    channel: str,
    user: str,
    callback_id: str,
    message: dict[str, Any],
    *,
    emulator_url: str,
) -> str:
    """The form body (`payload=<json>`) Slack posts when a message shortcut is used on
    `message` (as conversations.history shows it: type, user, text, ts, thread_ts)."""
    payload = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "emulated"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "channel": {"id": channel, "name": channel.lower()},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
        "response_url": _response_url(emulator_url),
        "message_ts": message["ts"],
        "message": message,
    }
    return urlencode({"payload": json.dumps(payload)})
