"""Drafts end to end: a rep asks in a thread, a card appears, people click, Slack shows it.

Everything runs through the served app, the workspace emulator and a real SMTP mailbox."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from bot.actions import ActionId, ViewId
from bot.draft_jobs import expire_drafts
from bot.emulator import view_submission
from storage.models import AuditEvent, Draft, DraftStatus, LLMCall
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, tool_reply
from tests.stack import SALES, model_agents, running_stack

ASK = "draft a follow-up to Halvorsen about the renewal"
INGRID = "ingrid@halvorsen-marine.no"


def _ask(stack, text=ASK, user="U_REP1"):
    envelope = stack.mention_envelope(text, user=user)
    assert stack.sender.post_event(envelope)[0] == 200
    stack.wait_idle()
    root = envelope["event"]["ts"]
    return root, _card(stack, root)


def _card(stack, root):
    card = stack.draft_card(root)
    assert card is not None, "no draft card in the thread"
    return card


def _has_button(message, action_id):
    return any(
        e.get("action_id") == action_id for b in message.blocks for e in b.get("elements", [])
    )


def _click(stack, user, card, action_id):
    assert stack.click(user, card, action_id) == 200
    stack.wait_idle()


def _ephemeral_to(stack, user):
    return [m.text for m in stack.slack.ephemeral_messages(SALES) if m.ephemeral_to == user]


def _draft(stack) -> Draft:
    with UnitOfWork(stack.services.factory) as uow:
        return uow.session.scalars(select(Draft).order_by(Draft.id.desc())).first()


def _audit_actions(stack, draft_id):
    with UnitOfWork(stack.services.factory) as uow:
        events = uow.audit.for_subject(stack.org_id, "draft", str(draft_id))
        return [(e.action, e.result) for e in events]


def _last_modal(stack, callback_id):
    views = [v for v in stack.slack.opened_views() if v["callback_id"] == callback_id]
    assert views, f"no {callback_id} modal was opened"
    return views[-1]


def _card_text(card) -> str:
    return " ".join(str(b) for b in card.blocks)


def test_rep_asks_manager_approves_and_the_email_goes_out_once(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        assert "Email draft" in _card_text(card) and INGRID in _card_text(card)

        _click(stack, "U_REP1", card, ActionId.DRAFT_APPROVE)
        assert any("someone else must approve" in t for t in _ephemeral_to(stack, "U_REP1"))
        assert stack.mailbox.messages == [] and _draft(stack).status == DraftStatus.PENDING

        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        mail = stack.mailbox.wait_for(1)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)  # a second click does nothing

        draft = _draft(stack)
        assert len(stack.mailbox.messages) == 1
        assert mail[0]["To"].addresses[0].addr_spec == INGRID
        assert mail[0]["Reply-To"] == "maya@demo.countersign.dev"
        assert mail[0]["Subject"] == draft.payload["subject"]
        assert draft.status == DraftStatus.EXECUTED
        updated = _card(stack, root)
        assert f"sent to {INGRID}" in _card_text(updated)
        assert not _has_button(updated, ActionId.DRAFT_APPROVE)
        notices = [m.text for m in stack.bot_replies(SALES, root)]
        assert any("approved by" in t and "sent" in t for t in notices)
        assert any("Already approved" in t for t in _ephemeral_to(stack, "U_MGR1"))
        assert _audit_actions(stack, draft.id) == [
            ("draft.proposed", "pending"),
            ("draft.approve_denied", "denied"),
            ("draft.approved", "approved"),
            ("draft.executed", "ok"),
        ]


def test_another_rep_cannot_approve_and_the_refusal_is_audited(tmp_path):
    with running_stack(tmp_path) as stack:
        _root, card = _ask(stack)
        _click(stack, "U_REP2", card, ActionId.DRAFT_APPROVE)
        assert any("needs approval from a manager" in t for t in _ephemeral_to(stack, "U_REP2"))
        draft = _draft(stack)
        assert draft.status == DraftStatus.PENDING and stack.mailbox.messages == []
        assert ("draft.approve_denied", "denied") in _audit_actions(stack, draft.id)


def test_edit_then_approve_sends_the_edited_text_and_the_old_card_is_stale(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_EDIT)
        modal = _last_modal(stack, ViewId.DRAFT_EDIT)
        assert "Hi Ingrid" in str(modal["blocks"])  # prefilled with the current body
        edited = "Hi Ingrid,\n\nShort and to the point: shall we sign the renewal?\n\nMaya"
        assert stack.submit("U_MGR1", modal, {"subject": "Renewal", "body": edited}) == 200
        stack.wait_idle()

        draft = _draft(stack)
        assert (draft.version, draft.payload["body"]) == (2, edited)
        assert "v2 edited by Jordan Blake" in _card_text(_card(stack, root))

        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)  # the card as it was: version 1
        assert any("version 1" in t for t in _ephemeral_to(stack, "U_MGR1"))
        assert stack.mailbox.messages == []

        _click(stack, "U_MGR1", _card(stack, root), ActionId.DRAFT_APPROVE)
        mail = stack.mailbox.wait_for(1)
        assert mail[0]["Subject"] == "Renewal"
        assert "shall we sign the renewal?" in mail[0].get_content()
        draft = _draft(stack)
        assert draft.status == DraftStatus.EXECUTED
        assert "+Short and to the point" in (draft.approved_diff or "")


def test_blank_edit_is_refused_in_the_modal(tmp_path):
    with running_stack(tmp_path) as stack:
        _root, card = _ask(stack)
        _click(stack, "U_REP1", card, ActionId.DRAFT_EDIT)
        modal = _last_modal(stack, ViewId.DRAFT_EDIT)
        status, _headers, body, _elapsed = stack.sender.post_form(
            view_submission("T_DEMO", "U_REP1", modal, {"subject": "", "body": "text"})
        )
        assert status == 200
        assert json.loads(body)["response_action"] == "errors"
        assert _draft(stack).version == 1


def test_reject_with_reason_tells_the_rep_in_the_thread(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_REJECT)
        modal = _last_modal(stack, ViewId.DRAFT_REJECT)
        assert stack.submit("U_MGR1", modal, {"reason": "Wait until the inspection report"}) == 200
        stack.wait_idle()
        draft = _draft(stack)
        assert draft.status == DraftStatus.REJECTED
        assert draft.reject_reason == "Wait until the inspection report"
        notices = [m.text for m in stack.bot_replies(SALES, root)]
        assert any("rejected by" in t and "inspection report" in t for t in notices)
        assert "Rejected by" in _card_text(_card(stack, root))
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        assert stack.mailbox.messages == [] and _draft(stack).status == DraftStatus.REJECTED


def test_regenerate_with_a_hint_makes_a_new_version(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        before = _draft(stack).payload["body"]
        _click(stack, "U_REP1", card, ActionId.DRAFT_REGENERATE)
        modal = _last_modal(stack, ViewId.DRAFT_REGENERATE)
        assert stack.submit("U_REP1", modal, {"hint": "shorter, mention the inspection"}) == 200
        stack.wait_idle()
        draft = _draft(stack)
        assert draft.version == 2 and draft.status == DraftStatus.PENDING
        assert "inspection" in draft.payload["body"] and len(draft.payload["body"]) < len(before)
        assert draft.payload["to_address"] == INGRID
        assert "v2 regenerated by Maya Chen" in _card_text(_card(stack, root))
        assert ("draft.regenerated", "pending") in _audit_actions(stack, draft.id)


def test_an_expired_draft_cannot_be_approved_and_its_card_says_so(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        _age_drafts(stack)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        assert any("expired" in t for t in _ephemeral_to(stack, "U_MGR1"))
        assert _draft(stack).status == DraftStatus.EXPIRED and stack.mailbox.messages == []
        assert "Expired" in _card_text(_card(stack, root))


def test_the_expiry_sweep_expires_due_drafts_once_and_updates_their_cards(tmp_path):
    with running_stack(tmp_path) as stack:
        root, _card_message = _ask(stack)
        _age_drafts(stack)
        expire_drafts(stack.services)
        expire_drafts(stack.services)
        draft = _draft(stack)
        assert draft.status == DraftStatus.EXPIRED
        assert _audit_actions(stack, draft.id).count(("draft.expired", "expired")) == 1
        notices = [m.text for m in stack.bot_replies(SALES, root)]
        assert sum("expired without a decision" in t for t in notices) == 1
        assert not _has_button(_card(stack, root), ActionId.DRAFT_APPROVE)


def test_a_failed_send_shows_the_error_and_an_approver_can_retry(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack)
        stack.mailbox.refuse_recipients.add(INGRID)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        failed = _card(stack, root)
        assert _draft(stack).status == DraftStatus.FAILED
        assert INGRID in _card_text(failed) and _has_button(failed, ActionId.DRAFT_RETRY)

        _click(stack, "U_REP1", failed, ActionId.DRAFT_RETRY)  # the requester may not retry
        assert _draft(stack).status == DraftStatus.FAILED

        stack.mailbox.refuse_recipients.clear()
        _click(stack, "U_MGR1", failed, ActionId.DRAFT_RETRY)
        assert len(stack.mailbox.wait_for(1)) == 1
        draft = _draft(stack)
        assert (draft.status, draft.attempts) == (DraftStatus.EXECUTED, 2)


def test_a_note_may_be_self_approved_and_lands_in_the_crm_once(tmp_path):
    with running_stack(tmp_path) as stack:
        root, card = _ask(stack, "log a note on Halvorsen: they want the inspection report first")
        assert "CRM note" in _card_text(card)
        _click(stack, "U_REP1", card, ActionId.DRAFT_APPROVE)
        _click(stack, "U_REP1", card, ActionId.DRAFT_APPROVE)
        draft = _draft(stack)
        assert draft.status == DraftStatus.EXECUTED
        with UnitOfWork(stack.services.factory) as uow:
            notes = [
                a
                for a in uow.crm.recent_activities(stack.org_id, draft.customer_id, limit=5)
                if a.kind == "note" and "inspection report" in a.summary
            ]
        assert len(notes) == 1


def test_app_home_lists_waiting_drafts_and_approving_from_it_works(tmp_path):
    with running_stack(tmp_path) as stack:
        _root, _card_message = _ask(stack)
        home = stack.open_home("U_MGR1")
        assert "Waiting for your approval" in str(home) and "Halvorsen" in str(home)
        assert "Halvorsen" in str(stack.open_home("U_REP1"))  # the rep's own pending draft

        approve = next(
            e
            for b in home["blocks"]
            for e in b.get("elements", [])
            if e.get("action_id") == ActionId.DRAFT_APPROVE
        )
        body = json.dumps(
            {
                "type": "block_actions",
                "team": {"id": "T_DEMO", "domain": "emulated"},
                "user": {"id": "U_MGR1", "name": "u_mgr1", "team_id": "T_DEMO"},
                "api_app_id": "A_COUNTERSIGN",
                "trigger_id": "1.2.home",
                "container": {"type": "view", "view_id": "V_HOME"},
                "view": home,
                "actions": [{**approve, "type": "button", "action_ts": "1.0"}],
            }
        )
        status = stack.sender.post_form(urlencode({"payload": body}))[0]
        stack.wait_idle()
        assert status == 200
        assert len(stack.mailbox.wait_for(1)) == 1
        assert "Nothing" in str(stack.slack.home_view("U_MGR1"))


def test_a_model_draft_card_shows_model_tokens_and_cost_from_the_ledger(tmp_path):
    with (
        FakeAnthropicAPI() as api,
        running_stack(tmp_path, agents=model_agents(api.base_url)) as stack,
    ):
        with UnitOfWork(stack.services.factory) as uow:
            customer = next(c for c in uow.crm.all_customers(stack.org_id) if "Halvorsen" in c.name)
        usage = {"input_tokens": 1000, "output_tokens": 100}
        api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=usage),
            tool_reply("get_customer_context", {"customer_id": customer.id}, usage=usage),
            tool_reply(
                "send_email_draft",
                {
                    "customer_id": customer.id,
                    "to": INGRID,
                    "subject": "Renewal next steps",
                    "body": "Hi Ingrid,\n\nCan we meet on Tuesday?\n\nMaya",
                },
                usage=usage,
            ),
        )
        root, card = _ask(stack)
        api.assert_done()
        draft = _draft(stack)
        with UnitOfWork(stack.services.factory) as uow:
            calls = list(uow.session.scalars(select(LLMCall)))
        assert draft.cost_micro_usd == sum(c.cost_micro_usd for c in calls if c.agent == "drafting")
        assert draft.model == "claude-sonnet-5-5" and draft.prompt_version == "drafting@1"
        assert draft.cost_micro_usd > 0 and "claude-sonnet-5-5" in _card_text(card)
        assert f"{draft.tokens:,} tokens" in _card_text(card)
        assert stack.mailbox.messages == []  # the model's tool call only proposed it


@pytest.mark.parametrize("backend", ["postgres"])
def test_approval_flow_on_postgres_and_redis(tmp_path, backend, pg_url, pg_factory, redis_url):
    with running_stack(tmp_path, database_url=pg_url, redis_url=redis_url) as stack:
        root, card = _ask(stack)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        assert len(stack.mailbox.wait_for(1)) == 1
        assert _draft(stack).status == DraftStatus.EXECUTED
        with UnitOfWork(stack.services.factory) as uow:
            approvals = uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "draft.approved")
            ).all()
        assert len(approvals) == 1


def _age_drafts(stack):
    with UnitOfWork(stack.services.factory) as uow:
        uow.session.execute(update(Draft).values(expires_at=utcnow() - timedelta(minutes=1)))
        uow.commit()
