"""@mentions in channels and direct messages: queue the question, then ack."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.questions import ANSWER_QUESTION, question_payload
from bot.runner import JobRunner
from bot.services import Services
from storage.uow import UnitOfWork

_MENTION = re.compile(r"<@[A-Za-z0-9_]+(\|[^>]*)?>")
# Message subtypes that are not a person writing something new.
_IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join"}


def strip_mentions(text: str) -> str:
    """The question without the @bot mention(s)."""
    return _MENTION.sub("", text).strip()


def on_app_mention(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], runner: JobRunner
) -> None:
    """Answer in the thread the mention was made in (or start one under it)."""
    root = event.get("thread_ts") or event["ts"]
    _queue(runner, body, event, thread_ts=root, reply_thread_ts=root)
    ack()  # after the job is queued: if queuing fails Slack gets an error and retries


def on_message(
    ack: Ack,
    body: dict[str, Any],
    event: dict[str, Any],
    context: BoltContext,
    runner: JobRunner,
    services: Services,
) -> None:
    """A DM: top-level messages form one running conversation; threads are their own.
    In a channel: a reply in a thread the bot is part of, when the channel allows follow-ups."""
    from_person = not event.get("bot_id") and event.get("subtype") not in _IGNORED_SUBTYPES
    if event.get("channel_type") == "im" and from_person:
        thread = event.get("thread_ts")
        _queue(runner, body, event, thread_ts=thread or "", reply_thread_ts=thread)
    elif from_person and _is_follow_up(event, context, services, body["team_id"]):
        root = event["thread_ts"]
        _queue(runner, body, event, thread_ts=root, reply_thread_ts=root)
    ack()


def _is_follow_up(
    event: dict[str, Any], context: BoltContext, services: Services, team_id: str
) -> bool:
    """A thread reply without an @mention of the bot (that one comes as app_mention), in a
    thread the bot has a conversation in, where the channel's follow-ups are on. One indexed
    lookup, and only for thread replies."""
    root = event.get("thread_ts")
    if not root or root == event.get("ts") or f"<@{context.bot_user_id}" in event.get("text", ""):
        return False
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(team_id)
        if org is None or not uow.conversations.exists(org.id, event["channel"], root):
            return False
        setting = uow.channels.get(org.id, event["channel"])
    return setting is None or setting.follow_ups


def _queue(
    runner: JobRunner,
    body: dict[str, Any],
    event: dict[str, Any],
    *,
    thread_ts: str,
    reply_thread_ts: str | None,
) -> None:
    runner.defer(
        ANSWER_QUESTION,
        question_payload(
            team_id=body["team_id"],
            channel=event["channel"],
            user=event["user"],
            text=strip_mentions(event.get("text", "")),
            delivery_id=body["event_id"],
            thread_ts=thread_ts,
            reply_thread_ts=reply_thread_ts,
        ),
    )
