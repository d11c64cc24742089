"""The usage ledger and the audit log: append-only."""

from __future__ import annotations

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

    def for_conversation(self, conversation_id: int) -> list[LLMCall]:
        """Every call made for one conversation, oldest first."""
        return list(
            self.session.scalars(
                select(LLMCall)
                .where(LLMCall.conversation_id == conversation_id)
                .order_by(LLMCall.id)
            )
        )


class AuditRepository:
    """Who did what to which subject."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: AuditEvent) -> AuditEvent:
        """Append one audit event."""
        self.session.add(event)
        self.session.flush()
        return event

    def for_subject(self, subject_type: str, subject_id: str) -> list[AuditEvent]:
        """The history of one subject (a draft, a message), oldest first."""
        return list(
            self.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
                .order_by(AuditEvent.id)
            )
        )
