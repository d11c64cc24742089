"""`/ai <question>`: ask from anywhere; the answer opens a thread in the channel. `/ai-channel`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from agents.questions import too_long
from bot.channel_command import CHANNEL_COMMAND, channel_payload
from bot.questions import ANSWER_QUESTION, question_payload
from bot.runner import JobRunner
from bot.services import Services

USAGE = "Ask me about a customer, e.g. `/ai what's going on with Halvorsen?`"


def on_ai_command(ack: Ack, command: dict[str, Any], runner: JobRunner, services: Services) -> None:
    """Queue the question; an empty command gets the usage line, a too long one the refusal
    (before its text would be posted as the thread's root)."""
    text = (command.get("text") or "").strip()
    if not text:
        ack(text=USAGE)
        return
    if refusal := too_long(text, services.settings.agents.max_question_chars):
        ack(text=refusal)
        return
    payload = question_payload(
        team_id=command["team_id"],
        channel=command["channel_id"],
        user=command["user_id"],
        text=text,
        delivery_id=f"cmd:{command['trigger_id']}",
        thread_ts="",
        reply_thread_ts=None,
        request_type="command",
    )
    runner.defer(ANSWER_QUESTION, {**payload, "open_thread": True})
    ack(text=f"On it: _{text[:200]}_")


def on_ai_channel_command(ack: Ack, command: dict[str, Any], runner: JobRunner) -> None:
    """`/ai-channel`: queue it; the job answers ephemerally."""
    runner.defer(CHANNEL_COMMAND, channel_payload(command))
    ack()
