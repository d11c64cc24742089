"""App Home: drafts waiting for your approval, and your own pending drafts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from agents.drafts.snapshot import DraftSnapshot
from bot.draft_blocks import (
    CHANNEL_ID,
    HOME_MAX_ENTRIES,
    KIND_COPY,
    approve_button,
    context_block,
    fit,
    is_live,
    kind_title,
    person_text,
    reject_button,
    slack_date,
    state_line,
)
from storage.models.enums import DraftStatus

# --- App Home -------------------------------------------------------------------------------


def home_view(
    *,
    waiting_for_you: list[DraftSnapshot],
    your_drafts: list[DraftSnapshot],
    now: datetime,
    suggestions: list[Block] | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """App Home: drafts waiting for this person's approval (with buttons), then their own,
    then their open suggestions (drawn by bot.suggest_blocks)."""
    blocks: list[Block] = [
        HeaderBlock(text="Waiting for your approval"),
        *_home_list(
            waiting_for_you, lambda d: _waiting_entry(d, now), limit, "Nothing waiting for you."
        ),
        DividerBlock(),
        HeaderBlock(text="Your pending drafts"),
        *_home_list(
            your_drafts, lambda d: [_own_entry(d, now)], limit, "Nothing waiting on others."
        ),
    ]
    if suggestions:
        blocks += [DividerBlock(), *suggestions]
    result: dict[str, Any] = View(type="home", blocks=blocks).to_dict()
    return result


def _home_list(
    drafts: list[DraftSnapshot],
    entry: Callable[[DraftSnapshot], list[Block]],
    limit: int,
    empty: str,
) -> list[Block]:
    if not drafts:
        return [context_block(empty)]
    shown = drafts[: max(0, min(limit, HOME_MAX_ENTRIES))]
    blocks = [block for draft in shown for block in entry(draft)]
    more = len(drafts) - len(shown)
    return [*blocks, context_block(f"+{more} more")] if more else blocks


def _kind_line(draft: DraftSnapshot) -> str:
    line = f"{KIND_COPY[draft.kind].emoji} *{kind_title(draft)}*"
    if draft.customer_name:
        line = f"{line} · {fit(draft.customer_name, 300)}"
    if draft.channel_id and CHANNEL_ID.fullmatch(draft.channel_id):
        line = f"{line} · in <#{draft.channel_id}>"
    return line


def _waiting_entry(draft: DraftSnapshot, now: datetime) -> list[Block]:
    live = is_live(draft, now)
    expiry = slack_date(draft.expires_at, "expires ") if live else ":hourglass: expired"
    text = (
        f"{_kind_line(draft)}\n{fit(draft.subject, 300)}\n"
        f"Asked by {person_text(draft.requested_by)} · {expiry}"
    )
    section = SectionBlock(text=MarkdownTextObject(text=text))
    if not live:
        return [section]
    return [section, ActionsBlock(elements=[approve_button(draft), reject_button(draft)])]


def _own_entry(draft: DraftSnapshot, now: datetime) -> SectionBlock:
    if is_live(draft, now):
        approvers = fit(draft.approvers, 300)
        state = f"awaiting {approvers} · {slack_date(draft.expires_at, 'expires ')}"
    else:
        state = "expired" if draft.status == DraftStatus.PENDING else state_line(draft)
    text = f"{_kind_line(draft)} — {state}\n{fit(draft.subject, 300)}"
    return SectionBlock(text=MarkdownTextObject(text=text))
