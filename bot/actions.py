"""Action ids and button values: ids only, as small JSON models."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ActionId(StrEnum):
    """Every interactive element the bot renders."""

    FEEDBACK_UP = "feedback_up"
    FEEDBACK_DOWN = "feedback_down"
    DRAFT_APPROVE = "draft_approve"
    DRAFT_EDIT = "draft_edit"
    DRAFT_REJECT = "draft_reject"
    DRAFT_REGENERATE = "draft_regenerate"
    DRAFT_RETRY = "draft_retry"
    DRAFT_FEEDBACK_UP = "draft_feedback_up"
    DRAFT_FEEDBACK_DOWN = "draft_feedback_down"
    SUGGESTION_ACCEPT = "suggestion_accept"
    SUGGESTION_DISMISS = "suggestion_dismiss"
    SUGGESTION_SNOOZE = "suggestion_snooze"


class ViewId(StrEnum):
    """callback_id of every modal the bot opens."""

    DRAFT_EDIT = "draft_edit_modal"
    DRAFT_REJECT = "draft_reject_modal"
    DRAFT_REGENERATE = "draft_regenerate_modal"
    SUGGESTION_DISMISS = "suggestion_dismiss_modal"


class FieldId(StrEnum):
    """block_id and action_id of modal inputs (Slack returns values keyed by both)."""

    SUBJECT = "subject"
    BODY = "body"
    REASON = "reason"
    HINT = "hint"


class FeedbackValue(BaseModel):
    """What a 👍/👎 button carries: which conversation turn it rates."""

    conversation_id: int


class DraftRef(BaseModel):
    """What a draft button (or a modal's private_metadata) carries: the draft and the version
    that was shown. Approving an older version than the current one is refused."""

    draft_id: int
    version: int


class SuggestionRef(BaseModel):
    """What a nudge's buttons carry (and the dismiss modal's private_metadata): the
    suggestion, and where its nudge message is, so the decision can update it."""

    suggestion_id: int
    channel: str | None = None
    message_ts: str | None = None
    home: bool = False  # clicked in App Home, which is redrawn after the decision


class SnoozeChoice(BaseModel):
    """One option of a nudge's Snooze menu."""

    suggestion_id: int
    days: int
