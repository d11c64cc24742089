"""Block Kit for drafts: the card in the thread, its thread notices, and the pieces the modals
(bot/draft_modals.py) and App Home (bot/home_blocks.py) share.

Pure functions from `DraftSnapshot` (and `now`) to Slack JSON. Text a model or a person wrote
is passed through `sanitize()` and `escape_mrkdwn()` before it reaches mrkdwn, so a draft cannot
mention anyone, ping a channel or disguise a link on a card an approver trusts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from agents.drafts.snapshot import DraftSnapshot, Person
from agents.metering.money import usd
from bot.actions import ActionId, DraftRef
from bot.blocks import MAX_BLOCKS, sanitize
from storage.models.enums import DraftKind, DraftStatus

PREVIEW_LIMIT = 2500  # body characters shown on the card (escaped), well under SECTION_LIMIT
INPUT_LIMIT = 3000  # Slack's max_length for a plain_text_input
HEADER_LIMIT = 150
FIELD_LIMIT = 2000  # one section field
FALLBACK_LIMIT = 300
HOME_MAX_ENTRIES = 30  # per list: 6 fixed blocks + 2 x 30 + 30 stays under the 100-block home limit
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
EMPTY = "This can't be empty."


@dataclass(frozen=True)
class _Copy:
    """How a kind is worded on cards and modals."""

    emoji: str
    subject: str  # label of the subject field/input
    body: str  # label of the body input
    thing: str  # "email", "CRM note", …
    done: str  # "sent", "saved", "created"
    doing: str  # "sending", "saving", "creating"
    prep: str  # "email to Halvorsen", "task for Halvorsen", "note on Halvorsen"


KIND_COPY = {
    DraftKind.EMAIL: _Copy("✉️", "Subject", "Body", "email", "sent", "sending", "to"),
    DraftKind.NOTE: _Copy("📝", "Headline", "Note", "CRM note", "saved", "saving", "on"),
    DraftKind.TASK: _Copy("✅", "Title", "Details", "task", "created", "creating", "for"),
    DraftKind.ORDER: _Copy("🧾", "Summary", "Order lines", "order", "created", "creating", "for"),
    DraftKind.CUSTOMER_NOTES: _Copy(
        "🗒️", "Summary", "Notes", "account notes", "saved", "saving", "for"
    ),
}


# --- text helpers ---------------------------------------------------------------------------


def escape_mrkdwn(text: str) -> str:
    """Escape `&`, `<`, `>` so text shows literally: no `<@U…>`, `<!subteam^…>` or `<url|fake>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(when: datetime, prefix: str = "") -> str:
    """A `<!date^…>` token shown in the reader's time zone, with a UTC fallback text."""
    utc = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    shown = f"{prefix}{{date_short_pretty}} at {{time}}"
    return f"<!date^{int(utc.timestamp())}^{shown}|{prefix}{utc:%Y-%m-%d %H:%M} UTC>"


def _safe(text: str) -> str:
    return escape_mrkdwn(sanitize(text))


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity_safe(safe: str, cut: int) -> int:
    """Move `cut` back so it does not split an `&amp;`/`&lt;`/`&gt;` entity."""
    amp = safe.rfind("&", max(0, cut - 4), cut)
    return amp if amp >= 0 and ";" not in safe[amp:cut] else cut


def fit(text: str, limit: int) -> str:
    """`text` made safe for mrkdwn and cut with "…" to at most `limit` characters."""
    safe = _safe(text)
    if len(safe) <= limit:
        return safe
    return safe[: _entity_safe(safe, limit - 1)] + "…"


def _clip(text: str, limit: int) -> str:
    """Plain text cut with "…" to at most `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _boundary(safe: str, limit: int) -> int:
    for sep in ("\n", " "):
        cut = safe.rfind(sep, 0, limit)
        if cut > limit // 2:
            return cut
    return _entity_safe(safe, limit)


def _preview(body: str) -> tuple[str, int]:
    """The body as shown on a card, and how many characters were left out."""
    safe = _safe(body.strip())
    if len(safe) <= PREVIEW_LIMIT:
        return safe, 0
    cut = _boundary(safe, PREVIEW_LIMIT)
    return safe[:cut].rstrip(), len(_unescape(safe[cut:].strip()))


def person_text(person: Person | None, default: str = "someone") -> str:
    if person is None:
        return default
    if person.slack_user_id and _USER_ID.fullmatch(person.slack_user_id):
        return f"<@{person.slack_user_id}>"
    return fit(person.name, 200)


