"""What the AI side remembers: conversations, the usage ledger and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped, json_list
from storage.models.columns import BIG_ID, str_enum
from storage.models.enums import CallStatus, MessageRole
from storage.types import utcnow

ORG_FK = "org.id"
USER_FK = "app_user.id"
CUSTOMER_FK = "customer.id"
CONVERSATION_FK = "conversation.id"


class Conversation(Timestamped, Base):
    """One Slack thread (or one DM channel) and what the bot knows of it."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("org_id", "channel_id", "thread_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    # Thread root ts; "" for a DM's top level, which is one running conversation.
    thread_ts: Mapped[str] = mapped_column(String(32))
    active_agent: Mapped[str | None] = mapped_column(String(40))
    agent_history: Mapped[list[str]] = mapped_column(json_list(), default=list)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey(CUSTOMER_FK, ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Timestamped, Base):
    """One turn of a conversation, as the model saw it."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_conversation_created", "conversation_id", "created_at"),
        Index("ix_message_created", "created_at"),  # the retention purge
        UniqueConstraint("conversation_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey(CONVERSATION_FK, ondelete="CASCADE"))
    role: Mapped[MessageRole] = mapped_column(str_enum(MessageRole))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    # The Slack delivery this turn answers; unique so a redelivered event cannot add a turn.
    event_id: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(40))
    route_reason: Mapped[str | None] = mapped_column(Text)
    routed_by: Mapped[str | None] = mapped_column(String(10))
    offline: Mapped[bool] = mapped_column(default=False)


class LLMCall(Base):
    """The usage ledger: one row per model call, successful or not, with its exact cost."""

    __tablename__ = "llm_call"
    __table_args__ = (
        Index("ix_llm_call_org_created", "org_id", "created_at"),
        Index("ix_llm_call_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    on_behalf_of_user_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL")
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey(CUSTOMER_FK, ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey(CONVERSATION_FK, ondelete="SET NULL")
    )
    channel_id: Mapped[str | None] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(40))
    route: Mapped[str | None] = mapped_column(String(40))
    request_type: Mapped[str] = mapped_column(String(40))
    prompt_version: Mapped[str | None] = mapped_column(String(60))
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BIG_ID, default=0)
    # Response cache hit: the original call's cost. Prompt caching: what cache reads saved
    # net of the cache-write premium (can be negative on a write-only call).
    saved_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus))
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(100))
    # One per model call, made where the call is metered: a ledger row delivered twice (the
    # write-behind drain redelivers a batch after a crash between COMMIT and ack) is kept once.
    call_key: Mapped[str | None] = mapped_column(
        String(32), unique=True, index=True, default=lambda: uuid.uuid4().hex
    )


class AuditEvent(Base):
    """An append-only record of a decision or an action: who, what, on what, when, result."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_subject", "subject_type", "subject_id"),
        Index("ix_audit_event_actor_created", "actor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
