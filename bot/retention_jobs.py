"""The retention purge: the periodic PURGE_RETENTION task's body.

What each table loses and keeps is decided in storage/repositories/retention.py. Each batch is
its own short transaction, so a large first purge never holds long locks, and a crash midway
leaves finished batches done; a redelivered or concurrent run only finds less left to do."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.periodic import PURGE_RETENTION
from bot.services import Services
from storage.repositories.retention import RetentionRepository
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Step(Protocol):
    """One retention statement: a batch of at most `limit` rows, the number it handled."""

    def __call__(self, repo: RetentionRepository, before: datetime, /, *, limit: int) -> int: ...


@dataclass(frozen=True)
class RetentionReport:
    """Rows one purge deleted or anonymised."""

    messages: int
    drafts: int
    jobs: int


def register_retention_jobs(services: Services) -> None:
    """Give the scheduled PURGE_RETENTION task its body."""
    services.runner.register(PURGE_RETENTION, lambda _payload: _purge_job(services))


def _purge_job(services: Services) -> None:
    settings = services.settings.retention
    report = purge(services.factory, now=utcnow(), days=settings.days, batch=settings.batch_size)
    log.info(
        "retention purge (older than %s days): %s messages deleted, %s drafts anonymised, "
        "%s finished jobs deleted",
        settings.days,
        report.messages,
        report.drafts,
        report.jobs,
    )


def purge(
    factory: sessionmaker[Session], *, now: datetime, days: int, batch: int
) -> RetentionReport:
    """Delete or anonymise everything older than `days` before `now`, `batch` rows at a time."""
    before = now - timedelta(days=days)
    return RetentionReport(
        messages=_in_batches(factory, RetentionRepository.delete_messages, before, batch),
        drafts=_in_batches(factory, RetentionRepository.anonymise_drafts, before, batch),
        jobs=_in_batches(factory, RetentionRepository.delete_finished_jobs, before, batch),
    )


def _in_batches(factory: sessionmaker[Session], step: Step, before: datetime, batch: int) -> int:
    total = 0
    while True:
        with UnitOfWork(factory) as uow:
            done = step(RetentionRepository(uow.session), before, limit=batch)
            uow.commit()
        total += done
        if done < batch:
            return total
