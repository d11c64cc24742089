"""Drafts: what the AI proposes. Nothing happens until a person approves one exact version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped
from storage.models.columns import BIG_ID, str_enum
from storage.models.enums import DraftKind, DraftStatus
from storage.types import utcnow

USER_FK = "app_user.id"
DRAFT_FK = "draft.id"


class Draft(Timestamped, Base):
    """The current version of a proposal and where it stands.

    Every state change is one compare-and-set UPDATE on (id, status, version), so two clicks
    can never both win; `payload` is the current version's content and `content_hash` its hash.
    """

    __tablename__ = "draft"
    __table_args__ = (
        Index("ix_draft_org_status", "org_id", "status"),
        Index("ix_draft_requested_by_status", "requested_by_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL")
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    kind: Mapped[DraftKind] = mapped_column(str_enum(DraftKind))
    status: Mapped[DraftStatus] = mapped_column(str_enum(DraftStatus), default=DraftStatus.PENDING)
    version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    # How it was produced (the cost is the whole run's, written when the run ends).
    agent: Mapped[str] = mapped_column(String(40))
    prompt_version: Mapped[str] = mapped_column(String(60))
    model: Mapped[str] = mapped_column(String(100))
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BIG_ID, default=0)
    # Where its card lives.
    channel_id: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    # The decision and the execution.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)
    executed_at: Mapped[datetime | None]
    execution_error: Mapped[str | None] = mapped_column(Text)
    execution_result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # On approval: the diff between the model's first text and what was approved.
    approved_diff: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DraftVersion(Base):
    """Every content version of a draft: the model's first, each edit, each regeneration."""

    __tablename__ = "draft_version"
    __table_args__ = (UniqueConstraint("draft_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey(DRAFT_FK, ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))  # model | edit | regenerate
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftExecution(Base):
    """The claim that makes an approved version run at most once.

    Its idempotency key is unique per draft version; a retry after a failure reuses the row
    (failed → running) instead of inserting a second one.
    """

    __tablename__ = "draft_execution"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey(DRAFT_FK, ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # running | done | failed | retry
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
