"""`/ai-channel`, run in a channel by an admin: how the bot behaves there.

/ai-channel                     this channel's settings
/ai-channel on | off            answer here or not
/ai-channel specialists customer,orders | all
/ai-channel follow-ups on | off answer replies in its threads without a new @mention
/ai-channel admin               post the daily cost digest and budget alerts here
"""

from __future__ import annotations

from typing import Any

from agents.specialists import SPECIALISTS
from bot.blocks import notice
from bot.services import Services
from bot.slash_reply import Reply, reply_ephemerally
from storage.models import ChannelSetting, Role
from storage.uow import UnitOfWork

CHANNEL_COMMAND = "channel_command"
HELP = (
    "`/ai-channel` shows this channel's settings · `/ai-channel on|off` · "
    "`/ai-channel specialists customer,orders|all` · `/ai-channel follow-ups on|off` · "
    "`/ai-channel admin` (cost digests and budget alerts go here)"
)
CHOOSABLE = sorted(name for name in SPECIALISTS if name != "help")


def register_channel_command(services: Services) -> None:
    services.runner.register(CHANNEL_COMMAND, lambda p: run_channel_command(services, p))


def channel_payload(command: dict[str, Any]) -> dict[str, Any]:
    return {
        "team_id": command["team_id"],
        "user": command["user_id"],
        "channel": command["channel_id"],
        "text": (command.get("text") or "").strip().lower(),
        "response_url": command["response_url"],
    }


def run_channel_command(services: Services, payload: dict[str, Any]) -> None:
    reply_ephemerally(payload["response_url"], "/ai-channel", lambda: answer(services, payload))


def answer(services: Services, payload: dict[str, Any]) -> Reply:
    """Show or change the channel's settings (changes: admins only)."""
    words = payload["text"].split()
    if words[:1] == ["help"]:
        return _say(HELP)
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        user = uow.orgs.user_by_slack_id(org.id, payload["user"]) if org else None
        if org is None or user is None or user.role != Role.ADMIN:
            return _say("Only admins can change how Countersign behaves in a channel.")
        changes = _changes(words)
        if isinstance(changes, str):
            return _say(f"{changes}\n{HELP}")
        if changes.pop("admin", False):
            org.admin_channel = payload["channel"]
        setting = (
            uow.channels.update(org.id, payload["channel"], by=payload["user"], **changes)
            if changes
            else uow.channels.get(org.id, payload["channel"])
        )
        shown = describe(setting, admin=org.admin_channel == payload["channel"])
        uow.commit()
    return _say(shown)


def _changes(words: list[str]) -> dict[str, Any] | str:
    """The settings a command asks to change, or what is wrong with it."""
    match words:
        case []:
            return {}
        case ["on" | "off" as state]:
            return {"enabled": state == "on"}
        case ["follow-ups" | "followups", "on" | "off" as state]:
            return {"follow_ups": state == "on"}
        case ["admin"]:
            return {"admin": True}
        case ["specialists", "all"]:
            return {"specialists": None}
        case ["specialists", *names] if names:
            chosen = sorted({n.strip() for n in " ".join(names).replace(",", " ").split()})
            unknown = [name for name in chosen if name not in CHOOSABLE]
            if unknown:
                known = ", ".join(CHOOSABLE)
                return f"Unknown specialist(s): {', '.join(unknown)}. Choose from {known}."
            return {"specialists": chosen}
    return f"I don't understand `{' '.join(words)[:60]}`."


def describe(setting: ChannelSetting | None, *, admin: bool) -> str:
    enabled = setting is None or setting.enabled
    specialists = setting.specialists if setting else None
    follow_ups = setting is None or setting.follow_ups
    lines = [
        f"*This channel:* Countersign is {'on' if enabled else 'off'}",
        "Specialists: " + (", ".join(specialists) if specialists else "all"),
        f"Follow-ups without a new @mention: {'on' if follow_ups else 'off'}",
    ]
    if admin:
        lines.append("Cost digests and budget alerts are posted here.")
    return "\n".join(lines)


def _say(text: str) -> Reply:
    return text, notice(text)


def channel_rules(services: Services, team_id: str, channel: str) -> ChannelSetting | None:
    """The channel's settings row (None: the defaults), detached for use after the session."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(team_id)
        setting = uow.channels.get(org.id, channel) if org else None
        if setting is not None:
            uow.session.expunge(setting)
    return setting