def kind_title(draft: DraftSnapshot) -> str:
    """'Email draft', 'Order draft', 'CRM note draft'."""
    label = draft.kind_label
    return label if label.endswith("draft") else f"{label} draft"


def is_live(draft: DraftSnapshot, now: datetime) -> bool:
    return draft.status == DraftStatus.PENDING and now < draft.expires_at


def _when(at: datetime | None) -> str:
    return f" {slack_date(at)}" if at else ""


def state_line(draft: DraftSnapshot) -> str:
    """The status in a few words: 'awaiting approval', 'sent', …"""
    copy = KIND_COPY[draft.kind]
    return {
        DraftStatus.PENDING: "awaiting approval",
        DraftStatus.APPROVED: f"approved, {copy.doing}",
        DraftStatus.EXECUTED: copy.done,
        DraftStatus.FAILED: "approved but failed",
        DraftStatus.REJECTED: "rejected",
        DraftStatus.EXPIRED: "expired",
    }[draft.status]


# --- elements -------------------------------------------------------------------------------


def ref_value(draft: DraftSnapshot) -> str:
    return DraftRef(draft_id=draft.id, version=draft.version).model_dump_json()


def context_block(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text) for text in texts[:10]])


def _button(
    draft: DraftSnapshot,
    text: str,
    action_id: ActionId,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=text, action_id=action_id, value=ref_value(draft), style=style, confirm=confirm
    )


def _approve_question(draft: DraftSnapshot) -> str:
    copy = KIND_COPY[draft.kind]
    if draft.kind == DraftKind.EMAIL:
        to = next((v for k, v in draft.fields if k.strip().lower() == "to"), None)
        return f"Send this email to {to or draft.customer_name or 'the customer'}?"
    target = f" {copy.prep} {draft.customer_name}" if draft.customer_name else ""
    return f"Approve this {copy.thing} draft{target}? It will be {copy.done} right away."


def approve_button(draft: DraftSnapshot) -> ButtonElement:
    email = draft.kind == DraftKind.EMAIL
    confirm = ConfirmObject(
        title="Approve draft?",
        text=PlainTextObject(text=_clip(_approve_question(draft), 300)),
        confirm="Approve & send" if email else "Approve",
        deny="Cancel",
        style="primary",
    )
    return _button(draft, "Approve", ActionId.DRAFT_APPROVE, "primary", confirm)


def reject_button(draft: DraftSnapshot) -> ButtonElement:
    return _button(draft, "Reject", ActionId.DRAFT_REJECT, "danger")


def _feedback_buttons(draft: DraftSnapshot) -> list[ButtonElement]:
    return [
        _button(draft, ":+1:", ActionId.DRAFT_FEEDBACK_UP),
        _button(draft, ":-1:", ActionId.DRAFT_FEEDBACK_DOWN),
    ]


# --- the card -------------------------------------------------------------------------------


def draft_card(draft: DraftSnapshot, *, now: datetime) -> list[dict[str, Any]]:
    """The card posted in the thread: what the draft says, who asked, and what can be done."""
    blocks: list[Block] = [
        _header(draft),
        _fields(draft),
        *_body(draft, now),
        _meta(draft),
        *_notices(draft),
        *_status(draft, now),
    ]
    return [block.to_dict() for block in blocks[:MAX_BLOCKS]]


def _notices(draft: DraftSnapshot) -> list[Block]:
    if not draft.notices:
        return []
    return [
        context_block(*(f":information_source: {fit(notice, 500)}" for notice in draft.notices))
    ]


def _header(draft: DraftSnapshot) -> HeaderBlock:
    text = f"{KIND_COPY[draft.kind].emoji} {kind_title(draft)}"
    if draft.customer_name:
        text = f"{text} · {draft.customer_name}"
    return HeaderBlock(text=PlainTextObject(text=_clip(text, HEADER_LIMIT), emoji=True))


def _fields(draft: DraftSnapshot) -> SectionBlock:
    pairs = [*draft.fields[:9], (KIND_COPY[draft.kind].subject, draft.subject.strip() or "—")]
    return SectionBlock(
        fields=[
            MarkdownTextObject(text=f"*{fit(label, 100)}*\n{fit(value, FIELD_LIMIT - 110)}")
            for label, value in pairs
        ]
    )


