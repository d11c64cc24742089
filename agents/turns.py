"""The database side of one turn: who is asking, in which conversation, with what history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from storage.models import Message, MessageRole, Role, User
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from agents.questions import Profile, Question
    from agents.triage import Route


@dataclass(kw_only=True)
class Turn:
    """Everything a run needs from the database, loaded once before any model call."""

    org_id: int
    user_id: int
    user_name: str
    user_role: Role
    conversation_id: int
    message_id: int
    active_agent: str | None
    customer_id: int | None
    customer_names: list[str]
    history: list[dict[str, Any]] = field(default_factory=list)
    route: Route | None = None


def begin_turn(
    factory: sessionmaker[Session],
    question: Question,
    *,
    profile: Callable[[], Profile | None],
    history_turns: int,
    history_tokens: int | None = None,
) -> Turn | None:
    """Claim the delivery and load the context; None when this delivery was already claimed."""
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=question.team_id)
        user = _resolve_user(uow, org.id, question.slack_user_id, profile)
        conversation = uow.conversations.ensure(
            org_id=org.id, channel_id=question.channel_id, thread_ts=question.thread_ts
        )
        history = uow.conversations.recent_messages(conversation.id, limit=history_turns)
        claimed = uow.conversations.claim_turn(
            conversation_id=conversation.id,
            event_id=question.delivery_id,
            text=question.text,
            user_id=user.id,
        )
        if claimed is None:
            return None
        turn = Turn(
            org_id=org.id,
            user_id=user.id,
            user_name=user.name,
            user_role=user.role,
            conversation_id=conversation.id,
            message_id=claimed.id,
            active_agent=conversation.active_agent,
            customer_id=conversation.customer_id,
            customer_names=uow.crm.customer_names(org.id),
            history=_bounded(as_model_messages(history), history_tokens),
        )
        uow.commit()
    return turn


def finish_turn(
    factory: sessionmaker[Session], turn: Turn, text: str, *, agent: str, offline: bool
) -> None:
    """Store the answer and the route, and remember which specialist and customer are in focus."""
    with UnitOfWork(factory) as uow:
        asked = uow.session.get(Message, turn.message_id)
        if asked is not None and turn.route is not None:
            asked.agent = turn.route.specialist
            asked.route_reason = turn.route.reason
            asked.routed_by = turn.route.routed_by
        uow.conversations.add_message(
            conversation_id=turn.conversation_id,
            role=MessageRole.ASSISTANT,
            text=text,
            agent=agent,
            offline=offline,
        )
        conversation = uow.conversations.get(turn.conversation_id)
        conversation.active_agent = agent
        conversation.agent_history = [*conversation.agent_history, agent][-20:]
        conversation.customer_id = turn.customer_id
        uow.commit()


def as_model_messages(history: list[Message]) -> list[dict[str, Any]]:
    """Stored turns as Messages API history: starts with the user, roles alternate."""
    merged: list[dict[str, Any]] = []
    for message in history:
        role = message.role.value
        if not merged and role != MessageRole.USER.value:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n\n" + message.text
        else:
            merged.append({"role": role, "content": message.text})
    if merged and merged[-1]["role"] == MessageRole.USER.value:
        merged.pop()  # an unanswered question: the new one replaces it
    return merged


CHARS_PER_TOKEN = 4  # a cheap, slightly generous estimate for English text


def trim_to_tokens(history: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """The newest whole exchanges (user then assistant) that fit `max_tokens`, so a long
    thread costs a bounded prompt; the oldest go first, and a cut never starts on a reply."""
    kept: list[dict[str, Any]] = []
    used = 0
    for i in range(len(history) - 2, -1, -2):  # pairs from the newest: [user, assistant]
        pair = history[i : i + 2]
        size = sum(len(m["content"]) for m in pair) // CHARS_PER_TOKEN + 1
        if used + size > max_tokens:
            break
        kept[:0] = pair
        used += size
    return kept


def _bounded(history: list[dict[str, Any]], max_tokens: int | None) -> list[dict[str, Any]]:
    return history if max_tokens is None else trim_to_tokens(history, max_tokens)


def _resolve_user(
    uow: UnitOfWork, org_id: int, slack_user_id: str, profile: Callable[[], Profile | None]
) -> User:
    known = uow.orgs.user_by_slack_id(org_id, slack_user_id)
    if known is not None:
        return known
    seen = profile()  # a Slack API call, made only for people we have not met
    return uow.orgs.ensure_user(
        org_id=org_id,
        slack_user_id=slack_user_id,
        email=seen.email if seen else None,
        name=seen.name if seen else slack_user_id,
        timezone=seen.timezone if seen else "UTC",
    )
