"""The digest's numbers come from ledger rows, in org-local days, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from agents.costs.digest import budget_warnings, build_digest, digest_day
from storage.limits import MemoryCounters
from storage.models import (
    BudgetMetric,
    BudgetPeriod,
    BudgetScope,
    CallStatus,
    Customer,
    LLMCall,
    User,
)
from storage.models.enums import Role
from storage.uow import UnitOfWork
from tests.agents.metering_fixtures import (
    InstantModel,
    attribution,
    guard,
    make_world,
    meter,
    request,
)

DAY = date(2027, 1, 19)  # a Tuesday
NOW = datetime(2027, 1, 20, 8, 30, tzinfo=UTC)
CENT = 10_000  # µUSD


def _call(world, day: date, cost: int, **fields) -> LLMCall:
    values = {
        "created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        "org_id": world.org_id,
        "user_id": world.rep_id,
        "customer_id": world.customer_id,
        "agent": "customer",
        "request_type": "chat",
        "model": "claude-sonnet-5-5",
        "input_tokens": 100,
        "output_tokens": 10,
        "cost_micro_usd": cost,
        "status": CallStatus.OK,
    }
    return LLMCall(**(values | fields))


def _record(world, *calls_and_days) -> None:
    with UnitOfWork(world.factory) as uow:
        for day, call in calls_and_days:
            uow.usage.record(call, day=day)
        uow.commit()


def _digest(world, budgets=None, day=DAY, now=NOW):
    budgets = budgets or guard(world, MemoryCounters())
    return build_digest(world.factory, budgets, world.org_id, day, now=now)


def test_spend_is_compared_with_the_day_before_and_the_same_weekday_last_week(any_factory):
    world = make_world(any_factory)
    week_ago, day_before = DAY - timedelta(days=7), DAY - timedelta(days=1)
    _record(
        world,
        (DAY, _call(world, DAY, 30 * CENT)),
        (DAY, _call(world, DAY, 20 * CENT)),
        (day_before, _call(world, day_before, 40 * CENT)),
        (week_ago, _call(world, week_ago, 100 * CENT)),
        (DAY + timedelta(days=1), _call(world, DAY, 999 * CENT)),  # today: not in the digest
    )
    digest = _digest(world)
    assert digest.cost == 50 * CENT and digest.totals.requests == 2
    assert (digest.vs_day_before.previous, digest.vs_day_before.pct) == (40 * CENT, 25)
    assert (digest.vs_week_before.previous, digest.vs_week_before.pct) == (100 * CENT, -50)
    assert digest.week_before == date(2027, 1, 12) and digest.day_before == date(2027, 1, 18)


def test_nothing_to_compare_with_gives_no_percentage(any_factory):
    world = make_world(any_factory)
    _record(world, (DAY, _call(world, DAY, CENT)))
    digest = _digest(world)
    assert digest.vs_day_before.pct is None and digest.vs_week_before.pct is None


def test_top_lists_rank_by_cost_with_names_and_stop_at_five(any_factory):
    world = make_world(any_factory)
    with UnitOfWork(any_factory) as uow:
        people = [
            User(org_id=world.org_id, email=f"p{n}@acme.test", name=f"Person {n}", role=Role.REP)
            for n in range(6)
        ]
        uow.session.add_all(people)
        uow.flush()
        ids = [person.id for person in people]
        uow.commit()
    rows = [(DAY, _call(world, DAY, (n + 1) * CENT, user_id=uid)) for n, uid in enumerate(ids)]
    rows.append((DAY, _call(world, DAY, CENT // 2, user_id=None, agent="triage")))
    _record(world, *rows)
    digest = _digest(world)
    assert [r.label for r in digest.top_users] == [f"Person {n}" for n in (5, 4, 3, 2, 1)]
    assert digest.top_users[0].cost_micro_usd == 6 * CENT
    assert [(r.label, r.requests) for r in digest.top_agents] == [("customer", 6), ("triage", 1)]
    assert [r.label for r in digest.top_customers] == ["Halvorsen Marine"]


def test_cache_savings_and_failures_are_the_days_own(any_factory):
    world = make_world(any_factory)
    _record(
        world,
        (DAY, _call(world, DAY, 0, status=CallStatus.CACHED, saved_micro_usd=7 * CENT)),
        (DAY, _call(world, DAY, 3 * CENT, saved_micro_usd=2 * CENT)),  # prompt-cache reads
        (DAY, _call(world, DAY, 0, status=CallStatus.ERROR, error="overloaded")),
        (DAY, _call(world, DAY, 0, status=CallStatus.ERROR, error="timeout")),
        (DAY - timedelta(days=1), _call(world, DAY, 0, status=CallStatus.ERROR)),
    )
    totals = _digest(world).totals
    assert totals.response_cache_saved_micro_usd == 7 * CENT
    assert totals.prompt_cache_saved_micro_usd == 2 * CENT
    assert (totals.errors, totals.requests) == (2, 4)


def test_thirty_day_series_ends_on_the_day_and_fills_gaps_with_zero(any_factory):
    world = make_world(any_factory)
    spend = {DAY: 5 * CENT, DAY - timedelta(days=3): 2 * CENT, DAY - timedelta(days=29): CENT}
    outside = DAY - timedelta(days=30)
    _record(
        world,
        *[(day, _call(world, day, cost)) for day, cost in spend.items()],
        (outside, _call(world, outside, 50 * CENT)),
    )
    series = _digest(world).series
    assert len(series) == 30
    assert series[0][0] == DAY - timedelta(days=29) and series[-1][0] == DAY
    assert [d for d, _ in series] == sorted({d for d, _ in series})
    assert dict(series) == {d: spend.get(d, 0) for d, _ in series}


def test_month_to_date_runs_from_the_first_through_the_day_against_the_monthly_budget(
    any_factory,
):
    world = make_world(any_factory)
    dec31, jan1 = date(2026, 12, 31), date(2027, 1, 1)
    _record(
        world,
        (dec31, _call(world, dec31, 500 * CENT)),
        (jan1, _call(world, jan1, 100 * CENT)),
        (DAY, _call(world, DAY, 100 * CENT)),
    )
    month = _digest(world, guard(world, MemoryCounters(), monthly_quota_usd=10.0)).month
    assert (month.start, month.spent, month.limit) == (jan1, 200 * CENT, 10_000_000)
    assert month.pct == 20
    assert (month.days_elapsed, month.days_in_month) == (19, 31)
    assert month.projected == 200 * CENT * 31 // 19
    unlimited = _digest(world, guard(world, MemoryCounters(), monthly_quota_usd=-1)).month
    assert unlimited.limit is None and unlimited.pct is None


@pytest.mark.parametrize(
    ("zone", "late_utc", "after_midnight_utc"),
    [
        # 23:30 local on the 19th is in the digest; 00:30 local on the 20th is not.
        ("Europe/Oslo", datetime(2027, 1, 19, 22, 30), datetime(2027, 1, 19, 23, 30)),
        ("America/Los_Angeles", datetime(2027, 1, 20, 7, 30), datetime(2027, 1, 20, 8, 30)),
    ],
)
def test_days_follow_the_orgs_timezone(any_factory, zone, late_utc, after_midnight_utc):
    world = make_world(any_factory, timezone=zone)
    model = InstantModel(input_tokens=1_000, output_tokens=0)  # 2 000 µUSD a call
    for at in (late_utc.replace(tzinfo=UTC), after_midnight_utc.replace(tzinfo=UTC)):
        meter(world, clock=lambda at=at: at).bind(model, attribution(world)).create(request())
    budgets = guard(world, MemoryCounters())
    # 08:30 local on the 20th in either zone reports the 19th
    local_morning = datetime(2027, 1, 20, 8, 30, tzinfo=budgets.timezone(world.org_id))
    day = digest_day(local_morning, budgets, world.org_id)
    assert day == DAY
    digest = _digest(world, budgets, day=day, now=local_morning)
    assert (digest.totals.requests, digest.cost) == (1, 2_000)
    assert digest.series[-1] == (DAY, 2_000) and digest.timezone == zone
    tomorrow = _digest(world, budgets, day=DAY + timedelta(days=1), now=local_morning)
    assert (tomorrow.totals.requests, tomorrow.cost) == (1, 2_000)


def _budget(world, scope, target, limit, *, period=BudgetPeriod.DAY, soft=80, metric=None):
    with UnitOfWork(world.factory) as uow:
        uow.budgets.put(
            world.org_id,
            scope=scope,
            target=target,
            period=period,
            metric=metric or BudgetMetric.COST,
            limit_value=limit,
            soft_pct=soft,
            updated_by_id=None,
        )
        uow.commit()


def test_warnings_list_budgets_over_their_threshold_now_and_each_user_over_it(any_factory):
    world = make_world(any_factory)
    today = NOW.date()
    _budget(world, BudgetScope.ORG, "", 100 * CENT)  # $1.00 a day, alert at 80 %
    _budget(world, BudgetScope.USER, "*", 40 * CENT)  # each person: $0.40 a day
    _budget(world, BudgetScope.USER, str(world.other_rep_id), 10 * CENT)  # Leo: his own $0.10
    _budget(world, BudgetScope.CUSTOMER, "*", 100 * CENT, soft=90)
    _record(
        world,
        (today, _call(world, today, 45 * CENT)),  # Maya: over her $0.40
        (today, _call(world, today, 30 * CENT, user_id=world.other_rep_id)),  # Leo: 300 %
        (today, _call(world, today, 10 * CENT, user_id=None)),  # nobody's: org only
        (DAY, _call(world, DAY, 500 * CENT)),  # yesterday: another period
    )
    warnings = budget_warnings(world.factory, guard(world, MemoryCounters()), world.org_id, NOW)
    shown = [(w.budget, w.used, w.limit, w.hit) for w in warnings]
    assert shown == [
        ("Leo Okafor's daily budget", 30 * CENT, 10 * CENT, True),
        ("Maya Chen's daily budget", 45 * CENT, 40 * CENT, True),
        ("the org's daily budget", 85 * CENT, 100 * CENT, False),
    ]  # Leo once (his own budget, not the "each user" one); the customer is at 85 % < 90 %
    assert warnings[-1].pct == 85
    assert warnings[0].resets_at == datetime(2027, 1, 21, tzinfo=UTC)


def test_call_limits_count_only_calls_that_reached_the_model(any_factory):
    world = make_world(any_factory)
    today = NOW.date()
    _budget(world, BudgetScope.ORG, "", 4, metric=BudgetMetric.REQUESTS, soft=75)
    ok, error, cached = CallStatus.OK, CallStatus.ERROR, CallStatus.CACHED
    _record(world, *[(today, _call(world, today, 0, status=s)) for s in (ok, ok, error, cached)])
    assert budget_warnings(world.factory, guard(world, MemoryCounters()), world.org_id, NOW) == []
    _record(world, (today, _call(world, today, 0)))
    [warning] = budget_warnings(world.factory, guard(world, MemoryCounters()), world.org_id, NOW)
    assert (warning.budget, warning.used, warning.limit) == ("the org's daily call limit", 3, 4)


def test_a_customers_own_budget_is_named(any_factory):
    world = make_world(any_factory)
    with UnitOfWork(any_factory) as uow:
        other = Customer(org_id=world.org_id, external_id="C-2", name="Fjord Fisheries")
        uow.session.add(other)
        uow.flush()
        other_id = other.id
        uow.commit()
    _budget(world, BudgetScope.CUSTOMER, str(other_id), 10 * CENT, period=BudgetPeriod.MONTH)
    today = NOW.date()
    _record(world, (today, _call(world, today, 9 * CENT, customer_id=other_id)))
    [warning] = budget_warnings(world.factory, guard(world, MemoryCounters()), world.org_id, NOW)
    assert warning.budget == "Fjord Fisheries's monthly budget"
    assert warning.resets_at == datetime(2027, 2, 1, tzinfo=UTC)
