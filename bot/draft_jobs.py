"""Draft work after the ack: post cards, carry out decisions, refresh cards and App Home, expire.

Every decision runs through DraftService (one compare-and-set per change); this module only
tells Slack about the outcome: the card is refreshed, the clicker hears why nothing happened,
and the thread hears about decisions that settle the draft."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from agents.drafts.service import Outcome, Result
from agents.drafts.snapshot import DraftSnapshot
from agents.questions import Regeneration
from bot.draft_blocks import decision_notice, draft_card, draft_fallback_text
from bot.home_blocks import home_view
from bot.services import Services
from bot.suggest_command import home_section
from storage.models import DraftStatus
from storage.types import utcnow

log = logging.getLogger(__name__)

DECIDE_DRAFT = "decide_draft"
PUBLISH_HOME = "publish_home"
EXPIRE_DRAFTS = "expire_drafts"

# Decisions that settle a draft, so the thread hears about them.
_SETTLING = {DraftStatus.EXECUTED, DraftStatus.FAILED, DraftStatus.REJECTED, DraftStatus.EXPIRED}


def register_draft_jobs(services: Services) -> None:
    """Make the draft jobs runnable by name."""
    services.runner.register(DECIDE_DRAFT, lambda p: decide_draft(services, p))
    services.runner.register(PUBLISH_HOME, lambda p: publish_home(services, p))
    services.runner.register(EXPIRE_DRAFTS, lambda _p: expire_drafts(services))


def decision_payload(
    *, team_id: str, user: str, action: str, draft_id: int, version: int, **extra: Any
) -> dict[str, Any]:
    """The job payload for one click or modal submission on a draft."""
    return {
        "team_id": team_id,
        "user": user,
        "action": action,
        "draft_id": draft_id,
        "version": version,
        **extra,
    }


def post_cards(
    services: Services, *, org_id: int, draft_ids: tuple[int, ...], channel: str, thread: str | None
) -> None:
    """Post one card per new draft in the thread, and remember where each card lives."""
    for draft_id in draft_ids:
        snapshot = services.drafts.snapshot(org_id, draft_id)
        if snapshot is None:
            continue
        posted = services.slack_for_org(org_id).chat_postMessage(
            channel=channel,
            thread_ts=thread,
            text=draft_fallback_text(snapshot),
            blocks=draft_card(snapshot, now=utcnow()),
            unfurl_links=False,
        )
        services.drafts.place_card(draft_id, channel_id=channel, ts=posted["ts"])


def decide_draft(services: Services, payload: dict[str, Any]) -> None:
    """Apply one decision; then update the card, tell the clicker, and notify the thread."""
    outcome = _apply(services, payload)
    draft = outcome.draft
    if draft is not None:
        _refresh_card(services, draft)
        if outcome.changed and draft.status in _SETTLING:
            _notify_thread(services, draft)
    if outcome.result != Result.DONE or payload["action"] == "regenerate":
        _tell_clicker(services, payload, outcome)
    if payload.get("from_home"):
        publish_home(services, payload)


def _apply(services: Services, payload: dict[str, Any]) -> Outcome:
    drafts = services.drafts
    who = (payload["team_id"], payload["user"], payload["draft_id"], payload["version"])
    match payload["action"]:
        case "approve":
            return drafts.approve(*who)
        case "retry":
            return drafts.retry(*who)
        case "explain":
            return drafts.explain(*who)
        case "reject":
            return drafts.reject(*who, payload.get("reason") or "")
        case "edit":
            return drafts.edit(*who, subject=payload.get("subject"), body=payload.get("body"))
        case "regenerate":
            return services.assistant.regenerate(
                Regeneration(
                    team_id=payload["team_id"],
                    slack_user_id=payload["user"],
                    draft_id=payload["draft_id"],
                    version=payload["version"],
                    hint=payload.get("hint") or "",
                )
            )
    raise ValueError(f"unknown draft action {payload['action']!r}")


def _refresh_card(services: Services, draft: DraftSnapshot) -> None:
    if not draft.channel_id or not draft.card_ts:
        return
    try:
        services.slack_for_org(draft.org_id).chat_update(
            channel=draft.channel_id,
            ts=draft.card_ts,
            text=draft_fallback_text(draft),
            blocks=draft_card(draft, now=utcnow()),
        )
    except SlackApiError as exc:  # the card may have been deleted; the decision still stands
        log.warning("could not update draft card %s: %s", draft.id, exc.response.get("error"))


def _notify_thread(services: Services, draft: DraftSnapshot) -> None:
    if not draft.channel_id:
        return
    services.slack_for_org(draft.org_id).chat_postMessage(
        channel=draft.channel_id,
        thread_ts=draft.thread_ts,
        text=decision_notice(draft),
        unfurl_links=False,
    )


def _tell_clicker(services: Services, payload: dict[str, Any], outcome: Outcome) -> None:
    """An ephemeral note where they clicked; from App Home (no channel), a DM."""
    channel = payload.get("channel") or (outcome.draft.channel_id if outcome.draft else None)
    if payload.get("from_home") or not channel:
        services.slack_for(payload["team_id"]).chat_postMessage(
            channel=payload["user"], text=outcome.message
        )
        return
    try:
        services.slack_for(payload["team_id"]).chat_postEphemeral(
            channel=channel, user=payload["user"], text=outcome.message
        )
    except SlackApiError as exc:  # not in that channel any more: a DM still reaches them
        log.info("ephemeral failed (%s); sending a DM", exc.response.get("error"))
        services.slack_for(payload["team_id"]).chat_postMessage(
            channel=payload["user"], text=outcome.message
        )


def publish_home(services: Services, payload: dict[str, Any]) -> None:
    """App Home: drafts waiting for this person's approval, their own pending ones, and
    their open suggestions."""
    waiting, own = services.drafts.home(payload["team_id"], payload["user"])
    suggestions = home_section(services, payload["team_id"], payload["user"])
    services.slack_for(payload["team_id"]).views_publish(
        user_id=payload["user"],
        view=home_view(
            waiting_for_you=waiting, your_drafts=own, suggestions=suggestions, now=utcnow()
        ),
    )


def expire_drafts(services: Services) -> None:
    """Expire drafts nobody decided on in time; their cards and threads say so."""
    for draft in services.drafts.expire_due():
        _refresh_card(services, draft)
        _notify_thread(services, draft)
