"""Suggestion jobs: the periodic scan (rules, then each rep's nudge, paced per channel), and
the decision on a nudge (bot/suggestion_decisions.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from agents.suggestions.nudges import NUDGE, RENUDGE_DAYS, Nudge, claim_nudges, release
from bot.digest import scheduler_id
from bot.nudge_blocks import nudge_blocks, nudge_text
from bot.periodic import SCAN_SUGGESTIONS
from bot.services import Services
from bot.suggestion_decisions import DECIDE_SUGGESTION, decide
from storage.cache import StoreUnavailable
from storage.limits.ratelimit import RateLimiter
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


def register_suggestion_jobs(services: Services) -> None:
    """The scan's body and the decision job."""
    services.runner.register(SCAN_SUGGESTIONS, lambda _p: _scan_job(services))
    services.runner.register(DECIDE_SUGGESTION, lambda p: decide(services, p))


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
        org_ids = [org.id for org in uow.orgs.installed()]
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
    slack = services.slack_for_org(org_id)
    with UnitOfWork(services.factory) as uow:
        owners = uow.suggestions.owners_to_nudge(org_id, not_nudged_since=since)
        for owner_id in owners:
            user = uow.orgs.user(org_id, owner_id)
            if user is None or user.slack_user_id:
                continue
            try:
                found = slack.users_lookupByEmail(email=user.email)["user"]["id"]
            except SlackApiError as exc:  # not in this workspace (users_not_found), or no scope
                log.info("no Slack account for user %s: %s", user.id, exc.response.get("error"))
                continue
            if uow.orgs.user_by_slack_id(org_id, found) is None:
                user.slack_user_id = found
        uow.commit()


def send_nudge(services: Services, nudge: Nudge) -> str | None:
    """Post one nudge, paced per channel; on failure give the claim back. Its ts, or None."""
    # One channel id can't name a channel in every workspace: with OAuth installs, nudges DM.
    multi = services.settings.slack.multi_workspace
    channel = None if multi else services.settings.suggest.nudge_channel
    target = channel or nudge.slack_user_id  # a user id as channel: the app's DM with them
    limiter, interval = (
        services.rate_limits.limiter,
        services.settings.suggest.channel_interval_seconds,
    )
    wait_for_turn(limiter, target, interval)
    try:
        response = services.slack_for_org(nudge.org_id).chat_postMessage(
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
