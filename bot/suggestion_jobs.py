"""Suggestion jobs: the periodic scan (rules, then each rep's nudge), and a person's decision
on a nudge (Accept starts the drafting flow in the nudge's thread)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from agents.suggestions.nudges import NUDGE, RENUDGE_DAYS, Nudge, claim_nudges, nudge_of, release
from bot.digest import scheduler_id
from bot.nudge_blocks import nudge_blocks, nudge_text
from bot.periodic import SCAN_SUGGESTIONS
from bot.questions import ANSWER_QUESTION, question_payload
from bot.services import Services
from storage.cache import StoreUnavailable
from storage.limits.ratelimit import RateLimiter
from storage.models import Role, Suggestion, User
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

DECIDE_SUGGESTION = "decide_suggestion"


def register_suggestion_jobs(services: Services) -> None:
    """The scan's body and the decision job."""
    services.runner.register(SCAN_SUGGESTIONS, lambda _p: _scan_job(services))
    services.runner.register(DECIDE_SUGGESTION, lambda p: decide(services, p))


# --- the scan and the nudges ----------------------------------------------------------------


def _scan_job(services: Services) -> None:
    reports = scan_all(services)
    log.info(
        "suggestion scan: %s open suggestions, %s nudges in %s orgs",
        sum(r.open for r in reports.values()),
        sum(r.nudged for r in reports.values()),
        len(reports),
    )


@dataclass(frozen=True)
class ScanReport:
    """One org's scan: open suggestions after it, and nudges posted."""

    open: int
    nudged: int


def scan_all(
    services: Services, *, now: datetime | None = None, anytime: bool = False
) -> dict[int, ScanReport]:
    """Scan every org, then send its due nudges (`anytime`: outside working hours too)."""
    now = now or utcnow()
    with UnitOfWork(services.factory) as uow:
        org_ids = [org.id for org in uow.orgs.all()]
    reports = {}
    for org_id in org_ids:
        try:
            reports[org_id] = scan_org(services, org_id, now=now, anytime=anytime)
        except Exception:  # one org's failure must not keep the others' reps waiting
            log.exception("suggestion scan of org %s failed", org_id)
    return reports


def scan_org(
    services: Services, org_id: int, *, now: datetime, anytime: bool = False
) -> ScanReport:
    """One org: the rules (one transaction), then its nudges (claimed, then posted)."""
    settings = services.settings.suggest
    with UnitOfWork(services.factory) as uow:
        result = uow.suggestions.scan(org_id, now=now, thresholds=settings.thresholds())
        uow.commit()
    link_owners(services, org_id, now=now)
    with UnitOfWork(services.factory) as uow:
        nudges = claim_nudges(
            uow, org_id, now=now, settings=settings, by=scheduler_id(), anytime=anytime
        )
        uow.commit()
    posted = [send_nudge(services, nudge) for nudge in nudges]
    return ScanReport(open=result.open, nudged=sum(ts is not None for ts in posted))


def link_owners(services: Services, org_id: int, *, now: datetime) -> None:
    """Find in Slack, by email, the reps with suggestions who never talked to the bot (the
    CRM knows their email, not their Slack id): otherwise they could never be nudged."""
    since = now - timedelta(days=RENUDGE_DAYS)
    with UnitOfWork(services.factory) as uow:
        owners = uow.suggestions.owners_to_nudge(org_id, not_nudged_since=since)
        for owner_id in owners:
            user = uow.orgs.user(org_id, owner_id)
            if user is None or user.slack_user_id:
                continue
            try:
                found = services.slack.users_lookupByEmail(email=user.email)["user"]["id"]
            except SlackApiError as exc:  # not in this workspace (users_not_found), or no scope
                log.info("no Slack account for user %s: %s", user.id, exc.response.get("error"))
                continue
            if uow.orgs.user_by_slack_id(org_id, found) is None:
                user.slack_user_id = found
        uow.commit()


