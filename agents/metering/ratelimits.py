"""Per-person rate limits (exact sliding windows), with the sentence a person sees when hit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from agents.metering.settings import CostSettings
from storage.cache import StoreUnavailable
from storage.limits import RateLimiter

log = logging.getLogger(__name__)


class Activity(StrEnum):
    """What is being limited."""

    CHAT = "chat"  # a question to the bot
    AGENT_RUN = "agent_run"  # a background agent task
    CONTEXT_BUILD = "context_build"  # a full customer-context build (the heaviest read)


_WHAT = {
    Activity.CHAT: "questions",
    Activity.AGENT_RUN: "background agent runs",
    Activity.CONTEXT_BUILD: "customer-context builds",
}


@dataclass(frozen=True)
class RateLimited:
    """A refused attempt: what, the limit, and when a retry will work."""

    activity: Activity
    limit: int
    window: str
    retry_after_seconds: float

    def message(self) -> str:
        """The sentence a person sees."""
        wait = max(1, round(self.retry_after_seconds))
        when = f"{wait} s" if wait < 120 else f"{round(wait / 60)} min"
        return (
            f"You've reached the limit of {self.limit} {_WHAT[self.activity]} per {self.window}. "
            f"Try again in {when}."
        )


class RateLimits:
    """The configured limits on one shared limiter."""

    def __init__(self, limiter: RateLimiter, settings: CostSettings) -> None:
        self.limiter = limiter
        self._limits = {
            Activity.CHAT: (settings.chat_per_minute, 60.0, "minute"),
            Activity.AGENT_RUN: (settings.agent_runs_per_hour, 3600.0, "hour"),
            Activity.CONTEXT_BUILD: (settings.context_builds_per_minute, 60.0, "minute"),
        }

    def check(self, activity: Activity, who: str) -> RateLimited | None:
        """Count one attempt by `who`; None when it may go ahead.

        Fails open when the limiter's store is down: rate limits smooth load, while the
        budgets (which fail closed) are what protects spend."""
        limit, seconds, window = self._limits[activity]
        try:
            decision = self.limiter.hit(
                f"{activity.value}:{who}", limit=limit, window_seconds=seconds
            )
        except StoreUnavailable as exc:
            log.warning("rate limiter unreachable, allowing %s for %s: %s", activity, who, exc)
            return None
        if decision.allowed:
            return None
        return RateLimited(activity, limit, window, decision.retry_after_seconds)
