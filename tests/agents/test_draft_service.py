from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from agents.drafts.policy import ApprovalPolicy, Approvers, KindPolicy
from agents.drafts.service import Result
from bot.emulator.mailbox import REFUSED_RECIPIENT_REPLY
from storage.models import (
    Activity,
    AuditEvent,
    Customer,
    CustomerStatus,
    DraftStatus,
    DraftVersion,
    Order,
    Suggestion,
    SuggestionRule,
    SuggestionStatus,
    Task,
)
from storage.models.enums import DraftKind
from storage.uow import UnitOfWork
from tests.agents.drafts_fixtures import (
    ADMIN,
    EMAIL_BODY,
    INGRID,
    MANAGER,
    MAYA_EMAIL,
    NOW,
    OTHER_REP,
    PAYLOADS,
    REP,
    SECOND_MANAGER,
    TEAM,
    TTL,
    add_second_manager,
    make_desk,
)

# --- proposing ------------------------------------------------------------------------------


def test_propose_stores_version_one_with_its_version_row_and_an_audit_event(desk):
    draft_id = desk.propose_email()

    draft = desk.draft(draft_id)
    assert (draft.status, draft.version, draft.payload["body"]) == (
        DraftStatus.PENDING,
        1,
        EMAIL_BODY,
    )
    assert draft.expires_at == desk.clock() + TTL
    assert desk.count(DraftVersion, DraftVersion.draft_id == draft_id) == 1
    [event] = desk.audit(draft_id)
    assert (event.action, event.result, event.actor_id) == (
        "draft.proposed",
        "pending",
        desk.user_id(REP),
    )


def test_snapshot_shows_customer_recipient_and_approvers_in_words(desk):
    draft_id = desk.propose_email()

    snap = desk.service.snapshot(desk.org_id, draft_id)

    assert snap.customer_name == "Halvorsen Marine"
    assert dict(snap.fields)["To"] == f"Ingrid Halvorsen <{INGRID}>"
    assert snap.approvers == "a manager"
    assert snap.requested_by.name == "Maya Chen"
    assert snap.open


def test_self_approvable_kind_names_the_requester_among_the_approvers(desk):
    draft_id = desk.propose(DraftKind.NOTE)

    assert desk.service.snapshot(desk.org_id, draft_id).approvers == "Maya Chen or a manager"


# --- approving an email ---------------------------------------------------------------------


