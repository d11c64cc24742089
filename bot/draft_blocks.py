"""Block Kit for drafts: the card in the thread, its modals and the App Home lists.

Pure functions from `DraftSnapshot` (and `now`) to Slack JSON. Text a model or a person wrote
is passed through `sanitize()` and `escape_mrkdwn()` before it reaches mrkdwn, so a draft cannot
mention anyone, ping a channel or disguise a link on a card an approver trusts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from agents.drafts.snapshot import DraftSnapshot, Person
from bot.actions import ActionId, DraftRef, FieldId, ViewId
from bot.blocks import MAX_BLOCKS, sanitize, usd
from storage.models.enums import DraftKind, DraftStatus

PREVIEW_LIMIT = 2500  # body characters shown on the card (escaped), well under SECTION_LIMIT
INPUT_LIMIT = 3000  # Slack's max_length for a plain_text_input
HEADER_LIMIT = 150
FIELD_LIMIT = 2000  # one section field
FALLBACK_LIMIT = 300
HOME_MAX_ENTRIES = 30  # per list: 6 fixed blocks + 2 x 30 + 30 stays under the 100-block home limit
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
_EMPTY = "This can't be empty."


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


_COPY = {
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


def _fit(text: str, limit: int) -> str:
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


def _person(person: Person | None, default: str = "someone") -> str:
    if person is None:
        return default
    if person.slack_user_id and _USER_ID.fullmatch(person.slack_user_id):
        return f"<@{person.slack_user_id}>"
    return _fit(person.name, 200)


def _title(draft: DraftSnapshot) -> str:
    """'Email draft', 'Order draft', 'CRM note draft'."""
    label = draft.kind_label
    return label if label.endswith("draft") else f"{label} draft"


def _live(draft: DraftSnapshot, now: datetime) -> bool:
    return draft.status == DraftStatus.PENDING and now < draft.expires_at


def _when(at: datetime | None) -> str:
    return f" {slack_date(at)}" if at else ""


def _state(draft: DraftSnapshot) -> str:
    """The status in a few words: 'awaiting approval', 'sent', …"""
    copy = _COPY[draft.kind]
    return {
        DraftStatus.PENDING: "awaiting approval",
        DraftStatus.APPROVED: f"approved, {copy.doing}",
        DraftStatus.EXECUTED: copy.done,
        DraftStatus.FAILED: "approved but failed",
        DraftStatus.REJECTED: "rejected",
        DraftStatus.EXPIRED: "expired",
    }[draft.status]


# --- elements -------------------------------------------------------------------------------


def _ref(draft: DraftSnapshot) -> str:
    return DraftRef(draft_id=draft.id, version=draft.version).model_dump_json()


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text) for text in texts[:10]])


def _button(
    draft: DraftSnapshot,
    text: str,
    action_id: ActionId,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=text, action_id=action_id, value=_ref(draft), style=style, confirm=confirm
    )


def _approve_question(draft: DraftSnapshot) -> str:
    copy = _COPY[draft.kind]
    if draft.kind == DraftKind.EMAIL:
        to = next((v for k, v in draft.fields if k.strip().lower() == "to"), None)
        return f"Send this email to {to or draft.customer_name or 'the customer'}?"
    target = f" {copy.prep} {draft.customer_name}" if draft.customer_name else ""
    return f"Approve this {copy.thing} draft{target}? It will be {copy.done} right away."


def _approve_button(draft: DraftSnapshot) -> ButtonElement:
    email = draft.kind == DraftKind.EMAIL
    confirm = ConfirmObject(
        title="Approve draft?",
        text=PlainTextObject(text=_clip(_approve_question(draft), 300)),
        confirm="Approve & send" if email else "Approve",
        deny="Cancel",
        style="primary",
    )
    return _button(draft, "Approve", ActionId.DRAFT_APPROVE, "primary", confirm)


def _reject_button(draft: DraftSnapshot) -> ButtonElement:
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
    return [_context(*(f":information_source: {_fit(notice, 500)}" for notice in draft.notices))]


def _header(draft: DraftSnapshot) -> HeaderBlock:
    text = f"{_COPY[draft.kind].emoji} {_title(draft)}"
    if draft.customer_name:
        text = f"{text} · {draft.customer_name}"
    return HeaderBlock(text=PlainTextObject(text=_clip(text, HEADER_LIMIT), emoji=True))


def _fields(draft: DraftSnapshot) -> SectionBlock:
    pairs = [*draft.fields[:9], (_COPY[draft.kind].subject, draft.subject.strip() or "—")]
    return SectionBlock(
        fields=[
            MarkdownTextObject(text=f"*{_fit(label, 100)}*\n{_fit(value, FIELD_LIMIT - 110)}")
            for label, value in pairs
        ]
    )


def _body(draft: DraftSnapshot, now: datetime) -> list[Block]:
    preview, rest = _preview(draft.body)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=preview or "_(empty)_"))]
    if rest:
        editable = _live(draft, now) and len(draft.body) <= INPUT_LIMIT
        hint = " — open Edit to see all" if editable else ""
        blocks.append(_context(f"… ({rest:,} more characters{hint})"))
    return blocks


def _meta(draft: DraftSnapshot) -> ContextBlock:
    parts = [f"Requested by {_person(draft.requested_by)}"] if draft.requested_by else []
    parts.append(_fit(draft.agent, 100))
    if draft.model == "offline":
        parts.append("offline template · $0")
    else:
        parts += [_fit(draft.model, 100), f"{draft.tokens:,} tokens", usd(draft.cost_micro_usd)]
    parts.append(f"v{draft.version}")
    return _context(" · ".join(part for part in parts if part))


def _status(draft: DraftSnapshot, now: datetime) -> list[Block]:
    if _live(draft, now):
        expires = slack_date(draft.expires_at, "Expires ")
        needs = f"Needs approval from {_fit(draft.approvers, 300)} · {expires}"
        return [_context(needs), _decision_actions(draft)]
    by, when = _person(draft.decided_by), _when(draft.decided_at)
    match draft.status:
        case DraftStatus.PENDING | DraftStatus.EXPIRED:
            expired = slack_date(draft.expires_at)
            return [_context(f":hourglass: Expired {expired} — ask again to get a fresh draft.")]
        case DraftStatus.APPROVED:
            doing = _COPY[draft.kind].doing
            return [_context(f":hourglass_flowing_sand: Approved by {by}{when} — {doing}…")]
        case DraftStatus.EXECUTED:
            summary = _fit(draft.execution_summary or "done", 500)
            return [
                _context(f":white_check_mark: Approved by {by}{when} · {summary}"),
                ActionsBlock(elements=_feedback_buttons(draft)),
            ]
        case DraftStatus.FAILED:
            error = _fit(draft.execution_error or "unknown error", 500)
            retry = _button(draft, "Retry", ActionId.DRAFT_RETRY, "primary")
            return [
                _context(f":x: Approved by {by} but it failed: {error} (attempt {draft.attempts})"),
                ActionsBlock(elements=[retry, _reject_button(draft)]),
            ]
    reason = _fit(" ".join((draft.reject_reason or "").split()), 1000) or "no reason given"
    return [_context(f":no_entry: Rejected by {by}{when}: _{reason}_")]


def _decision_actions(draft: DraftSnapshot) -> ActionsBlock:
    return ActionsBlock(
        elements=[
            _approve_button(draft),
            _button(draft, "Edit", ActionId.DRAFT_EDIT),
            _reject_button(draft),
            _button(draft, "Regenerate", ActionId.DRAFT_REGENERATE),
            *_feedback_buttons(draft),
        ]
    )


def draft_fallback_text(draft: DraftSnapshot) -> str:
    """Notification text for the card, at most 300 characters: 'Email draft for X sent: …'."""
    customer = f" for {draft.customer_name}" if draft.customer_name else ""
    subject = " ".join(draft.subject.split())
    return _fit(f"{_title(draft)}{customer} {_state(draft)}: {subject}", FALLBACK_LIMIT)


def decision_notice(draft: DraftSnapshot) -> str:
    """The short thread reply after a decision, addressed to the rep who asked."""
    copy = _COPY[draft.kind]
    rep = _person(draft.requested_by, default="")
    lead = f"{rep} your {copy.thing} draft" if rep else f"Your {copy.thing} draft"
    if draft.customer_name:
        lead = f"{lead} {copy.prep} {_fit(draft.customer_name, 200)}"
    by = _person(draft.decided_by)
    match draft.status:
        case DraftStatus.PENDING:
            return f"{lead} is waiting for approval from {_fit(draft.approvers, 300)}."
        case DraftStatus.APPROVED:
            return f"{lead} was approved by {by} and is being {copy.done}."
        case DraftStatus.EXECUTED:
            return f"{lead} was approved by {by} and {copy.done}."
        case DraftStatus.FAILED:
            error = _fit(draft.execution_error or "unknown error", 500)
            return f"{lead} was approved by {by} but could not be {copy.done}: {error}"
        case DraftStatus.EXPIRED:
            return f"{lead} expired without a decision."
    reason = _fit(draft.reject_reason.strip(), 1000) if draft.reject_reason else ""
    return f"{lead} was rejected by {by}: {reason}" if reason else f"{lead} was rejected by {by}."


# --- modals ---------------------------------------------------------------------------------


def _modal(
    draft: DraftSnapshot, callback_id: ViewId, title: str, submit: str, blocks: Sequence[Block]
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=_ref(draft),
        blocks=list(blocks),
    )
    result: dict[str, Any] = view.to_dict()
    return result


def _text_input(
    field: FieldId,
    label: str,
    *,
    max_length: int,
    initial: str | None = None,
    multiline: bool = False,
    optional: bool = False,
    placeholder: str | None = None,
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=field,
        initial_value=initial or None,
        multiline=multiline,
        max_length=max_length,
        placeholder=placeholder,
    )
    return InputBlock(block_id=field, label=label, element=element, optional=optional)


def _about(draft: DraftSnapshot) -> ContextBlock:
    customer = f" · {_fit(draft.customer_name, 300)}" if draft.customer_name else ""
    return _context(f"{_title(draft)}{customer} · version {draft.version}")


def edit_modal(draft: DraftSnapshot) -> dict[str, Any]:
    """The Edit modal, prefilled with the subject and body.

    A body longer than Slack's 3,000-character input limit cannot be edited here: the body
    input is left out and `parse_edit_submission` then returns `None` for the body, which the
    caller must read as "keep the current body" (check with `has_body_input`).
    """
    copy = _COPY[draft.kind]
    subject_max = 250 if draft.kind == DraftKind.EMAIL else 300
    blocks: list[Block] = [
        _about(draft),
        _text_input(
            FieldId.SUBJECT,
            copy.subject,
            max_length=subject_max,
            initial=draft.subject[:subject_max],
        ),
    ]
    if len(draft.body) <= INPUT_LIMIT:
        blocks.append(
            _text_input(
                FieldId.BODY, copy.body, max_length=INPUT_LIMIT, initial=draft.body, multiline=True
            )
        )
    else:
        blocks.append(
            _context(
                f"The {copy.body.lower()} is {len(draft.body):,} characters, too long to edit here "
                f"(Slack allows {INPUT_LIMIT:,}). Saving keeps it as it is; use Regenerate "
                "with a hint to change it."
            )
        )
    blocks.append(
        _context(f"Saving creates version {draft.version + 1}; it then needs approval again.")
    )
    return _modal(draft, ViewId.DRAFT_EDIT, "Edit draft", "Save changes", blocks)


def reject_modal(draft: DraftSnapshot) -> dict[str, Any]:
    """The Reject modal: an optional reason the rep will see in the thread."""
    rep = _person(draft.requested_by, default="The rep")
    blocks = [
        _about(draft),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{rep} will be told in the thread that you rejected this draft, "
                "with your reason if you give one."
            )
        ),
        _text_input(FieldId.REASON, "Reason", max_length=500, multiline=True, optional=True),
    ]
    return _modal(draft, ViewId.DRAFT_REJECT, "Reject draft", "Reject", blocks)


def regenerate_modal(draft: DraftSnapshot) -> dict[str, Any]:
    """The Regenerate modal: an optional hint for the next version."""
    blocks = [
        _about(draft),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"A new version {draft.version + 1} will be written and posted for approval."
            )
        ),
        _text_input(
            FieldId.HINT,
            "What should change?",
            max_length=500,
            optional=True,
            placeholder="shorter, mention the inspection",
        ),
    ]
    return _modal(draft, ViewId.DRAFT_REGENERATE, "Regenerate draft", "Regenerate", blocks)


# --- submissions ----------------------------------------------------------------------------


def _view_ref(view: dict[str, Any]) -> DraftRef:
    return DraftRef.model_validate_json(view["private_metadata"])


def _value(view: dict[str, Any], field: FieldId) -> str | None:
    """An input's text, stripped; None when the input is absent or blank."""
    value = view.get("state", {}).get("values", {}).get(field, {}).get(field, {}).get("value")
    return (value.strip() or None) if isinstance(value, str) else None


