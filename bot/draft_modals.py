"""Draft modals (Edit, Reject, Regenerate) and reading their submissions back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from agents.drafts.snapshot import DraftSnapshot
from bot.actions import DraftRef, FieldId, ViewId
from bot.draft_blocks import (
    EMPTY,
    INPUT_LIMIT,
    KIND_COPY,
    context_block,
    fit,
    kind_title,
    person_text,
    ref_value,
)
from storage.models.enums import DraftKind

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
        private_metadata=ref_value(draft),
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
    customer = f" · {fit(draft.customer_name, 300)}" if draft.customer_name else ""
    return context_block(f"{kind_title(draft)}{customer} · version {draft.version}")


def edit_modal(draft: DraftSnapshot) -> dict[str, Any]:
    """The Edit modal, prefilled with the subject and body.

    A body longer than Slack's 3,000-character input limit cannot be edited here: the body
    input is left out and `parse_edit_submission` then returns `None` for the body, which the
    caller must read as "keep the current body" (check with `has_body_input`).
    """
    copy = KIND_COPY[draft.kind]
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
            context_block(
                f"The {copy.body.lower()} is {len(draft.body):,} characters, too long to edit here "
                f"(Slack allows {INPUT_LIMIT:,}). Saving keeps it as it is; use Regenerate "
                "with a hint to change it."
            )
        )
    blocks.append(
        context_block(f"Saving creates version {draft.version + 1}; it then needs approval again.")
    )
    return _modal(draft, ViewId.DRAFT_EDIT, "Edit draft", "Save changes", blocks)


def reject_modal(draft: DraftSnapshot) -> dict[str, Any]:
    """The Reject modal: an optional reason the rep will see in the thread."""
    rep = person_text(draft.requested_by, default="The rep")
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
        errors[FieldId.SUBJECT.value] = EMPTY
    if body_in_form and not (body and body.strip()):
        errors[FieldId.BODY.value] = EMPTY
    return errors
