"""The legacy assistant container: a new assistant thread gets the person's prompts."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.agent_view import SET_PROMPTS
from bot.runner import JobRunner


def on_assistant_thread_started(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], runner: JobRunner
) -> None:
    """Queue setting the suggested prompts on the new thread."""
    thread = event["assistant_thread"]
    runner.defer(
        SET_PROMPTS,
        {
            "team_id": body["team_id"],
            "user": thread["user_id"],
            "channel": thread["channel_id"],
            "thread_ts": thread["thread_ts"],
        },
    )
    ack()