def test_rep_approving_own_email_is_denied_and_changes_nothing(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.approve(TEAM, REP, draft_id, 1)

    assert outcome.result == Result.DENIED
    draft = desk.draft(draft_id)
    assert (draft.status, draft.decided_by_id, draft.attempts) == (DraftStatus.PENDING, None, 0)
    assert desk.executions(draft_id) == []
    denied = desk.audit(draft_id)[-1]
    assert (denied.action, denied.result, denied.actor_id) == (
        "draft.approve_denied",
        "denied",
        desk.user_id(REP),
    )
    assert desk.outbox.messages == []


def test_manager_approval_sends_the_email_once_with_reply_to_the_requester(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.approve(TEAM, MANAGER, draft_id, 1)

    assert outcome.result == Result.DONE
    [mail] = desk.outbox.wait_for(1)
    assert mail["Subject"] == "Pump service next week"
    assert mail.get_content().rstrip("\n") == EMAIL_BODY
    assert mail["Reply-To"] == MAYA_EMAIL
    assert mail["To"].addresses[0].addr_spec == INGRID
    assert outcome.draft.status == DraftStatus.EXECUTED
    assert outcome.draft.execution_summary == f"sent to {INGRID}"
    draft = desk.draft(draft_id)
    assert (draft.status, draft.decided_by_id, draft.attempts) == (
        DraftStatus.EXECUTED,
        desk.user_id(MANAGER),
        1,
    )
    assert desk.actions(draft_id) == ["draft.proposed", "draft.approved", "draft.executed"]


def test_second_approve_click_is_settled_and_sends_nothing(desk):
    draft_id = desk.propose_email()
    desk.service.approve(TEAM, MANAGER, draft_id, 1)

    again = desk.service.approve(TEAM, MANAGER, draft_id, 1)

    assert again.result == Result.SETTLED
    assert again.message.startswith("Already approved by Jordan Blake")
    assert len(desk.outbox.messages) == 1
    assert len(desk.executions(draft_id)) == 1
    assert desk.actions(draft_id).count("draft.approved") == 1


def test_approving_an_unknown_draft_is_not_found(desk):
    assert desk.service.approve(TEAM, MANAGER, 424242, 1).result == Result.NOT_FOUND


# --- CRM kinds ------------------------------------------------------------------------------


def test_self_approved_note_adds_one_activity(desk):
    draft_id = desk.propose(DraftKind.NOTE)

    outcome = desk.service.approve(TEAM, REP, draft_id, 1)
    desk.service.approve(TEAM, REP, draft_id, 1)

    assert outcome.result == Result.DONE
    assert outcome.draft.status == DraftStatus.EXECUTED
    summary = "Inspection follow-up\n\nIngrid wants a quote."
    assert desk.count(Activity, Activity.summary == summary, Activity.kind == "note") == 1
    assert desk.outbox.messages == []


def test_an_approved_note_resolves_the_customers_gone_quiet_suggestion(desk):
    quiet = NOW + timedelta(days=60)  # two months after the demo CRM's last entries
    with UnitOfWork(desk.factory) as uow:
        uow.crm.customer(desk.org_id, desk.customer_id).status = CustomerStatus.ACTIVE
        uow.flush()
        uow.suggestions.scan(desk.org_id, now=quiet, rules=[SuggestionRule.SILENT_ACCOUNT])
        assert uow.suggestions.open_for_customer(desk.org_id, desk.customer_id)
        uow.commit()
    draft_id = desk.propose(DraftKind.NOTE)

    desk.service.approve(TEAM, REP, draft_id, 1)

    with UnitOfWork(desk.factory) as uow:
        statuses = uow.session.scalars(
            select(Suggestion.status).where(
                Suggestion.customer_id == desk.customer_id,
                Suggestion.rule == SuggestionRule.SILENT_ACCOUNT,
            )
        ).all()
    assert list(statuses) == [SuggestionStatus.RESOLVED]


def test_self_approved_task_creates_one_task_for_the_requester(desk):
    draft_id = desk.propose(DraftKind.TASK)

    desk.service.approve(TEAM, REP, draft_id, 1)
    desk.service.approve(TEAM, REP, draft_id, 1)

    title = Task.title == "Call Ingrid about the quote"
    assert desk.count(Task, title, Task.assignee_id == desk.user_id(REP)) == 1
    assert desk.draft(draft_id).status == DraftStatus.EXECUTED


def test_approved_order_draft_becomes_one_order_with_status_draft_and_its_total(desk):
    draft_id = desk.propose(DraftKind.ORDER)

    assert desk.service.approve(TEAM, REP, draft_id, 1).result == Result.DENIED
    desk.service.approve(TEAM, MANAGER, draft_id, 1)

    with UnitOfWork(desk.factory) as uow:
        [order] = uow.session.scalars(
            select(Order).where(Order.org_id == desk.org_id, Order.number.like("DRAFT-%"))
        ).all()
    assert (order.status, order.total, order.customer_id) == (
        "draft",
        Decimal("2960.00"),
        desk.customer_id,
    )
    assert (order.number, order.external_id) == (f"DRAFT-{draft_id}-1", f"draft:{draft_id}:v1")


def test_self_approved_customer_notes_replace_the_account_notes(desk):
    draft_id = desk.propose(DraftKind.CUSTOMER_NOTES)

    desk.service.approve(TEAM, REP, draft_id, 1)

    with UnitOfWork(desk.factory) as uow:
        customer = uow.session.get(Customer, desk.customer_id)
        assert customer.notes == "Prefers calls after 14:00."
    assert desk.draft(draft_id).execution_result == {"summary": "account notes updated"}


# --- editing --------------------------------------------------------------------------------


def _edit(desk, draft_id, body="Hi Ingrid,\n\nTuesday 10:00 works for our engineer.\n\nMaya"):
    return desk.service.edit(TEAM, REP, draft_id, 1, subject=None, body=body)


def test_edit_by_the_requester_saves_version_two_with_a_notice(desk):
    draft_id = desk.propose_email()

    outcome = _edit(desk, draft_id)

    assert outcome.result == Result.DONE
    assert (outcome.draft.version, outcome.draft.notices) == (2, ("v2 edited by Maya Chen",))
    with UnitOfWork(desk.factory) as uow:
        v2 = uow.drafts.version(draft_id, 2)
        assert (v2.source, v2.created_by_id) == ("edit", desk.user_id(REP))
    assert desk.actions(draft_id)[-1] == "draft.edited"


def test_approving_the_version_shown_before_an_edit_is_stale_and_sends_nothing(desk):
    draft_id = desk.propose_email()
    _edit(desk, draft_id)

    outcome = desk.service.approve(TEAM, MANAGER, draft_id, 1)

    assert outcome.result == Result.STALE
    assert outcome.draft.version == 2
    assert desk.draft(draft_id).status == DraftStatus.PENDING
    assert desk.outbox.messages == []
    assert desk.executions(draft_id) == []


def test_approving_the_edited_version_sends_its_text_and_records_the_diff(desk):
    draft_id = desk.propose_email()
    _edit(desk, draft_id)

    outcome = desk.service.approve(TEAM, MANAGER, draft_id, 2)

    assert outcome.result == Result.DONE
    [mail] = desk.outbox.wait_for(1)
    assert "Tuesday 10:00 works for our engineer." in mail.get_content()
    assert "confirm the pump service" not in mail.get_content()
    diff = desk.draft(draft_id).approved_diff
    assert "+Tuesday 10:00 works for our engineer." in diff
    assert "-Can we confirm the pump service on Tuesday?" in diff
    assert [e.version for e in desk.executions(draft_id)] == [2]


def test_another_rep_may_not_edit_the_draft(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.edit(TEAM, OTHER_REP, draft_id, 1, subject="Mine", body=None)

    assert outcome.result == Result.DENIED
    assert desk.draft(draft_id).version == 1
    assert desk.audit(draft_id)[-1].action == "draft.edit_denied"


def test_regenerated_text_becomes_the_next_version_only_from_the_current_one(desk):
    draft_id = desk.propose_email()
    text = PAYLOADS[DraftKind.EMAIL] | {"body": "Hi Ingrid, shorter now."}
    maya = desk.user_id(REP)

    assert desk.service.may_regenerate(TEAM, REP, draft_id, 1).result == Result.DONE
    assert desk.service.revise(desk.org_id, draft_id, 1, text, by=maya)
    assert not desk.service.revise(desk.org_id, draft_id, 1, text, by=maya)

    snap = desk.service.snapshot(desk.org_id, draft_id)
    assert (snap.version, snap.body, snap.notices) == (
        2,
        "Hi Ingrid, shorter now.",
        ("v2 regenerated by Maya Chen",),
    )
    assert desk.actions(draft_id)[-1] == "draft.regenerated"


def test_another_rep_may_not_regenerate_the_draft(desk):
    draft_id = desk.propose_email()

    assert desk.service.may_regenerate(TEAM, OTHER_REP, draft_id, 1).result == Result.DENIED


def test_run_cost_and_card_location_are_recorded_on_the_draft(desk):
    draft_id = desk.propose_email()

    desk.service.record_run([draft_id], model="claude-a", tokens=1200, cost=3400)
    desk.service.record_run([draft_id], model="claude-b", tokens=300, cost=600)
    desk.service.place_card(draft_id, channel_id="C_SALES", ts="1700000000.000200")

    snap = desk.service.snapshot(desk.org_id, draft_id)
    assert (snap.model, snap.tokens, snap.cost_micro_usd) == ("claude-b", 1500, 4000)
    draft = desk.draft(draft_id)
    assert (draft.channel_id, draft.card_ts) == ("C_SALES", "1700000000.000200")


# --- rejecting ------------------------------------------------------------------------------


def test_reject_with_a_reason_is_stored_and_audited(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.reject(TEAM, MANAGER, draft_id, 1, "  Too pushy, soften it.  ")

    assert outcome.result == Result.DONE
    draft = desk.draft(draft_id)
    assert (draft.status, draft.reject_reason, draft.decided_by_id) == (
        DraftStatus.REJECTED,
        "Too pushy, soften it.",
        desk.user_id(MANAGER),
    )
    event = desk.audit(draft_id)[-1]
    assert (event.action, event.result) == ("draft.rejected", "rejected")
    assert event.detail["reason"] == "Too pushy, soften it."


def test_approve_after_a_reject_is_settled_and_sends_nothing(desk):
    draft_id = desk.propose_email()
    desk.service.reject(TEAM, MANAGER, draft_id, 1, "no")

    outcome = desk.service.approve(TEAM, ADMIN, draft_id, 1)

    assert (outcome.result, outcome.message) == (
        Result.SETTLED,
        "Already rejected by Jordan Blake.",
    )
    assert desk.draft(draft_id).status == DraftStatus.REJECTED
    assert desk.outbox.messages == []


def test_requester_may_withdraw_their_own_draft(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.reject(TEAM, REP, draft_id, 1, "")

    assert outcome.result == Result.DONE
    draft = desk.draft(draft_id)
    assert (draft.status, draft.reject_reason) == (DraftStatus.REJECTED, None)


def test_another_rep_may_not_reject_the_draft(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.reject(TEAM, OTHER_REP, draft_id, 1, "mine now")

    assert outcome.result == Result.DENIED
    assert desk.draft(draft_id).status == DraftStatus.PENDING
    assert desk.audit(draft_id)[-1].action == "draft.reject_denied"


# --- expiry ---------------------------------------------------------------------------------


def test_approve_after_the_ttl_is_expired_and_sends_nothing(desk):
    draft_id = desk.propose_email()
    desk.clock.advance(TTL + timedelta(seconds=1))

    outcome = desk.service.approve(TEAM, MANAGER, draft_id, 1)

    assert outcome.result == Result.EXPIRED
    assert desk.draft(draft_id).status == DraftStatus.EXPIRED
    assert desk.actions(draft_id) == ["draft.proposed", "draft.expired"]
    assert desk.outbox.messages == []


def test_expire_due_expires_each_due_draft_once_and_audits_it(desk):
    due = desk.propose_email()
    desk.clock.advance(timedelta(hours=2))
    fresh = desk.propose_email()
    desk.clock.advance(TTL - timedelta(hours=1))

    first = desk.service.expire_due()
    second = desk.service.expire_due()

    assert [s.id for s in first] == [due]
    assert first[0].status == DraftStatus.EXPIRED
    assert second == []
    assert desk.draft(fresh).status == DraftStatus.PENDING
    assert desk.actions(due).count("draft.expired") == 1


# --- who is clicking ------------------------------------------------------------------------


def test_unknown_slack_user_is_denied_and_audited(desk):
    draft_id = desk.propose_email()

    outcome = desk.service.approve(TEAM, "U_STRANGER", draft_id, 1)

    assert outcome.result == Result.DENIED
    assert desk.draft(draft_id).status == DraftStatus.PENDING
    event = desk.audit(draft_id)[-1]
    assert (event.action, event.result, event.actor_id) == ("draft.denied", "denied", None)
    assert event.detail["reason"] == "U_STRANGER"


# --- execution failures and retry -----------------------------------------------------------


def _failed_email(desk):
    desk.outbox.refuse_recipients.add(INGRID)
    draft_id = desk.propose_email()
    desk.service.approve(TEAM, MANAGER, draft_id, 1)
    return draft_id


def test_refused_recipient_fails_the_draft_with_the_servers_reply(desk):
    draft_id = _failed_email(desk)

    draft = desk.draft(draft_id)
    assert (draft.status, draft.attempts) == (DraftStatus.FAILED, 1)
    assert REFUSED_RECIPIENT_REPLY in draft.execution_error
    assert INGRID in draft.execution_error
    assert desk.outbox.messages == []
    assert desk.actions(draft_id)[-1] == "draft.execution_failed"


def test_manager_retry_after_the_server_accepts_sends_once_on_the_same_claim(desk):
    draft_id = _failed_email(desk)
    desk.outbox.refuse_recipients.clear()

    outcome = desk.service.retry(TEAM, MANAGER, draft_id, 1)

    assert outcome.result == Result.DONE
    assert len(desk.outbox.wait_for(1)) == 1
    draft = desk.draft(draft_id)
    assert (draft.status, draft.attempts, draft.execution_error) == (DraftStatus.EXECUTED, 2, None)
    [execution] = desk.executions(draft_id)
    assert (execution.status, execution.attempts) == ("done", 2)
    assert len(desk.outbox.messages) == 1


def test_requester_may_not_retry_their_own_failed_email(desk):
    draft_id = _failed_email(desk)
    desk.outbox.refuse_recipients.clear()

    outcome = desk.service.retry(TEAM, REP, draft_id, 1)

    assert outcome.result == Result.DENIED
    assert desk.draft(draft_id).status == DraftStatus.FAILED
    assert desk.audit(draft_id)[-1].action == "draft.retry_denied"
    assert desk.outbox.messages == []


def test_note_whose_customer_was_deleted_fails_clearly_and_writes_nothing(desk):
    draft_id = desk.propose(DraftKind.NOTE)
    with UnitOfWork(desk.factory) as uow:
        uow.session.execute(delete(Customer).where(Customer.id == desk.customer_id))
        uow.commit()
    activities = desk.count(Activity)

    desk.service.approve(TEAM, REP, draft_id, 1)

    draft = desk.draft(draft_id)
    assert (draft.customer_id, draft.status) == (None, DraftStatus.FAILED)
    assert draft.execution_error == "the draft has no customer (it may have been deleted)"
    assert desk.count(Activity) == activities
    assert desk.executions(draft_id)[0].status == "failed"


def test_retry_with_an_outdated_version_does_not_leave_the_draft_stuck_approved(desk):
    desk.outbox.refuse_recipients.add(INGRID)
    draft_id = desk.propose_email()
    _edit(desk, draft_id)
    desk.service.approve(TEAM, MANAGER, draft_id, 2)
    assert desk.draft(draft_id).status == DraftStatus.FAILED
    desk.outbox.refuse_recipients.clear()

    desk.service.retry(TEAM, MANAGER, draft_id, 1)  # a card still showing v1

    # Approved, but nothing runs it and no later click can: it never leaves this state.
    assert desk.draft(draft_id).status != DraftStatus.APPROVED


# --- idempotency ----------------------------------------------------------------------------


def test_executing_an_executed_draft_again_sends_nothing(desk):
    draft_id = desk.propose_email()
    desk.service.approve(TEAM, MANAGER, draft_id, 1)
    desk.outbox.wait_for(1)

    desk.service.execute(desk.org_id, draft_id, 1)

    assert len(desk.outbox.messages) == 1
    assert desk.draft(draft_id).attempts == 1
    assert desk.actions(draft_id).count("draft.executed") == 1


# --- policy override ------------------------------------------------------------------------


OWNER_MANAGER = ApprovalPolicy({DraftKind.EMAIL: KindPolicy(approvers=Approvers.OWNER_MANAGER)})


@pytest.fixture
def strict_desk(any_factory, outbox):
    desk = make_desk(any_factory, outbox, OWNER_MANAGER)
    add_second_manager(desk)
    return desk


def test_owner_manager_policy_denies_a_manager_who_is_not_the_requesters(strict_desk):
    draft_id = strict_desk.propose_email()

    outcome = strict_desk.service.approve(TEAM, SECOND_MANAGER, draft_id, 1)

    assert outcome.result == Result.DENIED
    assert "Maya's manager" in outcome.message
    assert strict_desk.draft(draft_id).status == DraftStatus.PENDING


def test_owner_manager_policy_lets_the_requesters_manager_approve(strict_desk):
    draft_id = strict_desk.propose_email()
    with UnitOfWork(strict_desk.factory) as uow:
        maya = uow.orgs.user(strict_desk.org_id, strict_desk.user_id(REP))
        assert maya.manager_id == strict_desk.user_id(MANAGER)

    outcome = strict_desk.service.approve(TEAM, MANAGER, draft_id, 1)

    assert outcome.result == Result.DONE
    assert len(strict_desk.outbox.wait_for(1)) == 1


def test_owner_manager_policy_still_lets_an_admin_approve(strict_desk):
    draft_id = strict_desk.propose_email()

    outcome = strict_desk.service.approve(TEAM, ADMIN, draft_id, 1)

    assert outcome.result == Result.DONE
    assert strict_desk.draft(draft_id).status == DraftStatus.EXECUTED


# --- App Home -------------------------------------------------------------------------------


def test_home_shows_a_reps_pending_email_as_waiting_to_the_manager_and_own_to_the_rep(desk):
    draft_id = desk.propose_email()

    manager_waiting, manager_own = desk.service.home(TEAM, MANAGER)
    rep_waiting, rep_own = desk.service.home(TEAM, REP)

    assert ([d.id for d in manager_waiting], manager_own) == ([draft_id], [])
    assert (rep_waiting, [d.id for d in rep_own]) == ([], [draft_id])
    assert desk.service.home(TEAM, OTHER_REP) == ([], [])


def test_home_does_not_offer_expired_drafts_for_approval(desk):
    desk.propose_email()
    desk.clock.advance(TTL)

    waiting, _ = desk.service.home(TEAM, MANAGER)

    assert waiting == []


# --- reporting ------------------------------------------------------------------------------


def test_outcomes_by_prompt_version_counts_each_final_state(desk):
    approved = [desk.propose(DraftKind.EMAIL, prompt_version="v1") for _ in range(2)]
    rejected = desk.propose(DraftKind.EMAIL, prompt_version="v1")
    other = desk.propose(DraftKind.EMAIL, prompt_version="v2")
    for draft_id in approved:
        desk.service.approve(TEAM, MANAGER, draft_id, 1)
    desk.service.reject(TEAM, MANAGER, rejected, 1, "off-tone")
    desk.service.reject(TEAM, MANAGER, other, 1, "")

    with UnitOfWork(desk.factory) as uow:
        outcomes = uow.drafts.outcomes_by_prompt_version(desk.org_id)

    assert sorted(outcomes) == [
        ("v1", DraftStatus.EXECUTED, 2),
        ("v1", DraftStatus.REJECTED, 1),
        ("v2", DraftStatus.REJECTED, 1),
    ]


# --- the audit log --------------------------------------------------------------------------


def test_audit_for_subject_returns_the_drafts_whole_history_in_order(desk):
    draft_id = desk.propose_email()
    desk.service.approve(TEAM, REP, draft_id, 1)
    _edit(desk, draft_id)
    desk.service.approve(TEAM, MANAGER, draft_id, 1)
    desk.service.approve(TEAM, MANAGER, draft_id, 2)

    history = desk.audit(draft_id)

    assert [(e.action, e.detail["version"]) for e in history] == [
        ("draft.proposed", 1),
        ("draft.approve_denied", 1),
        ("draft.edited", 2),
        ("draft.approved", 2),
        ("draft.executed", 2),
    ]


def test_audit_by_actor_returns_the_managers_decisions_newest_first(desk):
    approved, rejected, other = (desk.propose_email() for _ in range(3))
    desk.service.approve(TEAM, MANAGER, approved, 1)
    desk.clock.advance(timedelta(minutes=1))
    desk.service.reject(TEAM, MANAGER, rejected, 1, "no")
    desk.service.approve(TEAM, ADMIN, other, 1)

    with UnitOfWork(desk.factory) as uow:
        events = uow.audit.by_actor(desk.org_id, desk.user_id(MANAGER))
        decisions = [(e.action, e.subject_id) for e in events]

    assert decisions == [("draft.rejected", str(rejected)), ("draft.approved", str(approved))]


def test_every_audit_event_of_a_decision_names_the_draft_content_it_was_about(desk):
    draft_id = desk.propose_email()
    desk.service.approve(TEAM, MANAGER, draft_id, 1)

    hashes = {e.detail["content_hash"] for e in desk.audit(draft_id)}

    assert hashes == {desk.draft(draft_id).content_hash}
    assert desk.count(AuditEvent, AuditEvent.subject_id == str(draft_id)) == 3
