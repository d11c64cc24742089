"""Drop a Slack delivery already accepted (Slack retries on slow or failed acks) — but never
the only copy: a claim that did not lead to queued work is released so the retry gets through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse

from storage.cache import ClaimStore, StoreUnavailable

log = logging.getLogger(__name__)


def delivery_id(body: dict[str, Any]) -> str | None:
    """What identifies one delivery: the event id, else the trigger of a command or click."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def dedup_middleware(store: ClaimStore, *, ttl_seconds: int) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware doing SET NX on the delivery id."""

    def dedup(
        body: dict[str, Any], context: dict[str, Any], next_: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        key = delivery_id(body)
        if key is None:
            return next_()
        try:
            fresh = store.claim(f"dedup:{key}", "accepted", ttl_seconds=ttl_seconds)
        except StoreUnavailable as exc:
            # Fail open: the job claims its turn in the database too, so no double answer.
            log.warning("dedup store unavailable, processing anyway: %s", exc)
            fresh = True
        if not fresh:
            log.info("duplicate delivery dropped: %s", key)
            return BoltResponse(status=200, body="")
        # Bolt's next() only lets the chain continue (it returns nothing), so a listener
        # failure is seen by the app's error handler, which calls release_delivery().
        context["delivery_key"] = key
        return next_()

    return dedup


def release_delivery(store: ClaimStore, context: dict[str, Any]) -> None:
    """Forget a claimed delivery whose work was not queued, so Slack's retry is processed."""
    key = context.get("delivery_key")
    if key is None:
        return
    try:
        store.delete(f"dedup:{key}")
    except StoreUnavailable:
        log.warning("could not release dedup claim %s; Slack's retry may be dropped", key)
