"""Events about the workspace and its channels, as the Events API delivers them: a person's
message in a channel (thread replies included), tokens revoked, the app uninstalled."""

from __future__ import annotations

from typing import Any

from bot.emulator.payloads import _envelope, _message_event
from bot.emulator.workspace import BOT_USER_ID


def channel_message_event(
    team_id: str, channel: str, user: str, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """`message.channels`: a person writes in a public channel the bot is in."""
    event = _message_event("message", team_id, channel, user, text, ts, thread_ts)
    event["channel_type"] = "channel"
    return _envelope(team_id, event, None)


def tokens_revoked_event(
    team_id: str, *, bot_user_ids: tuple[str, ...] = (BOT_USER_ID,)
) -> dict[str, Any]:
    """`tokens_revoked`: the workspace revoked the bot's token."""
    event = {
        "type": "tokens_revoked",
        "tokens": {"oauth": [], "bot": list(bot_user_ids)},
        "event_ts": "1700000000.000100",
    }
    return _envelope(team_id, event, None)


def app_uninstalled_event(team_id: str) -> dict[str, Any]:
    """`app_uninstalled`: the workspace removed the app."""
    return _envelope(team_id, {"type": "app_uninstalled", "event_ts": "1700000000.000200"}, None)
