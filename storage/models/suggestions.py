"""Suggestions: what the scan thinks a rep should do next, and what people decided about them.

One row per fingerprint (customer + rule + subject) and org, for good: a scan refreshes it while
the condition holds, resolves it when the condition goes away and reopens it when the
condition returns, unless a person's decision keeps it quiet (dismissed: for a period;
snoozed: until `snoozed_until`). Every decision is also kept in `suggestion_decision`,
so acceptance rates survive a suggestion being reopened.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.columns import BIG_ID, str_enum
from storage.models.enums import DraftKind, SuggestionRule, SuggestionStatus

ORG_FK = "org.id"
USER_FK = "app_user.id"


class Suggestion(Base):
    """A nudge-worthy condition on one customer.

    `owner_id` is the rep to nudge: the deal's owner for a stale deal and the task's assignee
    for an overdue task (the person who can act), else — and when those are unset — the
    customer's owner. NULL when nobody owns it: it then shows only in team summaries.
    `subject` is the id of the deal, task or invoice the rule is about ("" for account-level
    rules: silent account, upsell); the rule says which table it is in.

    Built for a scan that rewrites every open row each time (bench/suggestions.py):
    - `org_id` and `owner_id` have no foreign key, on purpose. Both are copied from the CRM by
      each scan, which writes up to one row per open deal, task and invoice; their per-row
      referential checks were two thirds of a first scan's time at 100 k customers. Deleting
      an org still removes its suggestions (through the customer's cascade), and a scan
      rewrites `owner_id` from the CRM, whose own keys null a deleted user.
    - No index contains `priority_score`, `last_seen_at` or `updated_at`, and pages are half
      filled on PostgreSQL, so refreshing an open row is a HOT update (no index writes). A
      rep's open suggestions are few enough to sort by score after the index finds them.
    """

    __tablename__ = "suggestion"
    __table_args__ = (
        UniqueConstraint("org_id", "fingerprint"),
        # A rep's (or a team's) open suggestions: the nudge job, /ai-suggest, App Home.
        Index("ix_suggestion_org_status_owner", "org_id", "status", "owner_id"),
        # The scan's resolve step: the open suggestions of one rule.
        Index("ix_suggestion_org_status_rule", "org_id", "status", "rule"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[SuggestionRule] = mapped_column(str_enum(SuggestionRule))
    subject: Mapped[str] = mapped_column(String(40), default="")
    fingerprint: Mapped[str] = mapped_column(String(100))
    priority_score: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str] = mapped_column(Text)
    proposed_action: Mapped[DraftKind] = mapped_column(str_enum(DraftKind))
    status: Mapped[SuggestionStatus] = mapped_column(
        str_enum(SuggestionStatus), default=SuggestionStatus.OPEN
    )
    snoozed_until: Mapped[datetime | None]
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    # The draft an Accept started, once the drafting flow has made it.
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("draft.id", ondelete="SET NULL"))
    # When this occurrence opened (reset on every reopen) and when a scan last confirmed it.
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    nudged_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SuggestionDecision(Base):
    """One person's Accept, Dismiss or Snooze: the history behind acceptance rates."""

    __tablename__ = "suggestion_decision"
    __table_args__ = (Index("ix_suggestion_decision_org_decided", "org_id", "decided_at"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestion.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[SuggestionRule] = mapped_column(str_enum(SuggestionRule))
    decision: Mapped[SuggestionStatus] = mapped_column(str_enum(SuggestionStatus))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[datetime | None]
