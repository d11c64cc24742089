"""A rep's nudge message (their top suggestions, each with Accept / Dismiss / Snooze, or what
became of it once decided) and the Dismiss modal."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from agents.suggestions.nudges import Item, Nudge
from bot.actions import ActionId, FieldId, SnoozeChoice, SuggestionRef, ViewId
from storage.models import DraftKind, SuggestionRule, SuggestionStatus

RULE_LABELS = {
    SuggestionRule.SILENT_ACCOUNT: ":zzz: Gone quiet",
    SuggestionRule.STALE_DEAL: ":hourglass: Deal stuck",
    SuggestionRule.OVERDUE_TASK: ":alarm_clock: Task overdue",
    SuggestionRule.OVERDUE_INVOICE: ":receipt: Invoice overdue",
    SuggestionRule.UPSELL: ":chart_with_upwards_trend: Upsell",
}
ACTION_LABELS = {
    DraftKind.EMAIL: "Draft the email",
    DraftKind.NOTE: "Draft a note",
    DraftKind.TASK: "Draft a task",
    DraftKind.ORDER: "Draft an order",
    DraftKind.CUSTOMER_NOTES: "Draft account notes",
}
SNOOZE_DAYS = {1: "Snooze 1 day", 7: "Snooze 1 week"}
REASON_LIMIT = 500


def actions_block_id(suggestion_id: int) -> str:
    """Where an item's buttons are, so a decision can replace exactly them."""
    return f"suggestion_actions:{suggestion_id}"


def nudge_text(nudge: Nudge) -> str:
    """The notification text (and the fallback where blocks do not show)."""
    n = len(nudge.items)
    first = nudge.items[0].customer
    more = f" and {n - 1} more" if n > 1 else ""
    return f"{n} suggestion{'s' if n > 1 else ''} for today: {first}{more}"


def nudge_blocks(nudge: Nudge, *, mention: bool = False) -> list[dict[str, Any]]:
    """The message: a greeting, then each suggestion with its reasons and its buttons."""
    who = f"<@{nudge.slack_user_id}> " if mention else ""
    head = f"{who}:wave: A few accounts could use you today:"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=head))]
    for item in nudge.items:
        blocks += [DividerBlock(), *item_blocks(item)]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Accept drafts it for your approval · Dismiss keeps it away for a "
                    "while · `/ai-suggest` shows all of yours"
                )
            ]
        )
    )
    return [b.to_dict() for b in blocks]


def item_blocks(item: Item) -> list[Any]:
    """One suggestion: customer, title and reasons, its rule, then its buttons or outcome."""
    text = f"*{item.customer}* — {item.title}\n{item.reasoning}"
    return [
        SectionBlock(text=MarkdownTextObject(text=text[:3000])),
        ContextBlock(elements=[MarkdownTextObject(text=RULE_LABELS.get(item.rule, item.rule))]),
        _buttons(item) if item.status == SuggestionStatus.OPEN else _outcome(item),
    ]


def _outcome(item: Item) -> ContextBlock:
    """What became of a decided item, where its buttons were."""
    who = f" by <@{item.decided_by}>" if item.decided_by else ""
    if item.status == SuggestionStatus.ACCEPTED:
        note = f":white_check_mark: Accepted{who} — the draft is in this thread"
    elif item.status == SuggestionStatus.DISMISSED:
        why = f": “{item.reason}”" if item.reason else ""
        note = f":wastebasket: Dismissed{who}{why}"
    elif item.status == SuggestionStatus.SNOOZED and item.snoozed_until:
        note = f":zzz: Snoozed{who} until {item.snoozed_until:%a %d %b}"
    else:
        note = ":heavy_check_mark: Resolved: the CRM shows it was taken care of"
    return ContextBlock(
        block_id=actions_block_id(item.suggestion_id), elements=[MarkdownTextObject(text=note)]
    )


def _buttons(item: Item) -> ActionsBlock:
    ref = SuggestionRef(suggestion_id=item.suggestion_id).model_dump_json()
    snooze = OverflowMenuElement(
        action_id=ActionId.SUGGESTION_SNOOZE,
        options=[
            Option(
                text=label,
                value=SnoozeChoice(suggestion_id=item.suggestion_id, days=days).model_dump_json(),
            )
            for days, label in SNOOZE_DAYS.items()
        ],
    )
    return ActionsBlock(
        block_id=actions_block_id(item.suggestion_id),
        elements=[
            ButtonElement(
                text=ACTION_LABELS.get(item.action, "Draft it"),
                action_id=ActionId.SUGGESTION_ACCEPT,
                value=ref,
                style="primary",
            ),
            ButtonElement(text="Dismiss", action_id=ActionId.SUGGESTION_DISMISS, value=ref),
            snooze,
        ],
    )


def dismiss_modal(ref: SuggestionRef, customer: str, title: str) -> dict[str, Any]:
    """Ask why (optional): the answer feeds each rule's acceptance numbers."""
    view = View(
        type="modal",
        callback_id=ViewId.SUGGESTION_DISMISS,
        title="Dismiss suggestion",
        submit="Dismiss",
        close="Cancel",
        private_metadata=ref.model_dump_json(),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{customer}* — {title}"[:3000])),
            InputBlock(
                block_id=FieldId.REASON,
                label="Why? (optional)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=FieldId.REASON,
                    multiline=True,
                    max_length=REASON_LIMIT,
                    placeholder="e.g. already handled by phone",
                ),
            ),
        ],
    )
    return view.to_dict()


def parse_dismiss(view: dict[str, Any]) -> tuple[SuggestionRef, str | None]:
    """The modal's suggestion and its reason (None when left blank)."""
    ref = SuggestionRef.model_validate_json(view["private_metadata"])
    field = view["state"]["values"].get(FieldId.REASON, {}).get(FieldId.REASON, {})
    reason = (field.get("value") or "").strip()
    return ref, reason or None
