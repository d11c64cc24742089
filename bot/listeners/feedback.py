"""👍/👎 on answers and on draft cards."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.actions import ActionId, DraftRef, FeedbackValue
from bot.jobs import RECORD_FEEDBACK
from bot.runner import JobRunner

_UP = {ActionId.FEEDBACK_UP, ActionId.DRAFT_FEEDBACK_UP}
_ON_DRAFTS = {ActionId.DRAFT_FEEDBACK_UP, ActionId.DRAFT_FEEDBACK_DOWN}


def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], runner: JobRunner) -> None:
    """Queue the rating; the job records it and thanks the user."""
    action_id = ActionId(action["action_id"])
    if action_id in _ON_DRAFTS:
        ref = DraftRef.model_validate_json(action["value"])
        subject = {"subject_type": "draft", "subject_id": str(ref.draft_id), "version": ref.version}
    else:
        value = FeedbackValue.model_validate_json(action["value"])
        subject = {"subject_type": "conversation", "subject_id": str(value.conversation_id)}
    runner.defer(
        RECORD_FEEDBACK,
        {
            "team_id": body["team"]["id"],
            "user": body["user"]["id"],
            "channel": (body.get("channel") or {}).get("id"),
            "message_ts": (body.get("message") or {}).get("ts"),
            "rating": "up" if action_id in _UP else "down",
            **subject,
        },
    )
    ack()