def _body(draft: DraftSnapshot, now: datetime) -> list[Block]:
    preview, rest = _preview(draft.body)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=preview or "_(empty)_"))]
    if rest:
        editable = is_live(draft, now) and len(draft.body) <= INPUT_LIMIT
        hint = " — open Edit to see all" if editable else ""
        blocks.append(context_block(f"… ({rest:,} more characters{hint})"))
    return blocks


def _meta(draft: DraftSnapshot) -> ContextBlock:
    parts = [f"Requested by {person_text(draft.requested_by)}"] if draft.requested_by else []
    parts.append(fit(draft.agent, 100))
    if draft.model == "offline":
        parts.append("offline template · $0")
    else:
        parts += [fit(draft.model, 100), f"{draft.tokens:,} tokens", usd(draft.cost_micro_usd)]
    parts.append(f"v{draft.version}")
    return context_block(" · ".join(part for part in parts if part))


def _status(draft: DraftSnapshot, now: datetime) -> list[Block]:
    if is_live(draft, now):
        expires = slack_date(draft.expires_at, "Expires ")
        needs = f"Needs approval from {fit(draft.approvers, 300)} · {expires}"
        return [context_block(needs), _decision_actions(draft)]
    by, when = person_text(draft.decided_by), _when(draft.decided_at)
    match draft.status:
        case DraftStatus.PENDING | DraftStatus.EXPIRED:
            expired = slack_date(draft.expires_at)
            return [
                context_block(f":hourglass: Expired {expired} — ask again to get a fresh draft.")
            ]
        case DraftStatus.APPROVED:
            doing = KIND_COPY[draft.kind].doing
            return [context_block(f":hourglass_flowing_sand: Approved by {by}{when} — {doing}…")]
        case DraftStatus.EXECUTED:
            summary = fit(draft.execution_summary or "done", 500)
            return [
                context_block(f":white_check_mark: Approved by {by}{when} · {summary}"),
                ActionsBlock(elements=_feedback_buttons(draft)),
            ]
        case DraftStatus.FAILED:
            error = fit(draft.execution_error or "unknown error", 500)
            retry = _button(draft, "Retry", ActionId.DRAFT_RETRY, "primary")
            return [
                context_block(
                    f":x: Approved by {by} but it failed: {error} (attempt {draft.attempts})"
                ),
                ActionsBlock(elements=[retry, reject_button(draft)]),
            ]
    reason = fit(" ".join((draft.reject_reason or "").split()), 1000) or "no reason given"
    return [context_block(f":no_entry: Rejected by {by}{when}: _{reason}_")]


def _decision_actions(draft: DraftSnapshot) -> ActionsBlock:
    return ActionsBlock(
        elements=[
            approve_button(draft),
            _button(draft, "Edit", ActionId.DRAFT_EDIT),
            reject_button(draft),
            _button(draft, "Regenerate", ActionId.DRAFT_REGENERATE),
            *_feedback_buttons(draft),
        ]
    )


def draft_fallback_text(draft: DraftSnapshot) -> str:
    """Notification text for the card, at most 300 characters: 'Email draft for X sent: …'."""
    customer = f" for {draft.customer_name}" if draft.customer_name else ""
    subject = " ".join(draft.subject.split())
    return fit(f"{kind_title(draft)}{customer} {state_line(draft)}: {subject}", FALLBACK_LIMIT)


def decision_notice(draft: DraftSnapshot) -> str:
    """The short thread reply after a decision, addressed to the rep who asked."""
    copy = KIND_COPY[draft.kind]
    rep = person_text(draft.requested_by, default="")
    lead = f"{rep} your {copy.thing} draft" if rep else f"Your {copy.thing} draft"
    if draft.customer_name:
        lead = f"{lead} {copy.prep} {fit(draft.customer_name, 200)}"
    by = person_text(draft.decided_by)
    match draft.status:
        case DraftStatus.PENDING:
            return f"{lead} is waiting for approval from {fit(draft.approvers, 300)}."
        case DraftStatus.APPROVED:
            return f"{lead} was approved by {by} and is being {copy.done}."
        case DraftStatus.EXECUTED:
            return f"{lead} was approved by {by} and {copy.done}."
        case DraftStatus.FAILED:
            error = fit(draft.execution_error or "unknown error", 500)
            return f"{lead} was approved by {by} but could not be {copy.done}: {error}"
        case DraftStatus.EXPIRED:
            return f"{lead} expired without a decision."
    reason = fit(draft.reject_reason.strip(), 1000) if draft.reject_reason else ""
    return f"{lead} was rejected by {by}: {reason}" if reason else f"{lead} was rejected by {by}."
