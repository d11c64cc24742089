"""Carrying out an approved draft version at most once.

A unique claim per (draft, version) is taken first. CRM kinds write in the same transaction
as the claim and the executed state, so they happen exactly once with it. An email is sent
after the claim is committed (a crash mid-send leaves the claim "running": the draft is
never sent twice, and an operator can see it). A failure marks the draft failed; only an
approver's Retry re-arms the claim."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.email import SmtpSettings
from agents.drafts.executors import (
    Execution,
    ExecutionError,
    execute_in_db,
    runs_outside_transaction,
    send_approved_email,
)
from agents.drafts.records import owner_of, record_audit
from storage.models import Draft, DraftStatus
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class DraftExecutor:
    """Runs approved drafts: CRM writes in-transaction, email over SMTP."""

    def __init__(
        self, factory: sessionmaker[Session], smtp: SmtpSettings, clock: Callable[[], datetime]
    ) -> None:
        self.factory = factory
        self.smtp = smtp
        self.clock = clock

    def execute(self, org_id: int, draft_id: int, version: int) -> None:
        """Carry out an approved version at most once; failures mark the draft failed."""
        with UnitOfWork(self.factory) as uow:
            draft = uow.drafts.get(org_id, draft_id)
            if draft is None or draft.status != DraftStatus.APPROVED or draft.version != version:
                return
            if not uow.drafts.claim_execution(draft_id, version):
                log.info("draft %s v%s already executed or executing", draft_id, version)
                return
            job = self._execution(uow, draft)
            if not runs_outside_transaction(draft.kind):
                try:
                    with uow.session.begin_nested():
                        summary = execute_in_db(uow, job)
                except (ExecutionError, ValueError, KeyError, ArithmeticError) as exc:
                    self._finish(uow, job, error=_describe(exc))
                else:
                    self._finish(uow, job, summary=summary)
                uow.commit()
                return
            uow.commit()  # the claim is durable before the email leaves
        try:
            summary = send_approved_email(self.smtp, job)
        except ExecutionError as exc:
            self._finish_in_new_unit(job, error=str(exc))
        else:
            self._finish_in_new_unit(job, summary=summary)

    def _execution(self, uow: UnitOfWork, draft: Draft) -> Execution:
        owner = owner_of(uow, draft)
        return Execution(
            draft_id=draft.id,
            version=draft.version,
            org_id=draft.org_id,
            kind=draft.kind,
            customer_id=draft.customer_id,
            requested_by_id=draft.requested_by_id,
            payload=dict(draft.payload),
            now=self.clock(),
            reply_to=owner.email if owner else None,
        )

    def _finish_in_new_unit(self, job: Execution, **result: str) -> None:
        with UnitOfWork(self.factory) as uow:
            self._finish(uow, job, **result)
            uow.commit()

    def _finish(
        self, uow: UnitOfWork, job: Execution, *, summary: str = "", error: str | None = None
    ) -> None:
        now = self.clock()
        uow.drafts.finish_execution(job.draft_id, job.version, now=now, error=error)
        draft = uow.drafts.get(job.org_id, job.draft_id)
        assert draft is not None
        attempts = draft.attempts + 1
        values: dict[str, Any] = (
            {"execution_error": error, "attempts": attempts}
            if error
            else {
                "executed_at": now,
                "execution_error": None,
                "execution_result": {"summary": summary},
                "attempts": attempts,
            }
        )
        uow.drafts.transition(
            job.org_id,
            job.draft_id,
            from_status=[DraftStatus.APPROVED],
            to_status=DraftStatus.FAILED if error else DraftStatus.EXECUTED,
            version=job.version,
            values=values,
        )
        action, result = ("draft.execution_failed", "failed") if error else ("draft.executed", "ok")
        record_audit(uow, draft, None, action, result, at=now, reason=error or summary)


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ExecutionError) else f"invalid draft content ({exc!r})"
