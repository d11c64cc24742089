"""The daily cost digest in the admin channel: once per org and org-local day, however many
schedulers tick.

Whoever inserts the claim row (org, "digest", day) first — in its own committed transaction,
before any work — builds and posts; every other scheduler sees the conflict and does nothing.
A digest whose posting fails is not retried: the failure is logged and kept as the claim's
result (the CLI shows it), because a retry cannot tell "Slack never got it" from "Slack got it
and the answer was lost", and one missing digest is better than two.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from agents.costs.digest import build_digest, digest_day
from bot.cost_chart import daily_cost_png
from bot.digest_blocks import chart_title, digest_blocks, digest_fallback_text
from bot.services import Services
from storage.models import OnceClaim
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

DIGEST = "digest"  # the claim kind
RUN_DUE_DIGESTS = "run_due_digests"  # the job a scheduler tick runs
TICK_SECONDS = 60.0

Status = Literal["sent", "already_sent", "already_failed", "failed", "skipped"]


@dataclass(frozen=True)
class DigestRun:
    """What one attempt at one org's digest came to."""

    org_id: int
    day: date
    status: Status
    detail: str = ""

    def describe(self, org_name: str) -> str:
        """One line for the CLI."""
        what = f"{org_name}: digest of {self.day.isoformat()}"
        return {
            "sent": f"{what} posted ({self.detail})",
            "already_sent": f"{what} was already sent ({self.detail})",
            "already_failed": f"{what} already failed and is not retried ({self.detail})",
            "failed": f"{what} could not be posted ({self.detail})",
            "skipped": f"{what} skipped ({self.detail})",
        }[self.status]


def register_digest_jobs(services: Services) -> None:
    """Make the scheduler's tick runnable by name."""
    services.runner.register(RUN_DUE_DIGESTS, lambda _p: tick(services))


def schedule_digests(services: Services) -> None:
    """Tick every minute while serving (no admin channel: say once that the digest is off)."""
    if not services.settings.digest.admin_channel:
        log.info("COUNTERSIGN_ADMIN_CHANNEL is unset: no daily cost digest will be posted")
        return
    services.runner.every(TICK_SECONDS, RUN_DUE_DIGESTS)


def tick(services: Services) -> None:
    """One scheduler tick: post every digest that is due now."""
    for run in due_digests(services, utcnow()):
        log.info("digest of org %s for %s: %s %s", run.org_id, run.day, run.status, run.detail)


def scheduler_id() -> str:
    """Who claims: host, process and thread, for the claim row and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:100]


def due_digests(services: Services, now: datetime, *, by: str | None = None) -> list[DigestRun]:
    """For every org whose local time is past the digest time and whose digest of yesterday
    nobody has claimed yet, run it. Safe to call from any number of schedulers at once."""
    if not services.settings.digest.admin_channel:
        return []
    due_at = _digest_time(services.settings.digest.digest_time)
    runs = []
    for org_id in _org_ids(services):
        if now.astimezone(services.budgets.timezone(org_id)).time() < due_at:
            continue
        day = digest_day(now, services.budgets, org_id)
        if _claim(services, org_id, day) is None:
            runs.append(run_digest(services, org_id, day, by=by or scheduler_id(), now=now))
    return runs


def digests_now(services: Services, now: datetime, *, by: str | None = None) -> list[DigestRun]:
    """Yesterday's digest of every org, whatever the time (still once per org and day)."""
    who = by or scheduler_id()
    return [
        run_digest(services, org_id, digest_day(now, services.budgets, org_id), by=who, now=now)
        for org_id in _org_ids(services)
    ]


def run_digest(
    services: Services, org_id: int, day: date, *, by: str, now: datetime | None = None
) -> DigestRun:
    """Claim the org's digest of `day`; if this caller won, post it and note the outcome."""
    channel = services.admin_channel(org_id)
    if not channel:
        log.info("no admin channel (COUNTERSIGN_ADMIN_CHANNEL): digest of org %s skipped", org_id)
        return DigestRun(org_id, day, "skipped", "no admin channel configured")
    key = day.isoformat()
    with UnitOfWork(services.factory) as uow:
        won = uow.claims.claim(org_id, DIGEST, key, by=by)
        uow.commit()
    if not won:
        claim = _claim(services, org_id, day)
        failed = claim is not None and (claim.result or "").startswith("failed")
        return DigestRun(
            org_id, day, "already_failed" if failed else "already_sent", _claim_note(claim)
        )
    result = _post(services, channel, org_id, day, now or utcnow())
    with UnitOfWork(services.factory) as uow:
        uow.claims.finish(org_id, DIGEST, key, result=result, at=utcnow())
        uow.commit()
    return DigestRun(org_id, day, "failed" if result.startswith("failed") else "sent", result)


def _post(services: Services, channel: str, org_id: int, day: date, now: datetime) -> str:
    """Post the digest, then its chart in the digest's thread; the claim's result."""
    try:
        digest = build_digest(services.factory, services.budgets, org_id, day, now=now)
        slack = services.slack_for_org(org_id)
        posted = slack.chat_postMessage(
            channel=channel,
            text=digest_fallback_text(digest),
            blocks=digest_blocks(digest),
            unfurl_links=False,
        )
    except Exception as exc:  # the job boundary: the claim must record why nothing was posted
        log.exception("digest of org %s for %s failed and will not be retried", org_id, day)
        return f"failed: {failure_reason(exc)}"
    ts = str(posted["ts"])
    try:
        slack.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            content=daily_cost_png(digest.series, title=chart_title(digest)),
            filename=f"ai-cost-{day.isoformat()}.png",
            title=chart_title(digest),
        )
    except Exception as exc:  # the digest is out; only its chart is missing
        log.exception("chart of the digest of org %s for %s failed", org_id, day)
        return f"posted {ts}; chart failed: {failure_reason(exc)}"
    return f"posted {ts} with chart"


def failure_reason(exc: Exception) -> str:
    """Slack's error code when Slack answered, else the exception's class: short and
    free of secrets, for a claim's result."""
    response = getattr(exc, "response", None)
    error = response.get("error") if response is not None else None
    return str(error or type(exc).__name__)


def _claim(services: Services, org_id: int, day: date) -> OnceClaim | None:
    with UnitOfWork(services.factory) as uow:
        return uow.claims.get(org_id, DIGEST, day.isoformat())


def _claim_note(claim: OnceClaim | None) -> str:
    if claim is None:  # not expected: a conflict means the row exists
        return "claimed by another scheduler"
    when = f"{claim.claimed_at:%Y-%m-%d %H:%M} UTC"
    outcome = claim.result or "still being posted"
    return f"claimed by {claim.claimed_by} at {when}: {outcome}"


def _org_ids(services: Services) -> list[int]:
    with UnitOfWork(services.factory) as uow:
        return [org.id for org in uow.orgs.installed()]


def _digest_time(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes)
