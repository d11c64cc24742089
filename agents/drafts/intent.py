"""What a rep asks to have drafted, read from their words (the router and offline mode)."""

from __future__ import annotations

import re

from storage.models.enums import DraftKind

_QUESTION = re.compile(
    r"^\s*(what|who|when|where|why|how|which|did|do|does|is|are|was|were|has|have|any)\b",
    re.IGNORECASE,
)
_DRAFT_VERB = re.compile(r"\b(draft|compose|redraft|write up)\b", re.IGNORECASE)
_ACTION_START = re.compile(
    r"^\s*(please\s+|can you\s+|could you\s+|pls\s+)?"
    r"(write|send|email(?! address)|e-mail|create|add|log|schedule|set up|prepare|make|"
    r"put together|ping|nudge|shoot|reply to|let (?!me |us )\S+( \S+){0,2} know|"
    # "remind me who…" is a question; "order history" a noun: neither asks for a draft.
    r"remind(?! me (who|what|which|when|where|how|why)\b)|order(?= \d| an? | some | more ))\b",
    re.IGNORECASE,
)
_DRAFT_NOUN = re.compile(
    r"\b(follow[- ]?up|check[- ]?in|reminder|e-?mail(?! address)|note)\b", re.IGNORECASE
)
_KINDS: tuple[tuple[DraftKind, re.Pattern[str]], ...] = (
    (DraftKind.CUSTOMER_NOTES, re.compile(r"\b(account|customer) notes?\b", re.IGNORECASE)),
    (DraftKind.TASK, re.compile(r"\b(task|remind(er)?|to-?do)\b", re.IGNORECASE)),
    (DraftKind.ORDER, re.compile(r"\b(order)\b", re.IGNORECASE)),
    (DraftKind.NOTE, re.compile(r"\b(note|log)\b", re.IGNORECASE)),
)
_PURPOSES = (
    ("deal_update", re.compile(r"\b(renewal|deal|proposal|progress|quote|contract)\b", re.I)),
    ("check_in", re.compile(r"\b(check[- ]?in|touch base|catch up|been a while)\b", re.I)),
)


def wants_draft(text: str) -> bool:
    """Whether the rep is asking for something to be written, not asking a question."""
    if _DRAFT_VERB.search(text) or _ACTION_START.match(text):
        return True
    return bool(_DRAFT_NOUN.search(text)) and not _QUESTION.match(text)


def draft_kind(text: str) -> DraftKind:
    """The kind of draft asked for; an email when nothing more specific is said."""
    return next((kind for kind, pattern in _KINDS if pattern.search(text)), DraftKind.EMAIL)


def email_purpose(text: str) -> str:
    """follow_up, check_in or deal_update: which email template fits the request."""
    return next((name for name, pattern in _PURPOSES if pattern.search(text)), "follow_up")
