"""The suggestion rules on a hand-built CRM with a fixed clock, on SQLite and PostgreSQL: each
rule fires on exactly the expected customers and not on the near misses; decisions keep a
suggestion quiet for exactly as long as they should; two scans racing leave one row each."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from storage.models import (
    Activity,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    DealStatus,
    Draft,
    DraftKind,
    Invoice,
    Org,
    Role,
    Suggestion,
    SuggestionDecision,
    SuggestionRule,
    SuggestionStatus,
    Task,
    TaskStatus,
    User,
)
from storage.repositories.suggestion_rules import Thresholds
from storage.repositories.suggestion_scan import fingerprint
from storage.repositories.suggestions import RuleScan
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
R = SuggestionRule


@dataclass
class World:
    """Ids of the hand-built CRM: people by role, customers, deals, tasks, invoices by name."""

    org_id: int = 0
    ann: int = 0  # rep, owns every customer
    bob: int = 0  # rep, owns one deal and is assigned one task
    customers: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    invoices: dict[str, int] = field(default_factory=dict)


class Builder:
    """Adds CRM rows to one session; every customer belongs to Ann."""

    def __init__(self, session, world: World) -> None:
        self.session, self.world = session, world

    def _add(self, row):
        self.session.add(row)
        self.session.flush()
        return row.id

    def customer(self, name, status=CustomerStatus.ACTIVE, *, last_touch=1 * DAY):
        """A customer; unless last_touch is None, with a neutral call that long ago."""
        row = Customer(
            org_id=self.world.org_id,
            external_id=name,
            name=name,
            status=status,
            owner_id=self.world.ann,
        )
        self.world.customers[name] = self._add(row)
        if last_touch is not None:
            self.activity(name, "call", "Checked in on the last delivery.", last_touch)
        return self.world.customers[name]

    def activity(self, customer, kind, summary, ago):
        return self._add(
            Activity(
                org_id=self.world.org_id,
                customer_id=self.world.customers[customer],
                kind=kind,
                summary=summary,
                occurred_at=NOW - ago,
            )
        )

    def deal(self, name, customer, status, moved_ago, amount="30000", owner=None):
        stage = {
            DealStatus.OPEN: DealStage.PROPOSAL,
            DealStatus.WON: DealStage.CLOSED_WON,
            DealStatus.LOST: DealStage.CLOSED_LOST,
        }[status]
        row = Deal(
            org_id=self.world.org_id,
            external_id=name,
            customer_id=self.world.customers[customer],
            title=name,
            stage=stage,
            status=status,
            amount=Decimal(amount),
            owner_id=owner,
            stage_changed_at=NOW - moved_ago,
        )
        self.world.deals[name] = self._add(row)

    def task(self, name, customer, due_in, status=TaskStatus.OPEN, assignee=None):
        row = Task(
            org_id=self.world.org_id,
            customer_id=self.world.customers[customer],
            title=name,
            due_at=None if due_in is None else NOW + due_in,
            status=status,
            assignee_id=assignee,
        )
        self.world.tasks[name] = self._add(row)

    def invoice(self, name, customer, due_in, amount="1000", paid=False):
        row = Invoice(
            org_id=self.world.org_id,
            external_id=name,
            customer_id=self.world.customers[customer],
            amount=Decimal(amount),
            due_at=NOW + due_in,
            paid_at=NOW - 2 * DAY if paid else None,
        )
        self.world.invoices[name] = self._add(row)


def _people(session, world: World) -> None:
    world.org_id = _new_org(session, "T1")
    mia = User(org_id=world.org_id, email="mia@x.test", name="Mia", role=Role.MANAGER)
    session.add(mia)
    session.flush()
    for name in ("ann", "bob"):
        user = User(org_id=world.org_id, email=f"{name}@x.test", name=name, manager_id=mia.id)
        session.add(user)
        session.flush()
        setattr(world, name, user.id)


def _new_org(session, team: str) -> int:
    org = Org(slack_team_id=team, name=team, currency="EUR")
    session.add(org)
    session.flush()
    return org.id


def _silent(b: Builder) -> None:
    b.customer("Quiet Co", last_touch=8 * DAY)  # fires: 8 days
    b.customer("Seven Days Co", last_touch=7 * DAY)  # fires: exactly the threshold
    b.customer("Never Co", last_touch=None)  # fires: no activity at all
    b.customer("Six Days Co", last_touch=6 * DAY)  # near miss
    b.customer("Gone Co", CustomerStatus.INACTIVE, last_touch=None)  # not active
    b.customer("Churned Co", CustomerStatus.CHURNED, last_touch=90 * DAY)
    b.customer("Prospect Co", CustomerStatus.PROSPECT, last_touch=None)


def _deals(b: Builder) -> None:
    b.customer("Stuck Co")
    b.deal("Stuck deal", "Stuck Co", DealStatus.OPEN, 15 * DAY, amount="30000", owner=b.world.bob)
    b.customer("Moving Co")
    b.deal("Moving deal", "Moving Co", DealStatus.OPEN, 13 * DAY)  # near miss
    b.customer("Lost Co")
    b.deal("Lost deal", "Lost Co", DealStatus.LOST, 60 * DAY)  # closed


def _tasks(b: Builder) -> None:
    b.customer("Late Co")
    b.task("Send certificates", "Late Co", -2 * DAY, assignee=b.world.bob)  # fires, Bob's
    b.task("Call back", "Late Co", -3 * DAY)  # fires, nobody assigned: Ann's
    b.customer("On Time Co")
    b.task("Done late", "On Time Co", -5 * DAY, status=TaskStatus.DONE)
    b.task("Due tomorrow", "On Time Co", DAY)
    b.task("Someday", "On Time Co", None)


def _invoices(b: Builder) -> None:
    b.customer("Owes Co")
    b.invoice("INV-1", "Owes Co", -10 * DAY, amount="120000")  # fires
    b.customer("Paid Co")
    b.invoice("INV-2", "Paid Co", -10 * DAY, paid=True)
    b.invoice("INV-3", "Paid Co", 5 * DAY)  # not due yet


def _upsells(b: Builder) -> None:
    b.customer("Won Co")
    b.deal("Fleet renewal", "Won Co", DealStatus.WON, 5 * DAY, amount="8000")  # fires
    b.customer("Happy Co")
    pilot = "They were happy with the pilot and asked about the fleet rollout."
    b.activity("Happy Co", "meeting", pilot, 3 * DAY)  # fires
    b.customer("Unhappy Co")
    b.activity("Unhappy Co", "meeting", "Not happy with delivery times.", 3 * DAY)
    b.customer("Phone Co")
    b.activity("Phone Co", "call", "Very happy with the service.", 2 * DAY)  # not a meeting
    b.customer("Old Win Co")
    b.deal("Old win", "Old Win Co", DealStatus.WON, 45 * DAY)  # outside the window
    b.customer("Busy Co")
    b.deal("Busy win", "Busy Co", DealStatus.WON, 5 * DAY)
    b.deal("Busy next", "Busy Co", DealStatus.OPEN, 2 * DAY)  # already working on the next
    b.customer("Dormant Co", CustomerStatus.INACTIVE)
    b.deal("Dormant win", "Dormant Co", DealStatus.WON, 5 * DAY)


EXPECTED = {
    R.SILENT_ACCOUNT: {("Quiet Co", ""), ("Seven Days Co", ""), ("Never Co", "")},
    R.STALE_DEAL: {("Stuck Co", "Stuck deal")},
    R.OVERDUE_TASK: {("Late Co", "Send certificates"), ("Late Co", "Call back")},
    R.OVERDUE_INVOICE: {("Owes Co", "INV-1")},
    R.UPSELL: {("Won Co", ""), ("Happy Co", "")},
}


def build_world(factory) -> World:
    world = World()
    with UnitOfWork(factory) as uow:
        _people(uow.session, world)
        builder = Builder(uow.session, world)
        for part in (_silent, _deals, _tasks, _invoices, _upsells):
            part(builder)
        _other_org(uow.session)
        uow.commit()
    return world


def _other_org(session) -> None:
    """A silent customer in another org: no scan of ours may touch it."""
    org_id = _new_org(session, "T2")
    session.add(Customer(org_id=org_id, external_id="X", name="Elsewhere Co"))
    session.flush()


def scan(factory, world: World, at: datetime = NOW, **kw):
    with UnitOfWork(factory) as uow:
        result = uow.suggestions.scan(world.org_id, now=at, **kw)
        uow.commit()
    return result


def rows(factory, world: World, status: SuggestionStatus | None = None) -> list[Suggestion]:
    with UnitOfWork(factory) as uow:
        stmt = select(Suggestion).where(Suggestion.org_id == world.org_id)
        if status is not None:
            stmt = stmt.where(Suggestion.status == status)
        return list(uow.session.scalars(stmt.order_by(Suggestion.id)))


def one(factory, world: World, rule: SuggestionRule, customer: str, subject: str = ""):
    key = fingerprint(world.customers[customer], rule, subject)
    with UnitOfWork(factory) as uow:
        return uow.session.scalars(
            select(Suggestion).where(
                Suggestion.org_id == world.org_id, Suggestion.fingerprint == key
            )
        ).one()


def _subject_name(world: World, rule: SuggestionRule, subject: str) -> str:
    by_id = {
        R.STALE_DEAL: world.deals,
        R.OVERDUE_TASK: world.tasks,
        R.OVERDUE_INVOICE: world.invoices,
    }.get(rule, {})
    return next((name for name, id_ in by_id.items() if str(id_) == subject), subject)


def fired(factory, world: World) -> dict[SuggestionRule, set[tuple[str, str]]]:
    """Open suggestions as {rule: {(customer name, subject name)}}."""
    names = {id_: name for name, id_ in world.customers.items()}
    found: dict[SuggestionRule, set[tuple[str, str]]] = {rule: set() for rule in R}
    for s in rows(factory, world, SuggestionStatus.OPEN):
        found[s.rule].add((names[s.customer_id], _subject_name(world, s.rule, s.subject)))
    return found


# --- which customers each rule fires on ---------------------------------------------------


def test_each_rule_fires_on_exactly_the_expected_customers(any_factory):
    world = build_world(any_factory)
    result = scan(any_factory, world)
    assert fired(any_factory, world) == EXPECTED
    assert {rule: r.open for rule, r in result.rules.items()} == {
        rule: len(expected) for rule, expected in EXPECTED.items()
    }
    assert all(r.opened == r.open and r.resolved == 0 for r in result.rules.values())
    with UnitOfWork(any_factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Suggestion)) == result.open


def test_a_scan_of_an_empty_crm_reports_every_rule_at_zero(any_factory):
    with UnitOfWork(any_factory) as uow:
        org_id = _new_org(uow.session, "T_EMPTY")
        result = uow.suggestions.scan(org_id, now=NOW)
    assert result.rules == dict.fromkeys(R, RuleScan()) and result.open == 0


def test_owner_is_who_can_act_and_the_action_fits_the_rule(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    stuck = one(any_factory, world, R.STALE_DEAL, "Stuck Co", str(world.deals["Stuck deal"]))
    bobs_task = str(world.tasks["Send certificates"])
    unassigned = str(world.tasks["Call back"])
    assert stuck.owner_id == world.bob  # the deal's owner
    assert one(any_factory, world, R.OVERDUE_TASK, "Late Co", bobs_task).owner_id == world.bob
    assert one(any_factory, world, R.OVERDUE_TASK, "Late Co", unassigned).owner_id == world.ann
    assert one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co").owner_id == world.ann
    actions = {s.rule: s.proposed_action for s in rows(any_factory, world)}
    assert actions == {**dict.fromkeys(R, DraftKind.EMAIL), R.UPSELL: DraftKind.ORDER}


def test_scores_titles_and_reasoning_follow_the_documented_formulas(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    never = one(any_factory, world, R.SILENT_ACCOUNT, "Never Co")
    stuck = one(any_factory, world, R.STALE_DEAL, "Stuck Co", str(world.deals["Stuck deal"]))
    owes = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", str(world.invoices["INV-1"]))
    won = one(any_factory, world, R.UPSELL, "Won Co")
    happy = one(any_factory, world, R.UPSELL, "Happy Co")
    assert quiet.priority_score == 30 + 1 + 0  # base + days past 7 + no open pipeline
    assert never.priority_score == 30 + 30 + 0  # never: full age points
    assert stuck.priority_score == 35 + 1 + 20  # 15 days in stage, 30 k: second band
    assert owes.priority_score == 40 + 10 + 30  # 10 days overdue, 120 k: third band
    assert won.priority_score == 20 + 25 + 10  # won 5 days ago, 8 k: first band
    assert happy.priority_score == 20 + 27 + 0  # a meeting carries no amount
    assert quiet.title == "Quiet Co: no activity for 8 days"
    assert never.title == "Never Co: no activity on record"
    assert owes.title == "Owes Co: invoice INV-1 is overdue"
    assert (
        owes.reasoning == "Invoice INV-1 for 120,000 EUR was due 10 days ago and is still unpaid."
    )
    assert stuck.reasoning.startswith("The 30,000 EUR deal has been in proposal for 15 days")
    assert "signed 'Fleet renewal' (8,000 EUR) 5 days ago" in won.reasoning
    assert 'positive meeting 3 days ago ("They were happy with the pilot' in happy.reasoning


# --- scanning again ------------------------------------------------------------------------


def test_a_rescan_refreshes_open_suggestions_and_never_duplicates(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    before = {s.fingerprint: s for s in rows(any_factory, world)}
    later = NOW + timedelta(hours=30)
    second = scan(any_factory, world, later)
    after = {s.fingerprint: s for s in rows(any_factory, world)}
    assert len(rows(any_factory, world)) == len(after)  # one row per fingerprint
    assert set(before) <= set(after)
    quiet = after[fingerprint(world.customers["Quiet Co"], R.SILENT_ACCOUNT)]
    assert quiet.first_seen_at == NOW and quiet.last_seen_at == later
    assert quiet.priority_score == 30 + 2 and quiet.title.endswith("for 9 days")
    # 30 hours on, three near misses have crossed their thresholds, and only they are new.
    assert set(after) - set(before) == {
        fingerprint(world.customers["Six Days Co"], R.SILENT_ACCOUNT),
        fingerprint(world.customers["Moving Co"], R.STALE_DEAL, str(world.deals["Moving deal"])),
        fingerprint(
            world.customers["On Time Co"], R.OVERDUE_TASK, str(world.tasks["Due tomorrow"])
        ),
    }
    assert second.rules[R.SILENT_ACCOUNT].opened == 1


def test_a_suggestion_whose_condition_is_gone_is_resolved_by_the_next_scan(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    with UnitOfWork(any_factory) as uow:
        uow.session.get(Invoice, world.invoices["INV-1"]).paid_at = NOW
        uow.session.get(Task, world.tasks["Call back"]).status = TaskStatus.DONE
        uow.commit()
    later = NOW + timedelta(hours=1)
    result = scan(any_factory, world, later)
    invoice = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", str(world.invoices["INV-1"]))
    task = one(any_factory, world, R.OVERDUE_TASK, "Late Co", str(world.tasks["Call back"]))
    assert invoice.status == task.status == SuggestionStatus.RESOLVED
    assert invoice.resolved_at == later
    assert result.rules[R.OVERDUE_INVOICE] == RuleScan(open=0, opened=0, resolved=1)
    assert fired(any_factory, world)[R.OVERDUE_TASK] == {("Late Co", "Send certificates")}


def test_a_resolved_suggestion_reopens_when_its_condition_returns(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    with UnitOfWork(any_factory) as uow:
        uow.session.get(Task, world.tasks["Call back"]).status = TaskStatus.DONE
        uow.commit()
    scan(any_factory, world, NOW + timedelta(hours=1))
    with UnitOfWork(any_factory) as uow:
        uow.session.get(Task, world.tasks["Call back"]).status = TaskStatus.OPEN
        uow.commit()
    again = NOW + timedelta(hours=2)
    scan(any_factory, world, again)
    task = one(any_factory, world, R.OVERDUE_TASK, "Late Co", str(world.tasks["Call back"]))
    assert (task.status, task.first_seen_at, task.resolved_at) == (
        SuggestionStatus.OPEN,
        again,
        None,
    )


# --- people's decisions --------------------------------------------------------------------


def _decide(factory, world, action, suggestion, **kw):
    with UnitOfWork(factory) as uow:
        won = getattr(uow.suggestions, action)(
            world.org_id, suggestion.id, by_user_id=world.ann, **kw
        )
        uow.commit()
    return won


def test_a_dismissed_suggestion_stays_quiet_for_its_period_then_returns(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    assert _decide(any_factory, world, "dismiss", quiet, at=NOW, reason="on holiday")
    for days in (1, 29):
        scan(any_factory, world, NOW + days * DAY)
        still = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
        assert (still.status, still.dismiss_reason) == (SuggestionStatus.DISMISSED, "on holiday")
    back_at = NOW + 30 * DAY
    scan(any_factory, world, back_at)
    back = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    assert back.id == quiet.id and back.status == SuggestionStatus.OPEN
    assert (back.first_seen_at, back.decided_by_id, back.dismiss_reason) == (back_at, None, None)
    assert back.title == "Quiet Co: no activity for 38 days"


def test_quiet_periods_are_configurable(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    _decide(any_factory, world, "dismiss", quiet, at=NOW)
    scan(any_factory, world, NOW + 3 * DAY, thresholds=Thresholds(dismiss_quiet_days=3))
    assert one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co").status == SuggestionStatus.OPEN


def test_a_snoozed_suggestion_stays_quiet_until_its_time_then_returns(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    owes = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", str(world.invoices["INV-1"]))
    until = NOW + 7 * DAY
    assert _decide(any_factory, world, "snooze", owes, at=NOW, until=until)
    scan(any_factory, world, until - timedelta(minutes=1))
    snoozed = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", owes.subject)
    assert (snoozed.status, snoozed.snoozed_until) == (SuggestionStatus.SNOOZED, until)
    scan(any_factory, world, until)
    back = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", owes.subject)
    assert (back.status, back.snoozed_until, back.nudged_at) == (SuggestionStatus.OPEN, None, None)


def test_a_snooze_must_end_after_it_starts(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    with pytest.raises(ValueError, match="must end after"):
        _decide(any_factory, world, "snooze", quiet, at=NOW, until=NOW)


def test_of_two_decisions_on_one_card_only_the_first_counts(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    assert _decide(any_factory, world, "accept", quiet, at=NOW)
    assert not _decide(any_factory, world, "accept", quiet, at=NOW)
    assert not _decide(any_factory, world, "dismiss", quiet, at=NOW, reason="late click")
    accepted = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    assert (accepted.status, accepted.decided_by_id, accepted.decided_at) == (
        SuggestionStatus.ACCEPTED,
        world.ann,
        NOW,
    )
    with UnitOfWork(any_factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(SuggestionDecision)) == 1


def test_acceptance_rate_per_rule_counts_every_decision_even_after_a_reopen(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    never = one(any_factory, world, R.SILENT_ACCOUNT, "Never Co")
    owes = one(any_factory, world, R.OVERDUE_INVOICE, "Owes Co", str(world.invoices["INV-1"]))
    _decide(any_factory, world, "dismiss", quiet, at=NOW)
    _decide(any_factory, world, "accept", never, at=NOW)
    _decide(any_factory, world, "snooze", owes, at=NOW, until=NOW + DAY)
    scan(any_factory, world, NOW + 30 * DAY)  # Quiet Co's dismissal is over: reopened
    _decide(any_factory, world, "accept", quiet, at=NOW + 30 * DAY)
    with UnitOfWork(any_factory) as uow:
        rates = uow.suggestions.acceptance_by_rule(world.org_id, since=NOW, until=NOW + 31 * DAY)
        earlier = uow.suggestions.acceptance_by_rule(world.org_id, since=NOW, until=NOW + DAY)
    silent = rates[R.SILENT_ACCOUNT]
    assert (silent.accepted, silent.dismissed, silent.rate) == (2, 1, 2 / 3)
    assert rates[R.OVERDUE_INVOICE].snoozed == 1 and rates[R.OVERDUE_INVOICE].rate is None
    assert earlier[R.SILENT_ACCOUNT].rate == 0.5


def test_an_accepted_suggestion_links_to_its_draft_only_once_accepted(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    with UnitOfWork(any_factory) as uow:
        draft = Draft(
            org_id=world.org_id,
            customer_id=world.customers["Quiet Co"],
            kind=DraftKind.EMAIL,
            content_hash="0" * 64,
            expires_at=NOW + DAY,
            agent="drafting",
            prompt_version="drafting@1",
            model="offline",
        )
        uow.session.add(draft)
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        assert not uow.suggestions.attach_draft(world.org_id, quiet.id, draft.id)  # still open
    _decide(any_factory, world, "accept", quiet, at=NOW)
    with UnitOfWork(any_factory) as uow:
        assert uow.suggestions.attach_draft(world.org_id, quiet.id, draft.id)
        uow.commit()
    assert one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co").draft_id == draft.id


# --- new activity --------------------------------------------------------------------------


def test_new_activity_resolves_the_silent_account_suggestion_at_once(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    at = NOW + timedelta(hours=1)
    with UnitOfWork(any_factory) as uow:
        customer_id = world.customers["Quiet Co"]
        backdated = uow.suggestions.resolve_silent_account(
            world.org_id, customer_id, activity_at=NOW - 10 * DAY, now=at
        )
        uow.session.add(
            Activity(
                org_id=world.org_id,
                customer_id=customer_id,
                kind="call",
                summary="Caught up with the buyer.",
                occurred_at=at,
            )
        )
        resolved = uow.suggestions.resolve_silent_account(
            world.org_id, customer_id, activity_at=at, now=at
        )
        uow.commit()
    assert (backdated, resolved) == (0, 1)
    quiet = one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co")
    assert (quiet.status, quiet.resolved_at) == (SuggestionStatus.RESOLVED, at)
    assert one(any_factory, world, R.SILENT_ACCOUNT, "Never Co").status == SuggestionStatus.OPEN
    scan(any_factory, world, at + timedelta(hours=1))
    assert one(any_factory, world, R.SILENT_ACCOUNT, "Quiet Co").status == SuggestionStatus.RESOLVED


# --- what the bot reads --------------------------------------------------------------------


def test_a_reps_top_suggestions_skip_those_nudged_in_the_window(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    window = NOW - timedelta(hours=12)
    with UnitOfWork(any_factory) as uow:
        top = uow.suggestions.top_for_rep(world.org_id, world.ann, not_nudged_since=window, limit=3)
        scores = [s.priority_score for s in top]
        assert uow.suggestions.mark_nudged(world.org_id, [s.id for s in top], at=NOW) == 3
        uow.commit()
    assert scores == [80, 60, 55]  # Owes Co's invoice, Never Co, Won Co's upsell
    assert all(s.owner_id == world.ann for s in top)
    with UnitOfWork(any_factory) as uow:
        rest = uow.suggestions.top_for_rep(world.org_id, world.ann, not_nudged_since=window)
        next_window = uow.suggestions.top_for_rep(
            world.org_id, world.ann, not_nudged_since=NOW + DAY, limit=50
        )
        owners = uow.suggestions.owners_to_nudge(world.org_id, not_nudged_since=window)
    assert not {s.id for s in top} & {s.id for s in rest}
    assert {s.id for s in top} <= {s.id for s in next_window}
    assert owners == sorted([world.ann, world.bob])


def test_the_team_summary_counts_open_suggestions_per_rule_and_rep(any_factory):
    world = build_world(any_factory)
    scan(any_factory, world)
    with UnitOfWork(any_factory) as uow:
        org = uow.suggestions.open_summary(world.org_id)
        bobs = uow.suggestions.open_summary(world.org_id, owner_ids=[world.bob])
    assert org.total == sum(len(v) for v in EXPECTED.values())
    assert org.by_rule == {rule: len(v) for rule, v in EXPECTED.items()}
    assert org.by_owner == {world.ann: org.total - 2, world.bob: 2}
    assert bobs.by_owner_rule == {(world.bob, R.STALE_DEAL): 1, (world.bob, R.OVERDUE_TASK): 1}


# --- two scans at once ---------------------------------------------------------------------


@pytest.mark.postgres
def test_two_concurrent_scans_leave_one_row_per_fingerprint(pg_factory):
    world = build_world(pg_factory)
    with UnitOfWork(pg_factory) as uow:  # compile every statement before racing
        uow.suggestions.scan(world.org_id, now=NOW)
    expected = sum(len(v) for v in EXPECTED.values())
    for round_ in range(5):
        with UnitOfWork(pg_factory) as uow:
            if round_ % 2 == 0:  # even rounds race on inserts, odd ones on updates
                uow.session.execute(delete(Suggestion))
            uow.commit()
        errors = _race(pg_factory, world, NOW + round_ * timedelta(minutes=1))
        assert errors == []
        fingerprints = [s.fingerprint for s in rows(pg_factory, world)]
        assert len(fingerprints) == len(set(fingerprints)) == expected


def _race(factory, world: World, at: datetime) -> list[BaseException]:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def contender() -> None:
        try:
            with UnitOfWork(factory) as uow:
                barrier.wait()
                uow.suggestions.scan(world.org_id, now=at)
                uow.commit()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
