"""Repositories: query and add, never commit (the unit of work does)."""

from storage.repositories.conversations import ConversationRepository
from storage.repositories.crm import CrmRepository
from storage.repositories.drafts import DraftRepository
from storage.repositories.ledger import AuditRepository, LedgerRepository
from storage.repositories.orgs import OrgRepository

__all__ = [
    "AuditRepository",
    "ConversationRepository",
    "CrmRepository",
    "DraftRepository",
    "LedgerRepository",
    "OrgRepository",
]
