"""A draft as the Slack side shows it: everything a card, a modal or App Home needs, no ORM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.models.enums import DraftKind, DraftStatus

KIND_LABELS = {
    DraftKind.EMAIL: "Email",
    DraftKind.NOTE: "CRM note",
    DraftKind.TASK: "Task",
    DraftKind.ORDER: "Order draft",
    DraftKind.CUSTOMER_NOTES: "Account notes",
}


@dataclass(frozen=True)
class Person:
    """Someone named on a card: linked by Slack id when we know it."""

    name: str
    slack_user_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DraftSnapshot:
    """One version of a draft and its state.

    `subject` and `body` are the editable text of every kind (an email's subject and body, a
    task's title and details, a note's headline and text). `fields` are the kind's other facts
    as (label, value) pairs for display, e.g. ("To", "Ingrid Berg <ingrid@…>").
    """

    id: int
    version: int
    kind: DraftKind
    status: DraftStatus
    customer_name: str | None
    subject: str
    body: str
    fields: tuple[tuple[str, str], ...] = ()
    requested_by: Person | None = None
    approvers: str = "a manager"  # who may approve, in words ("a manager", "Maya or a manager")
    agent: str = ""
    model: str = ""
    tokens: int = 0
    cost_micro_usd: int = 0
    prompt_version: str = ""
    created_at: datetime
    expires_at: datetime
    decided_by: Person | None = None
    decided_at: datetime | None = None
    reject_reason: str | None = None
    executed_at: datetime | None = None
    execution_error: str | None = None
    execution_summary: str | None = None  # "sent to ingrid@halvorsen.no", "task created"
    attempts: int = 0
    channel_id: str | None = None
    thread_ts: str | None = None
    org_id: int = 0  # whose workspace the card lives in
    card_ts: str | None = None  # the card's message, once posted
    notices: tuple[str, ...] = field(default=())  # e.g. "edited by Jordan Blake (v2)"

    @property
    def kind_label(self) -> str:
        """'Email', 'CRM note', …"""
        return KIND_LABELS[self.kind]

    @property
    def open(self) -> bool:
        """Still waiting for a decision."""
        return self.status == DraftStatus.PENDING
