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
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
