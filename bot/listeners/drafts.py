"""Draft cards: Approve / Retry queue a decision; Edit / Reject / Regenerate open a modal first
(views.open needs the click's trigger_id, which lives 3 s), and its submission queues the rest."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from agents.drafts.service import DraftService
from bot.actions import ActionId, DraftRef, ViewId
from bot.draft_jobs import DECIDE_DRAFT, decision_payload
from bot.draft_modals import (
    edit_errors,
    edit_modal,
    has_body_input,
    parse_edit_submission,
    parse_hint,
    parse_reason,
    regenerate_modal,
    reject_modal,
)
from bot.runner import JobRunner

_DIRECT = {ActionId.DRAFT_APPROVE: "approve", ActionId.DRAFT_RETRY: "retry"}
_MODALS = {
    ActionId.DRAFT_EDIT: edit_modal,
    ActionId.DRAFT_REJECT: reject_modal,
    ActionId.DRAFT_REGENERATE: regenerate_modal,
}


def on_draft_button(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    runner: JobRunner,
    client: WebClient,
    drafts: DraftService,
) -> None:
    """Approve and Retry go straight to a job; the others open their modal."""
    ref = DraftRef.model_validate_json(action["value"])
    action_id = ActionId(action["action_id"])
    if action_id in _DIRECT:
        runner.defer(DECIDE_DRAFT, _payload(body, _DIRECT[action_id], ref))
    else:
        _open_modal(body, action_id, ref, client, drafts, runner)
    ack()


def _open_modal(
    body: dict[str, Any],
    action_id: ActionId,
    ref: DraftRef,
    client: WebClient,
    drafts: DraftService,
    runner: JobRunner,
) -> None:
    snapshot = drafts.snapshot_for(body["team"]["id"], body["user"]["id"], ref.draft_id)
    if snapshot is None or not snapshot.open or snapshot.version != ref.version:
        # Decided, changed or unknown: the decision job explains it and refreshes the card.
        runner.defer(DECIDE_DRAFT, _payload(body, "explain", ref))
        return
    client.views_open(trigger_id=body["trigger_id"], view=_MODALS[action_id](snapshot))


def _payload(request: dict[str, Any], action: str, ref: DraftRef, **extra: Any) -> dict[str, Any]:
    container = request.get("container") or {}
    return decision_payload(
        team_id=request["team"]["id"],
        user=request["user"]["id"],
        action=action,
        draft_id=ref.draft_id,
        version=ref.version,
        channel=(request.get("channel") or {}).get("id"),
        from_home=container.get("type") == "view",
        **extra,
    )


def on_edit_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], runner: JobRunner
) -> None:
    """Blank fields are refused in the modal; otherwise the edit is queued."""
    ref, subject, text = parse_edit_submission(view)
    errors = edit_errors(subject, text, body_in_form=has_body_input(view))
    if errors:
        ack(response_action="errors", errors=errors)
        return
    runner.defer(DECIDE_DRAFT, _payload(body, "edit", ref, subject=subject, body=text))
    ack()


def on_reject_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], runner: JobRunner
) -> None:
    """Queue the rejection with its (optional) reason."""
    ref, reason = parse_reason(view)
    runner.defer(DECIDE_DRAFT, _payload(body, "reject", ref, reason=reason))
    ack()


def on_regenerate_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], runner: JobRunner
) -> None:
    """Queue the regeneration with the rep's hint."""
    ref, hint = parse_hint(view)
    runner.defer(DECIDE_DRAFT, _payload(body, "regenerate", ref, hint=hint))
    ack()


DRAFT_BUTTONS = (*_DIRECT, *_MODALS)
DRAFT_VIEWS = {
    ViewId.DRAFT_EDIT: on_edit_submitted,
    ViewId.DRAFT_REJECT: on_reject_submitted,
    ViewId.DRAFT_REGENERATE: on_regenerate_submitted,
}
