"""Work done after the ack: answer a question, record feedback. Payloads are plain JSON."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError

from agents.account_review import wants_review
from agents.questions import Answer, Profile, Question
from bot.access import register_access_jobs
from bot.account_review_job import run_review
from bot.agent_view import register_agent_view_jobs
from bot.answer_charts import post_charts
from bot.blocks import answer_blocks, answer_fallback_text, footer_blocks, notice, text_blocks
from bot.budget_alerts import register_alert_jobs
from bot.channel_command import channel_rules, register_channel_command
from bot.cost_jobs import register_cost_jobs
from bot.digest import register_digest_jobs
from bot.draft_jobs import post_cards, register_draft_jobs
from bot.questions import ANSWER_QUESTION
from bot.reply_stream import SlackReplyStream
from bot.retention_jobs import register_retention_jobs
from bot.services import Services
from bot.shortcuts import register_shortcut_jobs
from bot.suggest_command import register_suggest_command
from bot.suggestion_jobs import register_suggestion_jobs
from storage.models import AuditEvent
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

RECORD_FEEDBACK = "record_feedback"


def register_jobs(services: Services) -> None:
    """Make the job functions runnable by name."""
    services.runner.register(ANSWER_QUESTION, lambda p: answer_question(services, p))
    services.runner.register(RECORD_FEEDBACK, lambda p: record_feedback(services, p))
    register_draft_jobs(services)
    register_digest_jobs(services)
    register_alert_jobs(services)
    register_cost_jobs(services)
    register_suggestion_jobs(services)
    register_suggest_command(services)
    register_retention_jobs(services)
    register_agent_view_jobs(services)
    register_shortcut_jobs(services)
    register_access_jobs(services)
    register_channel_command(services)


def answer_question(services: Services, payload: dict[str, Any]) -> None:
    """Answer and post in the thread; a failure is shown to the user with an error id."""
    if payload.get("open_thread"):
        payload = _open_thread(services, payload)
    if wants_review(payload["text"]):  # a long task with its own progress message
        run_review(services, payload)
        return
    stream = None
    try:  # everything that reads the database is inside: an outage gets the error-id reply
        stream = _reply_stream(services, payload)
        question = Question(
            team_id=payload["team_id"],
            channel_id=payload["channel"],
            thread_ts=payload["thread_ts"],
            slack_user_id=payload["user"],
            text=payload["text"],
            delivery_id=payload["delivery_id"],
            request_type=payload["request_type"],
            specialists=_channel_specialists(services, payload),
            watch=stream,
        )
        answer = services.assistant.answer(question, profile=lambda: _profile(services, question))
    except Exception:  # the job boundary: tell the user, keep the traceback in the log
        error_id = uuid.uuid4().hex[:8]
        log.exception("answering failed (error id %s)", error_id)
        sorry = f"Sorry, something went wrong on my side (error id `{error_id}`)."
        if not (stream and stream.finish(text=sorry, blocks=[], answer_blocks=notice(sorry))):
            _post(services, payload, text=sorry)
        return
    if answer.duplicate:
        log.info("delivery %s already answered", question.delivery_id)
        return
    if answer.blocked:  # a rate limit or budget: only the asker needs to know
        services.slack_for(payload["team_id"]).chat_postEphemeral(
            channel=payload["channel"],
            user=payload["user"],
            thread_ts=payload["reply_thread_ts"],
            text=f":no_entry: {answer.text}",
        )
        return
    _post_answer(services, payload, answer, stream)


def _channel_specialists(services: Services, payload: dict[str, Any]) -> frozenset[str] | None:
    """The specialists `/ai-channel specialists` allows in this channel (None: all)."""
    rules = channel_rules(services, payload["team_id"], payload["channel"])
    return frozenset(rules.specialists) if rules and rules.specialists else None


def _open_thread(services: Services, payload: dict[str, Any]) -> dict[str, Any]:
    """For /ai: post the question as a thread root so the answer and follow-ups live under it."""
    root = services.slack_for(payload["team_id"]).chat_postMessage(
        channel=payload["channel"], text=f"<@{payload['user']}> asked: {payload['text'][:2900]}"
    )
    return {**payload, "thread_ts": root["ts"], "reply_thread_ts": root["ts"], "open_thread": False}


def _reply_stream(services: Services, payload: dict[str, Any]) -> SlackReplyStream | None:
    """Model answers stream into their thread (Slack streams replies only, never top level)."""
    agents = services.settings.agents
    if not agents.stream_replies or not payload.get("reply_thread_ts"):
        return None
    return SlackReplyStream(
        services.slack_for(payload["team_id"]),
        channel=payload["channel"],
        thread_ts=payload["reply_thread_ts"],
        team_id=payload["team_id"],
        user_id=payload["user"],
    )


def _post_answer(
    services: Services,
    payload: dict[str, Any],
    answer: Answer,
    stream: SlackReplyStream | None = None,
) -> None:
    streamed = stream is not None and stream.finish(
        text=answer.text, blocks=footer_blocks(answer), answer_blocks=text_blocks(answer)
    )
    if not streamed:
        _post(services, payload, text=answer_fallback_text(answer), blocks=answer_blocks(answer))
    if answer.charts:
        post_charts(
            services.slack_for(payload["team_id"]),
            channel=payload["channel"],
            thread_ts=payload["reply_thread_ts"],
            charts=answer.charts,
        )
    if answer.draft_ids:
        post_cards(
            services,
            org_id=answer.org_id,
            draft_ids=answer.draft_ids,
            channel=payload["channel"],
            thread=payload["reply_thread_ts"],
        )


def _post(
    services: Services,
    payload: dict[str, Any],
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    services.slack_for(payload["team_id"]).chat_postMessage(
        channel=payload["channel"],
        thread_ts=payload["reply_thread_ts"],
        text=text,
        blocks=blocks,
        unfurl_links=False,
    )


def _profile(services: Services, question: Question) -> Profile | None:
    """Slack's view of a person the CRM has not linked yet (email links them to a CRM user)."""
    try:
        user = services.slack_for(question.team_id).users_info(user=question.slack_user_id)["user"]
    except SlackApiError as exc:
        log.warning(
            "users.info failed for %s: %s", question.slack_user_id, exc.response.get("error")
        )
        return None
    profile = user.get("profile", {})
    return Profile(
        email=profile.get("email"),
        name=profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
        or question.slack_user_id,
        timezone=user.get("tz") or "UTC",
    )


def record_feedback(services: Services, payload: dict[str, Any]) -> None:
    """Store a 👍/👎 as an audit event and thank the user quietly."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.ensure(slack_team_id=payload["team_id"])
        actor = uow.orgs.user_by_slack_id(org.id, payload["user"])
        uow.audit.add(
            AuditEvent(
                org_id=org.id,
                actor_id=actor.id if actor else None,
                action=f"feedback.{payload['rating']}",
                subject_type=payload["subject_type"],
                subject_id=payload["subject_id"],
                result="recorded",
                detail={
                    "message_ts": payload.get("message_ts"),
                    "slack_user": payload["user"],
                    "version": payload.get("version"),
                },
            )
        )
        uow.commit()
    if payload.get("channel"):
        services.slack_for(payload["team_id"]).chat_postEphemeral(
            channel=payload["channel"],
            user=payload["user"],
            text="Thanks — your feedback was recorded.",
        )
