"""Closed vocabularies stored as short strings."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person may do: reps ask, managers approve, admins also see cost."""

    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    PROSPECT = "prospect"
    INACTIVE = "inactive"
    CHURNED = "churned"


class DealStage(StrEnum):
    LEAD = "lead"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class CallStatus(StrEnum):
    """Outcome of one model call as recorded in the usage ledger."""

    OK = "ok"
    ERROR = "error"
    CACHED = "cached"


class DraftStatus(StrEnum):
    """pending → approved → executed | failed (retryable); pending → rejected | expired."""

    PENDING = "pending"
    APPROVED = "approved"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class DraftKind(StrEnum):
    """What an approved draft does to the world."""

    EMAIL = "email"  # an email to a customer contact, over SMTP
    NOTE = "note"  # a CRM activity of kind note on the customer
    TASK = "task"  # a CRM task
    ORDER = "order"  # an order with status draft
    CUSTOMER_NOTES = "customer_notes"  # replaces the customer's account notes


class BudgetScope(StrEnum):
    """What a budget counts: the whole org, one person, one customer or one kind of request."""

    ORG = "org"
    USER = "user"
    CUSTOMER = "customer"
    REQUEST_TYPE = "request_type"


class BudgetPeriod(StrEnum):
    """The window a budget resets on, in the org's timezone (weeks start on Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class BudgetMetric(StrEnum):
    """Spend in micro-USD, or the number of model calls."""

    COST = "cost"
    REQUESTS = "requests"


class SuggestionRule(StrEnum):
    """Which condition raised a suggestion (storage/repositories/suggestion_rules.py)."""

    SILENT_ACCOUNT = "silent_account"
    STALE_DEAL = "stale_deal"
    OVERDUE_TASK = "overdue_task"
    OVERDUE_INVOICE = "overdue_invoice"
    UPSELL = "upsell"


class SuggestionStatus(StrEnum):
    """open → accepted | dismissed | snoozed by a person, or → resolved by a scan that no longer
    finds the condition. A scan reopens a resolved one at once, a snoozed one after
    `snoozed_until`, a dismissed or accepted one after its quiet period."""

    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
