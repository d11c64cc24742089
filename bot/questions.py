"""The answer job's name and payload: shared by the listeners that ask and the jobs that
hand a question on (a nudge's Accept), without importing the job module itself."""

from __future__ import annotations

from typing import Any

ANSWER_QUESTION = "answer_question"


def question_payload(
    *,
    team_id: str,
    channel: str,
    user: str,
    text: str,
    delivery_id: str,
    thread_ts: str,
    reply_thread_ts: str | None,
    request_type: str = "chat",
) -> dict[str, Any]:
    """The job payload for one question (conversation key + where to reply)."""
    return {
        "team_id": team_id,
        "channel": channel,
        "user": user,
        "text": text,
        "delivery_id": delivery_id,
        "thread_ts": thread_ts,
        "reply_thread_ts": reply_thread_ts,
        "request_type": request_type,
    }
