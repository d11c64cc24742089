"""Budget alerts in the admin channel: one message when a budget passes its alert threshold and
one when it is hit, per budget and period, however many processes see the crossing.

The budget guard reports a crossing once per process, on the thread of the call that crossed;
it only queues a job here (the payload is plain JSON). The job claims (org, "budget_alert",
the crossing's key) in its own committed transaction and only the winner posts. As with the
digest, a failed post is logged and kept as the claim's result, not retried.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from agents.metering.budgets import Crossing
from bot.digest import failure_reason, scheduler_id
from bot.digest_blocks import alert_blocks, alert_text
from bot.services import Services
from storage.models import BudgetMetric
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

BUDGET_ALERT = "budget_alert"  # the claim kind
POST_BUDGET_ALERT = "post_budget_alert"  # the job


def register_alert_jobs(services: Services) -> None:
    """Register the alert job and have the budget guard queue it on every crossing."""
    services.runner.register(POST_BUDGET_ALERT, lambda p: _post_quietly(services, p))

    def queue(crossing: Crossing) -> None:
        try:
            services.runner.defer(POST_BUDGET_ALERT, crossing_payload(crossing))
        except RuntimeError:  # shutting down; the call itself must not fail over an alert
            log.warning("budget alert %s not queued: the runner is stopping", crossing.key)

    services.budgets.on_crossing = queue


def _post_quietly(services: Services, payload: dict[str, Any]) -> None:
    post_budget_alert(services, payload)


def crossing_payload(crossing: Crossing) -> dict[str, Any]:
    """The crossing as JSON-serialisable job payload."""
    return {
        "org_id": crossing.org_id,
        "budget": crossing.budget,
        "key": crossing.key,
        "threshold_pct": crossing.threshold_pct,
        "used": crossing.used,
        "limit": crossing.limit,
        "metric": crossing.metric.value,
        "resets_at": crossing.resets_at.isoformat(),
    }


def crossing_from_payload(payload: dict[str, Any]) -> Crossing:
    """The inverse of `crossing_payload`."""
    return Crossing(
        org_id=int(payload["org_id"]),
        budget=str(payload["budget"]),
        key=str(payload["key"]),
        threshold_pct=int(payload["threshold_pct"]),
        used=int(payload["used"]),
        limit=int(payload["limit"]),
        metric=BudgetMetric(payload["metric"]),
        resets_at=datetime.fromisoformat(payload["resets_at"]),
    )


def post_budget_alert(services: Services, payload: dict[str, Any]) -> bool:
    """Post the alert unless someone already claimed it; True when this call posted it."""
    crossing = crossing_from_payload(payload)
    channel = services.admin_channel(crossing.org_id)
    if not channel:
        log.info("no admin channel (COUNTERSIGN_ADMIN_CHANNEL): budget alert %s", crossing.key)
        return False
    with UnitOfWork(services.factory) as uow:
        won = uow.claims.claim(crossing.org_id, BUDGET_ALERT, crossing.key, by=scheduler_id())
        uow.commit()
    if not won:
        log.debug("budget alert %s was already claimed", crossing.key)
        return False
    now = utcnow()
    try:
        posted = services.slack_for_org(crossing.org_id).chat_postMessage(
            channel=channel,
            text=alert_text(crossing, now=now),
            blocks=alert_blocks(crossing, now=now),
        )
        result = f"posted {posted['ts']}"
    except Exception as exc:  # the job boundary: the claim must record why nothing was posted
        log.exception("budget alert %s could not be posted and will not be retried", crossing.key)
        result = f"failed: {failure_reason(exc)}"
    with UnitOfWork(services.factory) as uow:
        uow.claims.finish(crossing.org_id, BUDGET_ALERT, crossing.key, result=result, at=utcnow())
        uow.commit()
    return result.startswith("posted")
