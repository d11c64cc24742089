"""`/ai-suggest` after the ack: whose suggestions to show, answered ephemerally through the
command's response_url (works in any channel, bot member or not)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from agents.suggestions.team import is_manager, own_view, team_view
from bot.blocks import notice
from bot.services import Services
from bot.slash_reply import Reply, reply_ephemerally
from bot.suggest_blocks import HELP, home_suggestion_blocks, own_blocks, suggest_text, team_blocks
from storage.types import utcnow
from storage.uow import UnitOfWork

SUGGEST_COMMAND = "suggest_command"
NOT_MANAGER = "Team summaries are for managers and admins; here are yours."


def register_suggest_command(services: Services) -> None:
    """Make `/ai-suggest` runnable by name."""
    services.runner.register(SUGGEST_COMMAND, lambda p: run_suggest_command(services, p))


def suggest_payload(command: dict[str, Any]) -> dict[str, Any]:
    """The job payload of one `/ai-suggest` (plain JSON)."""
    return {
        "team_id": command["team_id"],
        "user": command["user_id"],
        "text": (command.get("text") or "").strip().lower(),
        "response_url": command["response_url"],
    }


def run_suggest_command(services: Services, payload: dict[str, Any]) -> None:
    """Answer one `/ai-suggest` ephemerally."""
    reply_ephemerally(payload["response_url"], "/ai-suggest", lambda: answer(services, payload))


def answer(services: Services, payload: dict[str, Any]) -> Reply:
    """The reply to one `/ai-suggest` command text."""
    wanted = payload["text"]
    if wanted not in ("", "mine", "team"):
        return _notice(HELP if wanted == "help" else f"I don't know `{wanted[:40]}`.\n{HELP}")
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        user = uow.orgs.user_by_slack_id(org.id, payload["user"]) if org else None
        if user is None:
            return _notice("You aren't linked to anyone in the CRM yet, so nothing is yours.")
        if wanted == "mine" or (wanted == "" and not is_manager(user)):
            view = own_view(uow, user)
            return suggest_text(view), own_blocks(view)
        if not is_manager(user):
            view = own_view(uow, user)
            return suggest_text(view), _notice(NOT_MANAGER)[1] + own_blocks(view)
        team = team_view(uow, user, now=utcnow())
    return suggest_text(team), team_blocks(team)


def home_section(services: Services, team_id: str, slack_user_id: str) -> list[Block]:
    """App Home's suggestions: the viewer's top ones with buttons; a manager's team line."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(team_id)
        user = uow.orgs.user_by_slack_id(org.id, slack_user_id) if org else None
        if user is None:
            return []
        mine = own_view(uow, user)
        team = team_view(uow, user, now=utcnow(), limit=0) if is_manager(user) else None
    return home_suggestion_blocks(mine, team)


def _notice(text: str) -> Reply:
    return text, notice(text)
