"""Action ids and button values: ids only, as small JSON models."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ActionId(StrEnum):
    """Every interactive element the bot renders."""

    FEEDBACK_UP = "feedback_up"
    FEEDBACK_DOWN = "feedback_down"


class FeedbackValue(BaseModel):
    """What a 👍/👎 button carries: which conversation turn it rates."""

    conversation_id: int
