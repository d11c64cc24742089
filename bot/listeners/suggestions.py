"""Nudge buttons: Accept and Snooze queue the decision; Dismiss opens a modal first (an optional
reason; views.open needs the click's trigger_id, which lives 3 s), whose submission queues it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.actions import ActionId, SnoozeChoice, SuggestionRef
from bot.nudge_blocks import dismiss_modal, parse_dismiss
from bot.runner import JobRunner
from bot.services import Services
from bot.suggestion_decisions import DECIDE_SUGGESTION, decision_payload
from storage.uow import UnitOfWork


def on_suggestion_action(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    runner: JobRunner,
    client: WebClient,
    services: Services,
) -> None:
    """One click on a nudge."""
    action_id = ActionId(action["action_id"])
    if action_id == ActionId.SUGGESTION_SNOOZE:
        choice = SnoozeChoice.model_validate_json(action["selected_option"]["value"])
        payload = decision_payload(body, "snooze", choice.suggestion_id, days=choice.days)
        runner.defer(DECIDE_SUGGESTION, payload)
    elif action_id == ActionId.SUGGESTION_ACCEPT:
        ref = SuggestionRef.model_validate_json(action["value"])
        runner.defer(DECIDE_SUGGESTION, decision_payload(body, "accept", ref.suggestion_id))
    else:
        ref = SuggestionRef.model_validate_json(action["value"])
        container = body.get("container") or {}
        where = ref.model_copy(
            update={
                "channel": container.get("channel_id"),
                "message_ts": container.get("message_ts"),
                "home": (body.get("view") or {}).get("type") == "home",
            }
        )
        client.views_open(
            trigger_id=body["trigger_id"],
            view=dismiss_modal(where, *_about(services, body, ref.suggestion_id)),
        )
    ack()


def on_dismiss_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], runner: JobRunner
) -> None:
    """Queue the dismissal with its reason, pointing at the nudge it came from."""
    ref, reason = parse_dismiss(view)
    payload = decision_payload(body, "dismiss", ref.suggestion_id, reason=reason)
    payload.update(channel=ref.channel, message_ts=ref.message_ts, home=ref.home)
    runner.defer(DECIDE_SUGGESTION, payload)
    ack()


def _about(services: Services, body: dict[str, Any], suggestion_id: int) -> tuple[str, str]:
    """The customer and title the modal repeats (a quick read inside the 3 s)."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(body["team"]["id"])
        s = uow.suggestions.get(org.id, suggestion_id) if org else None
        customer = uow.crm.customer(s.org_id, s.customer_id) if s else None
        return (customer.name if customer else "This suggestion"), (s.title if s else "")


SUGGESTION_ACTIONS = (
    ActionId.SUGGESTION_ACCEPT,
    ActionId.SUGGESTION_DISMISS,
    ActionId.SUGGESTION_SNOOZE,
)
