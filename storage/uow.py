"""Unit of work: owns one session and commits once, at the boundary. Repositories never commit."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from storage.repositories import (
    AuditRepository,
    BudgetRepository,
    ChannelSettingsRepository,
    ClaimRepository,
    ConversationRepository,
    CrmRepository,
    DraftRepository,
    LedgerRepository,
    OrgRepository,
    SuggestionRepository,
    UsageRepository,
)


class UnitOfWork:
    """`with UnitOfWork(factory) as uow: ...; uow.commit()`; leaving without commit rolls back."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def __enter__(self) -> Self:
        self.session = self._factory()
        self.orgs = OrgRepository(self.session)
        self.crm = CrmRepository(self.session)
        self.conversations = ConversationRepository(self.session)
        self.channels = ChannelSettingsRepository(self.session)
        self.drafts = DraftRepository(self.session)
        self.ledger = LedgerRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.usage = UsageRepository(self.session)
        self.budgets = BudgetRepository(self.session)
        self.claims = ClaimRepository(self.session)
        self.suggestions = SuggestionRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches objects without expiring
        # them, so values loaded inside the unit stay readable after it.
        self.session.close()

    def commit(self) -> None:
        """Make everything done in this unit durable, all or nothing."""
        self.session.commit()

    def flush(self) -> None:
        """Send pending changes so generated ids are known, without committing."""
        self.session.flush()
