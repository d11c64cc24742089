"""Conversations and their turns; Slack threads are never re-read, history lives here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Conversation, Message, MessageRole
from storage.repositories.upsert import insert_ignoring_conflict
from storage.types import utcnow


class ConversationRepository:
    """One row per Slack thread (or DM), with its messages."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure(self, *, org_id: int, channel_id: str, thread_ts: str) -> Conversation:
        """The conversation of a thread, created on first sight (safe under concurrency)."""
        found = self._find(org_id, channel_id, thread_ts)
        if found is not None:
            return found
        insert_ignoring_conflict(
            self.session,
            Conversation,
            {
                "org_id": org_id,
                "channel_id": channel_id,
                "thread_ts": thread_ts,
                "agent_history": [],
            },
            conflict_columns=["org_id", "channel_id", "thread_ts"],
        )
        found = self._find(org_id, channel_id, thread_ts)
        assert found is not None
        return found

    def get(self, conversation_id: int) -> Conversation:
        """A conversation by id (it must exist)."""
        found = self.session.get(Conversation, conversation_id)
        if found is None:
            raise LookupError(f"conversation {conversation_id} does not exist")
        return found

    def exists(self, org_id: int, channel_id: str, thread_ts: str) -> bool:
        """Whether the bot has a conversation in this thread (it answered or posted there)."""
        return self._find(org_id, channel_id, thread_ts) is not None

    def _find(self, org_id: int, channel_id: str, thread_ts: str) -> Conversation | None:
        return self.session.scalar(
            select(Conversation).where(
                Conversation.org_id == org_id,
                Conversation.channel_id == channel_id,
                Conversation.thread_ts == thread_ts,
            )
        )

    def recent_messages(self, conversation_id: int, *, limit: int) -> list[Message]:
        """The last `limit` turns, oldest first."""
        rows = self.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        ).all()
        return list(reversed(rows))

    def claim_turn(
        self, *, conversation_id: int, event_id: str, text: str, user_id: int | None
    ) -> Message | None:
        """Record the user's turn for a Slack delivery; None if that delivery was already taken.

        The unique (conversation, event) key makes this the job-level idempotency claim: two
        workers handed the same delivery cannot both answer it."""
        inserted = insert_ignoring_conflict(
            self.session,
            Message,
            {
                "conversation_id": conversation_id,
                "event_id": event_id,
                "role": MessageRole.USER,
                "text": text,
                "user_id": user_id,
                "offline": False,
                "created_at": utcnow(),
            },
            conflict_columns=["conversation_id", "event_id"],
        )
        if not inserted:
            return None
        return self.session.scalar(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.event_id == event_id
            )
        )

    def add_message(
        self,
        *,
        conversation_id: int,
        role: MessageRole,
        text: str,
        user_id: int | None = None,
        event_id: str | None = None,
        agent: str | None = None,
        route_reason: str | None = None,
        routed_by: str | None = None,
        offline: bool = False,
    ) -> Message:
        """Append one turn."""
        message = Message(
            conversation_id=conversation_id,
            role=role,
            text=text,
            user_id=user_id,
            event_id=event_id,
            agent=agent,
            route_reason=route_reason,
            routed_by=routed_by,
            offline=offline,
        )
        self.session.add(message)
        self.session.flush()
        return message
