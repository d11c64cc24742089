"""Repositories: query and add, never commit (the unit of work does)."""

from storage.repositories.budgets import BudgetRepository, ClaimRepository
from storage.repositories.channels import ChannelSettingsRepository
from storage.repositories.conversations import ConversationRepository
from storage.repositories.crm import CrmRepository
from storage.repositories.drafts import DraftRepository
from storage.repositories.ledger import AuditRepository, LedgerRepository
from storage.repositories.orgs import OrgRepository
from storage.repositories.suggestions import SuggestionRepository
from storage.repositories.usage import UsageRepository

__all__ = [
    "AuditRepository",
    "BudgetRepository",
    "ClaimRepository",
    "ChannelSettingsRepository",
    "ConversationRepository",
    "CrmRepository",
    "DraftRepository",
    "LedgerRepository",
    "OrgRepository",
    "SuggestionRepository",
    "UsageRepository",
]
