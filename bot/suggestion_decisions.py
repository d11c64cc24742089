"""A person's decision on a nudge: Accept (the drafting agent drafts it in the nudge's
thread), Dismiss or Snooze; then the nudge is redrawn from the database."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from agents.suggestions.nudges import Nudge, nudge_of
from bot.draft_jobs import publish_home
from bot.nudge_blocks import nudge_blocks, nudge_text
from bot.questions import ANSWER_QUESTION, question_payload
from bot.services import Services
from storage.models import Role, Suggestion, User
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

DECIDE_SUGGESTION = "decide_suggestion"


def decision_payload(
    body: dict[str, Any], decision: str, suggestion_id: int, **extra: Any
) -> dict[str, Any]:
    """The job payload for a click on a nudge (or the Dismiss modal's submission)."""
    container = body.get("container") or {}
    return {
        "team_id": body["team"]["id"],
        "user": body["user"]["id"],
        "decision": decision,
        "suggestion_id": suggestion_id,
        "channel": container.get("channel_id") or (body.get("channel") or {}).get("id"),
        "message_ts": container.get("message_ts"),
        "home": (body.get("view") or {}).get("type") == "home",
        **extra,
    }


def decide(services: Services, payload: dict[str, Any]) -> None:
    """Accept, dismiss or snooze; tell the person if it was decided already or is not theirs.
    Slack is called only once the database work is over (but for opening the DM that a
    decision from App Home answers in)."""
    if payload.get("home"):  # answers and the accepted draft go to the person's DM
        payload = {**payload, "channel": _dm(services, payload["team_id"], payload["user"])}
    refusal, nudge = _record(services, payload)
    if refusal is not None:
        _whisper(services, payload, refusal)
    elif nudge is not None:
        _update_message(services, payload, nudge)
    if payload.get("home"):  # App Home redraws from the database, like the nudge
        publish_home(services, {"team_id": payload["team_id"], "user": payload["user"]})


def _record(services: Services, payload: dict[str, Any]) -> tuple[str | None, Nudge | None]:
    """The decision in one transaction: why it was refused, or the nudge as it now looks."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        actor = uow.orgs.user_by_slack_id(org.id, payload["user"]) if org else None
        suggestion = uow.suggestions.get(org.id, payload["suggestion_id"]) if org else None
        if org is None or actor is None or suggestion is None:
            return "I can't find that suggestion any more.", None
        if not _may_decide(actor, suggestion):
            return "Only its owner or a manager can decide on that one.", None
        if not _apply(uow, suggestion, actor, payload, utcnow()):
            return f"That one was {suggestion.status.value} already.", None
        if payload["decision"] == "accept":
            customer = uow.crm.customer(org.id, suggestion.customer_id)
            _start_drafting(uow, services, payload, suggestion, customer.name if customer else "")
        nudge = nudge_of(uow, suggestion)
        uow.commit()
    return None, nudge


def _may_decide(actor: User, suggestion: Suggestion) -> bool:
    return suggestion.owner_id == actor.id or actor.role in (Role.MANAGER, Role.ADMIN)


def _apply(
    uow: UnitOfWork, s: Suggestion, actor: User, payload: dict[str, Any], now: datetime
) -> bool:
    """The decision, compare-and-set: False when someone else decided it first."""
    decision, repo = payload["decision"], uow.suggestions
    if decision == "accept":
        return repo.accept(s.org_id, s.id, by_user_id=actor.id, at=now)
    if decision == "dismiss":
        reason = payload.get("reason")
        return repo.dismiss(s.org_id, s.id, by_user_id=actor.id, at=now, reason=reason)
    until = now + timedelta(days=int(payload.get("days", 1)))
    return repo.snooze(s.org_id, s.id, by_user_id=actor.id, at=now, until=until)


def _update_message(services: Services, payload: dict[str, Any], nudge: Nudge) -> None:
    """Redraw the nudge from the database: every item's buttons or its outcome."""
    if not (payload.get("channel") and payload.get("message_ts")):
        return
    try:
        services.slack_for(payload["team_id"]).chat_update(
            channel=payload["channel"],
            ts=payload["message_ts"],
            text=nudge_text(nudge),
            blocks=nudge_blocks(nudge, mention=services.settings.suggest.nudge_channel is not None),
        )
    except SlackApiError as exc:  # the decision stands; only the message is stale
        log.warning("nudge message not updated: %s", exc.response.get("error"))


def _start_drafting(
    uow: UnitOfWork, services: Services, payload: dict[str, Any], s: Suggestion, customer: str
) -> None:
    """Hand the suggestion to the drafting agent, in the nudge's thread: its draft card
    appears there with Approve / Edit / Reject, like any other draft. Queued in the accept's
    transaction: accepted and handed over, or neither."""
    if not payload.get("channel"):
        return
    request = f"Draft {_article(s.proposed_action.value)} for {customer}: {s.title}. {s.reasoning}"
    question = question_payload(
        team_id=payload["team_id"],
        channel=payload["channel"],
        user=payload["user"],
        text=request,
        delivery_id=f"suggestion:{s.id}:accept",
        thread_ts=payload.get("message_ts") or "",
        reply_thread_ts=payload.get("message_ts"),
        request_type="suggestion",
    )
    if not payload.get("message_ts"):  # from App Home: the request opens a DM thread
        question["open_thread"] = True
    services.runner.defer_in(uow.session, ANSWER_QUESTION, question)


def _article(kind: str) -> str:
    names = {"email": "an email", "note": "a CRM note", "task": "a task", "order": "an order"}
    return names.get(kind, "account notes")


def _dm(services: Services, team_id: str, slack_user_id: str) -> str | None:
    """The person's DM channel with the app (where an accept from App Home drafts)."""
    try:
        slack = services.slack_for(team_id)
        return str(slack.conversations_open(users=slack_user_id)["channel"]["id"])
    except SlackApiError as exc:
        log.warning("no DM with %s: %s", slack_user_id, exc.response.get("error"))
        return None


def _whisper(services: Services, payload: dict[str, Any], text: str) -> None:
    if not payload.get("channel"):
        return
    try:
        services.slack_for(payload["team_id"]).chat_postEphemeral(
            channel=payload["channel"], user=payload["user"], text=text
        )
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", payload["user"], exc.response.get("error"))
