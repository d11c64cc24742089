"""Report numbers from ledger rows written the way the Meter writes them, on SQLite and
PostgreSQL: totals, breakdown order, deltas, budgets' use and the org-local day boundary."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from agents.costs import report as reports
from agents.costs.periods import period
from agents.metering import PriceCatalog
from agents.metering.meter import Meter
from agents.metering.rules import default_rules, effective_rules
from agents.metering.settings import CostSettings
from storage.models import (
    Budget,
    BudgetMetric,
    BudgetPeriod,
    BudgetScope,
    CallStatus,
    Customer,
    LLMCall,
    Role,
)
from storage.uow import UnitOfWork

LA = ZoneInfo("America/Los_Angeles")
# 03:00 UTC on Tuesday 10 March 2026 is 20:00 on Monday 9 March in Los Angeles (PDT).
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"


@dataclass
class World:
    factory: object
    org_id: int
    maya: int
    leo: int
    halvorsen: int
    baltic: int


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def record(world, at, *, user, cost, customer=None, model=SONNET, status=CallStatus.OK, **kw):
    """One ledger row and its roll-up, on the org-local day the Meter would pick."""
    meter = Meter(factory=world.factory, catalog=PriceCatalog.load())
    row = LLMCall(
        created_at=at,
        org_id=world.org_id,
        user_id=user,
        customer_id=customer,
        agent=kw.pop("agent", "account"),
        request_type=kw.pop("request_type", "chat"),
        model=model,
        input_tokens=kw.pop("input_tokens", 1000),
        output_tokens=kw.pop("output_tokens", 100),
        cost_micro_usd=cost,
        status=status,
        **kw,
    )
    with UnitOfWork(world.factory) as uow:
        uow.usage.record(row, day=meter.local_day(world.org_id, at, uow))
        uow.commit()


def make_world(factory, tz="America/Los_Angeles") -> World:
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id="T_COST", name="Cost Co")
        org.timezone = tz
        maya = uow.orgs.add_user(org_id=org.id, email="maya@x.dev", name="Maya Chen")
        leo = uow.orgs.add_user(org_id=org.id, email="leo@x.dev", name="Leo Okafor")
        uow.orgs.add_user(org_id=org.id, email="priya@x.dev", name="Priya N", role=Role.ADMIN)
        halvorsen = Customer(org_id=org.id, external_id="CUST-HALV", name="Halvorsen Marine")
        baltic = Customer(org_id=org.id, external_id="CUST-BALT", name="Baltic Tug & Salvage")
        uow.session.add_all([halvorsen, baltic])
        uow.flush()
        world = World(factory, org.id, maya.id, leo.id, halvorsen.id, baltic.id)
        uow.commit()
    return world


@pytest.fixture
def world(any_factory) -> World:
    """Rows around the week of Monday 9 March 2026 (local), in Los Angeles."""
    w = make_world(any_factory)
    record(w, _at(2026, 3, 10, 3, 0), user=w.maya, customer=w.halvorsen, cost=3_000_000)
    record(w, _at(2026, 3, 9, 8, 0), user=w.maya, cost=500_000, model=HAIKU)  # 01:00 local
    record(
        w,
        _at(2026, 3, 9, 20, 0),
        user=w.maya,
        customer=w.halvorsen,
        cost=0,
        status=CallStatus.CACHED,
        saved_micro_usd=3_000_000,
    )
    record(
        w,
        _at(2026, 3, 9, 21, 0),
        user=w.leo,
        cost=0,
        status=CallStatus.ERROR,
        input_tokens=0,
        output_tokens=0,
    )
    # 23:00 on Sunday 8 March, local: yesterday (and last week)
    record(w, _at(2026, 3, 9, 6, 0), user=w.leo, customer=w.baltic, cost=1_000_000)
    record(w, _at(2026, 3, 2, 20, 0), user=w.leo, cost=250_000, request_type="command")
    record(w, _at(2026, 2, 15, 20, 0), user=w.maya, cost=2_000_000)
    return w


@contextmanager
def reading(world):
    with UnitOfWork(world.factory) as uow:
        yield uow.usage


@pytest.fixture
def usage(world):
    with reading(world) as repository:
        yield repository


def _lines(report):
    return {line.label: line for line in report.lines}


def test_overview_totals_and_deltas_for_every_period(world, usage):
    report = reports.overview(usage, world.org_id, today=date(2026, 3, 9), tz=LA)
    lines = _lines(report)
    assert list(lines) == [
        "Today",
        "Yesterday",
        "This week",
        "This month",
        "Last month",
        "All time",
    ]
    today = lines["Today"]
    assert (today.current.requests, today.current.errors, today.current.cached_hits) == (4, 1, 1)
    assert today.current.cost_micro_usd == 3_500_000
    assert today.previous.cost_micro_usd == 1_000_000
    assert (today.delta, today.delta_pct) == (2_500_000, 250)
    assert today.current.tokens == 2 * 1100  # a cached hit processes none
    assert lines["Yesterday"].current.cost_micro_usd == 1_000_000
    assert lines["Yesterday"].delta_pct is None  # nothing the day before: no percentage
    week = lines["This week"]
    assert (week.current.cost_micro_usd, week.previous.cost_micro_usd) == (3_500_000, 250_000)
    month = lines["This month"]
    assert month.current.cost_micro_usd == 4_750_000
    assert month.previous.cost_micro_usd == 0  # 1–9 Feb; the February call was on the 15th
    assert lines["Last month"].current.cost_micro_usd == 2_000_000
    assert lines["All time"].current.cost_micro_usd == 6_750_000
    assert lines["All time"].previous is None and lines["All time"].delta is None
    assert report.saved.response_cache_saved_micro_usd == 3_000_000
    assert report.timezone == "America/Los_Angeles"


def test_a_call_at_3am_utc_belongs_to_the_previous_local_day(any_factory):
    w = make_world(any_factory)
    record(w, _at(2026, 3, 10, 3, 0), user=w.maya, cost=7_000)
    with reading(w) as usage:
        _check_boundary(w, usage)


def _check_boundary(w, usage):
    assert usage.daily_cost(w.org_id, date(2026, 3, 1), date(2026, 4, 1)) == {
        date(2026, 3, 9): 7_000
    }
    today = reports.local_today(NOW, LA)
    assert today == date(2026, 3, 9)
    lines = _lines(reports.overview(usage, w.org_id, today=today, tz=LA))
    assert lines["Today"].current.cost_micro_usd == 7_000
    later = reports.local_today(_at(2026, 3, 10, 20, 0), LA)  # 13:00 on the 10th, local
    lines = _lines(reports.overview(usage, w.org_id, today=later, tz=LA))
    assert lines["Today"].current.cost_micro_usd == 0
    assert lines["Yesterday"].current.cost_micro_usd == 7_000


def test_the_same_instant_is_the_next_day_for_an_org_on_utc(any_factory):
    w = make_world(any_factory, tz="UTC")
    record(w, _at(2026, 3, 10, 3, 0), user=w.maya, cost=7_000)
    with reading(w) as usage:
        days = usage.daily_cost(w.org_id, date(2026, 3, 1), date(2026, 4, 1))
    assert days == {date(2026, 3, 10): 7_000}


def test_user_breakdown_is_ordered_by_cost_with_each_users_own_delta(world, usage):
    report = reports.breakdown(usage, world.org_id, "user", "week", today=date(2026, 3, 9), tz=LA)
    maya, leo = report.lines
    assert (maya.label, maya.current.cost_micro_usd, maya.previous.cost_micro_usd) == (
        "Maya Chen",
        3_500_000,
        0,
    )
    assert (leo.label, leo.current.cost_micro_usd, leo.previous.cost_micro_usd) == (
        "Leo Okafor",
        0,
        250_000,
    )
    assert (leo.delta, leo.delta_pct) == (-250_000, -100)
    assert report.total.current.cost_micro_usd == 3_500_000
    assert report.total.previous.cost_micro_usd == 250_000
    assert report.compared_with == "same days last week"


def test_a_breakdown_past_its_limit_sums_the_rest_into_one_line(world, usage):
    report = reports.breakdown(
        usage, world.org_id, "user", "month", today=date(2026, 3, 9), tz=LA, limit=1
    )
    top, rest = report.lines
    assert (top.label, top.current.cost_micro_usd) == ("Maya Chen", 3_500_000)
    assert (rest.label, rest.current.cost_micro_usd, rest.current.requests) == (
        "Everyone else",
        1_250_000,
        3,
    )
    assert sum(line.current.cost_micro_usd for line in report.lines) == (
        report.total.current.cost_micro_usd
    )


def test_customer_model_and_type_breakdowns_have_readable_labels(world, usage):
    today = date(2026, 3, 9)
    by_customer = reports.breakdown(usage, world.org_id, "customer", "month", today=today, tz=LA)
    assert [(line.label, line.current.cost_micro_usd) for line in by_customer.lines] == [
        ("Halvorsen Marine", 3_000_000),
        ("Baltic Tug & Salvage", 1_000_000),
        ("(none)", 750_000),
    ]
    by_model = reports.breakdown(usage, world.org_id, "model", "month", today=today, tz=LA)
    assert [line.label for line in by_model.lines] == [SONNET, HAIKU]
    by_type = reports.breakdown(usage, world.org_id, "request_type", "all", today=today, tz=LA)
    assert [(line.label, line.previous) for line in by_type.lines] == [
        ("chat", None),
        ("command", None),
    ]


def test_a_persons_report_counts_only_their_calls_and_their_budget(world, usage):
    rules = default_rules(CostSettings(), "team")
    report = reports.person(
        usage,
        world.org_id,
        rules,
        user_id=world.leo,
        name="Leo Okafor",
        period_name=None,
        now=NOW,
        tz=LA,
    )
    lines = _lines(report)
    assert lines["Today"].current.cost_micro_usd == 0
    assert lines["Today"].current.errors == 1
    assert lines["Yesterday"].current.cost_micro_usd == 1_000_000
    assert lines["All time"].current.cost_micro_usd == 1_250_000
    (daily,) = report.budgets
    assert daily.name == "Leo Okafor's daily budget"
    assert (daily.used, daily.rule.limit, daily.pct) == (0, 20_000_000, 0)
    assert daily.resets_at == datetime(2026, 3, 10, 0, 0, tzinfo=LA)


def test_budget_list_shows_every_rule_its_use_and_the_biggest_user(world, usage):
    override = Budget(
        org_id=world.org_id,
        scope=BudgetScope.USER,
        target=str(world.maya),
        period=BudgetPeriod.WEEK,
        metric=BudgetMetric.COST,
        limit_value=5_000_000,
        soft_pct=50,
    )
    rules = effective_rules(default_rules(CostSettings(), "team"), [override])
    statuses = reports.budget_statuses(usage, world.org_id, rules, now=NOW, tz=LA)
    by_name = {s.name: s for s in statuses}
    assert list(by_name) == [
        "the org's daily budget",
        "the plan's daily call limit",
        "the plan's monthly budget",
        "the plan's monthly call limit",
        "each user's daily budget",
        "Maya Chen's weekly budget",
    ]
    org_day = by_name["the org's daily budget"]
    assert (org_day.used, org_day.pct, org_day.rule.source) == (3_500_000, 3, "default")
    assert by_name["the plan's daily call limit"].used == 2  # the error and the hit ran nothing
    month = by_name["the plan's monthly budget"]
    assert (month.used, month.rule.source, month.resets_at) == (
        4_750_000,
        "plan team",
        datetime(2026, 4, 1, tzinfo=LA),
    )
    each = by_name["each user's daily budget"]
    assert (each.used, each.top) == (3_500_000, "Maya Chen")
    mine = by_name["Maya Chen's weekly budget"]
    assert (mine.used, mine.pct, mine.rule.source) == (3_500_000, 70, "admin")


def test_export_rows_carry_names_and_sum_to_the_reports_total(world, usage):
    today = date(2026, 3, 9)
    month = period("month", today)
    rows = reports.export_rows(usage, world.org_id, month, LA)
    assert sum(row.totals.cost_micro_usd for row in rows) == 4_750_000
    assert {(row.day, row.user, row.customer) for row in rows} >= {
        (date(2026, 3, 9), "Maya Chen", "Halvorsen Marine"),
        (date(2026, 3, 8), "Leo Okafor", "Baltic Tug & Salvage"),
        (date(2026, 3, 9), "Maya Chen", ""),
    }
    assert all(date(2026, 3, 1) <= row.day < date(2026, 3, 10) for row in rows)