def has_body_input(view: dict[str, Any]) -> bool:
    """Whether the submitted Edit modal had a body input (it has none for too-long bodies)."""
    return FieldId.BODY in view.get("state", {}).get("values", {})


def parse_edit_submission(view: dict[str, Any]) -> tuple[DraftRef, str | None, str | None]:
    """The draft and the new subject and body; None when that input is absent or blank.

    A None body from a modal without a body input (see `has_body_input`) means "keep the old
    body"; a blank one is refused by `edit_errors` at ack time.
    """
    return _view_ref(view), _value(view, FieldId.SUBJECT), _value(view, FieldId.BODY)


def parse_reason(view: dict[str, Any]) -> tuple[DraftRef, str]:
    """The draft and the reject reason ("" when none was given)."""
    return _view_ref(view), _value(view, FieldId.REASON) or ""


def parse_hint(view: dict[str, Any]) -> tuple[DraftRef, str]:
    """The draft and the regenerate hint ("" when none was given)."""
    return _view_ref(view), _value(view, FieldId.HINT) or ""


def edit_errors(
    subject: str | None, body: str | None, *, body_in_form: bool = True
) -> dict[str, str]:
    """`response_action: errors` for a blank subject or body (block_id → message).

    Pass `body_in_form=has_body_input(view)`: a modal without a body input has no block to
    attach an error to, and its missing body means "unchanged".
    """
    errors: dict[str, str] = {}
    if not (subject and subject.strip()):
        errors[FieldId.SUBJECT.value] = _EMPTY
    if body_in_form and not (body and body.strip()):
        errors[FieldId.BODY.value] = _EMPTY
    return errors