def send_nudge(services: Services, nudge: Nudge) -> str | None:
    """Post one nudge, paced per channel; on failure give the claim back. Its ts, or None."""
    channel = services.settings.suggest.nudge_channel
    target = channel or nudge.slack_user_id  # a user id as channel: the app's DM with them
    limiter, interval = (
        services.rate_limits.limiter,
        services.settings.suggest.channel_interval_seconds,
    )
    wait_for_turn(limiter, target, interval)
    try:
        response = services.slack.chat_postMessage(
            channel=target,
            text=nudge_text(nudge),
            blocks=nudge_blocks(nudge, mention=channel is not None),
            unfurl_links=False,
        )
    except SlackApiError as exc:
        log.warning("nudge for user %s not posted: %s", nudge.user_id, exc.response.get("error"))
        with UnitOfWork(services.factory) as uow:
            release(uow, nudge)
            uow.commit()
        return None
    # A 429 was retried inside the client after its Retry-After: the channel's turn starts
    # again from the post that got through, not from the first attempt.
    _take_turn(limiter, target, interval)
    with UnitOfWork(services.factory) as uow:
        uow.claims.finish(
            nudge.org_id, NUDGE, nudge.claim_key, result=f"posted {response['ts']}", at=utcnow()
        )
        uow.commit()
    return str(response["ts"])


def wait_for_turn(limiter: RateLimiter, channel: str, interval: float) -> None:
    """Block until this channel may take another message: one per `interval` seconds across
    every worker (the shared sliding-window limiter; Slack allows about one per second).
    With the limiter's store down, each worker keeps the pace on its own."""
    while True:
        try:
            decision = limiter.hit(_pace_key(channel), limit=1, window_seconds=interval)
        except StoreUnavailable:
            time.sleep(interval)
            return
        if decision.allowed:
            return
        time.sleep(max(decision.retry_after_seconds, 0.01))


def _take_turn(limiter: RateLimiter, channel: str, interval: float) -> None:
    try:
        limiter.hit(_pace_key(channel), limit=1, window_seconds=interval)
    except StoreUnavailable:
        pass  # wait_for_turn sleeps a whole interval then


def _pace_key(channel: str) -> str:
    return f"slack-channel-pace:{channel}"


# --- decisions ---------------------------------------------------------------------------------


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
        **extra,
    }


def decide(services: Services, payload: dict[str, Any]) -> None:
    """Accept, dismiss or snooze; tell the person if it was decided already or is not theirs."""
    now = utcnow()
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        actor = uow.orgs.user_by_slack_id(org.id, payload["user"]) if org else None
        suggestion = uow.suggestions.get(org.id, payload["suggestion_id"]) if org else None
        if org is None or actor is None or suggestion is None:
            _whisper(services, payload, "I can't find that suggestion any more.")
            return
        if not _may_decide(actor, suggestion):
            _whisper(services, payload, "Only its owner or a manager can decide on that one.")
            return
        if not _apply(uow, suggestion, actor, payload, now):
            _whisper(services, payload, f"That one was {suggestion.status.value} already.")
            return
        if payload["decision"] == "accept":
            customer = uow.crm.customer(org.id, suggestion.customer_id)
            _start_drafting(uow, services, payload, suggestion, customer.name if customer else "")
        nudge = nudge_of(uow, suggestion)
        uow.commit()
    if nudge is not None:
        _update_message(services, payload, nudge)


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
        services.slack.chat_update(
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
    services.runner.defer_in(
        uow.session,
        ANSWER_QUESTION,
        question_payload(
            team_id=payload["team_id"],
            channel=payload["channel"],
            user=payload["user"],
            text=request,
            delivery_id=f"suggestion:{s.id}:accept",
            thread_ts=payload.get("message_ts") or "",
            reply_thread_ts=payload.get("message_ts"),
            request_type="suggestion",
        ),
    )


def _article(kind: str) -> str:
    names = {"email": "an email", "note": "a CRM note", "task": "a task", "order": "an order"}
    return names.get(kind, "account notes")


def _whisper(services: Services, payload: dict[str, Any], text: str) -> None:
    if not payload.get("channel"):
        return
    try:
        services.slack.chat_postEphemeral(
            channel=payload["channel"], user=payload["user"], text=text
        )
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", payload["user"], exc.response.get("error"))
