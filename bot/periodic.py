"""The periodic tasks, one schedule for both engines: `countersign serve` runs it in embedded
mode, `countersign worker` in production (where each period runs once across all workers).

Suggestion scan and retention purge are scheduled by name; until their bodies are registered
(`services.runner.register(SCAN_SUGGESTIONS, ...)` in `bot.jobs.register_jobs`, before this
runs), each period logs that there is nothing to run."""

from __future__ import annotations

import logging
from typing import Any

from bot.digest import schedule_digests
from bot.draft_jobs import EXPIRE_DRAFTS
from bot.runner import Task, TaskRunner
from bot.services import Services
from bot.settings import SettingsError

log = logging.getLogger(__name__)

SCAN_SUGGESTIONS = "scan_suggestions"
PURGE_RETENTION = "purge_retention"


def schedule_periodic(services: Services) -> None:
    """Draft expiry, the digest tick, the suggestion scan and the retention purge."""
    runner, settings = services.runner, services.settings
    for name in (SCAN_SUGGESTIONS, PURGE_RETENTION):
        if not runner.registered(name):
            runner.register(name, _no_body(name))
    _every(runner, settings.drafts.sweep_seconds, EXPIRE_DRAFTS, "COUNTERSIGN_DRAFT_SWEEP_SECONDS")
    _every(
        runner,
        settings.jobs.suggestion_scan_seconds,
        SCAN_SUGGESTIONS,
        "COUNTERSIGN_SUGGEST_SCAN_SECONDS",
    )
    _every(
        runner,
        settings.jobs.retention_purge_seconds,
        PURGE_RETENTION,
        "COUNTERSIGN_RETENTION_PURGE_SECONDS",
    )
    schedule_digests(services)


def _every(runner: TaskRunner, seconds: float, task: str, setting: str) -> None:
    try:
        runner.every(seconds, task)
    except ValueError as exc:  # the job engine's periods follow the clock
        raise SettingsError(f"{setting}: {exc}") from None


def _no_body(name: str) -> Task:
    def nothing_yet(_payload: dict[str, Any]) -> None:
        log.info("periodic task %s has no body registered yet: nothing to do", name)

    return nothing_yet
