"""👍/👎 on answers."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.actions import ActionId, FeedbackValue
from bot.jobs import RECORD_FEEDBACK
from bot.runner import JobRunner


def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], runner: JobRunner) -> None:
    """Queue the rating; the job records it and thanks the user."""
    value = FeedbackValue.model_validate_json(action["value"])
    runner.defer(
        RECORD_FEEDBACK,
        {
            "team_id": body["team"]["id"],
            "user": body["user"]["id"],
            "channel": body["channel"]["id"],
            "message_ts": body.get("message", {}).get("ts"),
            "conversation_id": value.conversation_id,
            "rating": "up" if action["action_id"] == ActionId.FEEDBACK_UP else "down",
        },
    )
    ack()