# --- App Home -------------------------------------------------------------------------------


def home_view(
    *,
    waiting_for_you: list[DraftSnapshot],
    your_drafts: list[DraftSnapshot],
    now: datetime,
    limit: int = 10,
) -> dict[str, Any]:
    """App Home: drafts waiting for this person's approval (with buttons), then their own."""
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
    result: dict[str, Any] = View(type="home", blocks=blocks).to_dict()
    return result


def _home_list(
    drafts: list[DraftSnapshot],
    entry: Callable[[DraftSnapshot], list[Block]],
    limit: int,
    empty: str,
) -> list[Block]:
    if not drafts:
        return [_context(empty)]
    shown = drafts[: max(0, min(limit, HOME_MAX_ENTRIES))]
    blocks = [block for draft in shown for block in entry(draft)]
    more = len(drafts) - len(shown)
    return [*blocks, _context(f"+{more} more")] if more else blocks


def _kind_line(draft: DraftSnapshot) -> str:
    line = f"{_COPY[draft.kind].emoji} *{_title(draft)}*"
    if draft.customer_name:
        line = f"{line} · {_fit(draft.customer_name, 300)}"
    if draft.channel_id and _CHANNEL_ID.fullmatch(draft.channel_id):
        line = f"{line} · in <#{draft.channel_id}>"
    return line


def _waiting_entry(draft: DraftSnapshot, now: datetime) -> list[Block]:
    live = _live(draft, now)
    expiry = slack_date(draft.expires_at, "expires ") if live else ":hourglass: expired"
    text = (
        f"{_kind_line(draft)}\n{_fit(draft.subject, 300)}\n"
        f"Asked by {_person(draft.requested_by)} · {expiry}"
    )
    section = SectionBlock(text=MarkdownTextObject(text=text))
    if not live:
        return [section]
    return [section, ActionsBlock(elements=[_approve_button(draft), _reject_button(draft)])]


def _own_entry(draft: DraftSnapshot, now: datetime) -> SectionBlock:
    if _live(draft, now):
        approvers = _fit(draft.approvers, 300)
        state = f"awaiting {approvers} · {slack_date(draft.expires_at, 'expires ')}"
    else:
        state = "expired" if draft.status == DraftStatus.PENDING else _state(draft)
    text = f"{_kind_line(draft)} — {state}\n{_fit(draft.subject, 300)}"
    return SectionBlock(text=MarkdownTextObject(text=text))
