"""The usage ledger and the audit log: append-only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, LLMCall


class LedgerRepository:
    """One row per model call."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, call: LLMCall) -> LLMCall:
        """Record a model call."""
        self.session.add(call)
        self.session.flush()
        return call


class AuditRepository:
    """Who did what to which subject."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: AuditEvent) -> AuditEvent:
        """Append one audit event."""
        self.session.add(event)
        self.session.flush()
        return event

    def for_subject(self, org_id: int, subject_type: str, subject_id: str) -> Sequence[AuditEvent]:
        """The history of one subject (e.g. a draft), oldest first."""
        return self.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.org_id == org_id,
                AuditEvent.subject_type == subject_type,
                AuditEvent.subject_id == subject_id,
            )
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ).all()

    def by_actor(self, org_id: int, actor_id: int, *, limit: int = 100) -> Sequence[AuditEvent]:
        """What one person did, newest first."""
        return self.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.org_id == org_id, AuditEvent.actor_id == actor_id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).all()
