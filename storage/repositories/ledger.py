"""The usage ledger and the audit log: append-only."""

from __future__ import annotations

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
