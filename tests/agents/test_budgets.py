"""Budgets hold before the call, on Redis, on the database fallback and in-process; they
fail closed when nothing can count."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import redis

from agents.errors import ModelUnavailableError
from agents.metering import PriceCatalog
from agents.metering.budgets import BudgetExceeded, Crossing, SpendingUnavailable
from agents.metering.estimate import estimate_micro_usd
from agents.metering.rules import CallScope
from storage.db import make_engine, session_factory
from storage.limits import MemoryCounters, RedisCounters
from storage.models import BudgetMetric, BudgetPeriod, BudgetScope
from storage.uow import UnitOfWork
from tests.agents.metering_fixtures import (
    MODEL,
    NOW,
    InstantModel,
    attribution,
    guard,
    ledger_spend,
    make_world,
    meter,
    request,
)

DOLLAR = 1_000_000
ONLY_ORG_DAILY = {"org_daily_budget_usd": 1.0, "user_daily_budget_usd": -1, "monthly_quota_usd": -1}
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_counters(redis_url):
    prefix = f"cs-test:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield RedisCounters(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def counters(request):
    if request.param == "memory":
        return MemoryCounters()
    return request.getfixturevalue("redis_counters")


def _admin_budget(world, scope, target, period, metric, limit):
    with UnitOfWork(world.factory) as uow:
        uow.budgets.put(
            world.org_id,
            scope=scope,
            target=target,
            period=period,
            metric=metric,
            limit_value=limit,
            soft_pct=80,
            updated_by_id=None,
        )
        uow.commit()


def dead_counters():
    return RedisCounters.from_url(DEAD_REDIS)


def _race(world, counters, *, n=20, **settings):
    """n requests at once, each ~10 % of a $1 budget; returns (admitted, refused, estimate)."""
    budgets = guard(world, counters, **(ONLY_ORG_DAILY | settings))
    model = InstantModel(input_tokens=500, output_tokens=9_000, delay=0.02)  # 91 000 µUSD each
    metered = meter(world, budgets)
    # Compile the statements once, uncontended: SQLAlchemy's first compile of an ORM
    # statement is not safe to race (see tests/agents/test_draft_concurrency.py warm_up).
    budgets.reserve(CallScope(world.org_id, world.rep_id, None, "chat"), 1).release()
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def one() -> None:
        llm = metered.bind(model, attribution(world))
        barrier.wait()
        try:
            llm.create(request(max_tokens=10_000))
            outcomes.append("admitted")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    price = PriceCatalog.load().price(MODEL, NOW)
    return (
        outcomes.count("admitted"),
        outcomes.count("refused"),
        estimate_micro_usd(request(max_tokens=10_000), price),
    )


def _assert_budget_held(world, admitted, refused, estimate):
    calls, spent = ledger_spend(world)
    assert admitted + refused == 20
    assert calls == admitted and admitted >= 5 and refused >= 5
    assert spent <= DOLLAR + estimate  # the acceptance bound
    assert spent <= DOLLAR  # reservations in fact admit nothing past the budget


@pytest.mark.redis
def test_twenty_racing_requests_never_overspend_on_redis(pg_factory, redis_counters):
    world = make_world(pg_factory)
    _assert_budget_held(world, *_race(world, redis_counters))


def test_twenty_racing_requests_never_overspend_on_the_database_fallback(pg_factory):
    world = make_world(pg_factory)
    _assert_budget_held(world, *_race(world, dead_counters()))


def test_twenty_racing_requests_never_overspend_in_process(sqlite_factory):
    world = make_world(sqlite_factory)
    _assert_budget_held(world, *_race(world, MemoryCounters()))


def test_with_redis_down_and_no_fallback_nothing_is_spent(pg_factory):
    world = make_world(pg_factory)
    model = InstantModel()
    llm = meter(world, guard(world, dead_counters(), budget_fallback=False)).bind(
        model, attribution(world)
    )
    with pytest.raises(SpendingUnavailable, match="nothing was spent"):
        llm.create(request())
    assert model.calls == 0
    assert ledger_spend(world) == (0, 0)


def test_with_redis_and_the_database_down_nothing_is_spent(sqlite_factory):
    world = make_world(sqlite_factory)
    dead_db = session_factory(
        make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    )
    budgets = guard(world, dead_counters())
    budgets.factory = dead_db
    model = InstantModel()
    llm = meter(world, budgets).bind(model, attribution(world))
    with pytest.raises(SpendingUnavailable):
        llm.create(request())
    assert model.calls == 0


def test_the_refusal_names_the_budget_its_use_and_when_it_resets(any_factory, counters):
    world = make_world(any_factory, timezone="America/Los_Angeles")
    budgets = guard(world, counters, **ONLY_ORG_DAILY)
    model = InstantModel(input_tokens=500, output_tokens=9_000)
    llm = meter(world, budgets).bind(model, attribution(world))
    with pytest.raises(BudgetExceeded) as refused:
        for _ in range(20):
            llm.create(request(max_tokens=10_000))
    message = str(refused.value)
    # 15:00 UTC is 07:00 in Los Angeles: the org's day resets at local midnight, in 17 h.
    assert "the org's daily budget" in message
    assert "of $1.0000 used" in message
    assert "Sun 22 Nov 00:00 PST (in 17 h 0 min)" in message
    assert (
        refused.value.refusal.used
        + estimate_micro_usd(request(max_tokens=10_000), PriceCatalog.load().price(MODEL, NOW))
        > DOLLAR
    )


def test_a_failed_call_gives_its_reservation_back(any_factory, counters):
    world = make_world(any_factory)
    budgets = guard(world, counters, **ONLY_ORG_DAILY)
    failing = InstantModel(error=ModelUnavailableError("overloaded"))
    llm = meter(world, budgets).bind(failing, attribution(world))
    for _ in range(30):  # 30 × ~105 000 µUSD reserved and released
        with pytest.raises(ModelUnavailableError):
            llm.create(request(max_tokens=10_000))
    scope = CallScope(world.org_id, world.rep_id, None, "chat")
    budgets.reserve(scope, DOLLAR).release()  # the whole dollar is still there
    calls, spent = ledger_spend(world)
    assert (calls, spent) == (30, 0)  # failures are in the ledger, at $0


def test_settling_keeps_the_actual_cost_not_the_estimate(any_factory, counters):
    world = make_world(any_factory)
    budgets = guard(world, counters, **ONLY_ORG_DAILY)
    llm = meter(world, budgets).bind(InstantModel(output_tokens=100), attribution(world))
    llm.create(request(max_tokens=10_000))  # reserved ~105 000, cost 2 000
    scope = CallScope(world.org_id, world.rep_id, None, "chat")
    budgets.reserve(scope, DOLLAR - 2_000).release()
    with pytest.raises(BudgetExceeded):
        budgets.reserve(scope, DOLLAR - 1_999)


def test_missing_counters_are_seeded_from_the_ledger(any_factory, counters):
    world = make_world(any_factory)
    llm = meter(world, guard(world, counters, **ONLY_ORG_DAILY)).bind(
        InstantModel(input_tokens=0, output_tokens=45_000), attribution(world)
    )
    for _ in range(2):
        llm.create(request(max_tokens=46_000))  # $0.45 each: $0.90 in the ledger
    restarted = guard(world, MemoryCounters(), **ONLY_ORG_DAILY)  # Redis lost its keys
    scope = CallScope(world.org_id, world.rep_id, None, "chat")
    restarted.reserve(scope, 100_000).release()
    with pytest.raises(BudgetExceeded):
        restarted.reserve(scope, 100_001)


def test_an_admin_budget_for_one_person_replaces_the_each_user_default(any_factory, counters):
    world = make_world(any_factory)
    _admin_budget(
        world, BudgetScope.USER, str(world.rep_id), BudgetPeriod.DAY, BudgetMetric.COST, 150_000
    )
    budgets = guard(world, counters)  # defaults: $20 per user per day, $100 per org
    model = InstantModel(input_tokens=500, output_tokens=9_000)
    maya = meter(world, budgets).bind(model, attribution(world))
    leo = meter(world, budgets).bind(model, attribution(world, user_id=world.other_rep_id))
    maya.create(request(max_tokens=9_000))  # reserve ~95 000 of 150 000, settle 91 000
    with pytest.raises(BudgetExceeded, match="Maya Chen's daily budget"):
        maya.create(request(max_tokens=9_000))
    for _ in range(3):
        leo.create(request(max_tokens=9_000))  # Leo still has the $20 default


def test_each_customer_budgets_count_the_customer_the_run_found(any_factory, counters):
    world = make_world(any_factory)
    _admin_budget(world, BudgetScope.CUSTOMER, "*", BudgetPeriod.WEEK, BudgetMetric.COST, 200_000)
    metered = meter(world, guard(world, counters))
    llm = metered.bind(InstantModel(input_tokens=500, output_tokens=9_000), attribution(world))
    llm.create(request(max_tokens=9_000))  # no customer yet: not counted for any customer
    llm.state.customer_id = world.customer_id
    llm.create(request(max_tokens=9_000))
    llm.create(request(max_tokens=9_000))
    with pytest.raises(BudgetExceeded, match="Halvorsen Marine's weekly budget"):
        llm.create(request(max_tokens=9_000))


def test_call_limits_count_calls(any_factory, counters):
    world = make_world(any_factory)
    _admin_budget(world, BudgetScope.ORG, "", BudgetPeriod.DAY, BudgetMetric.REQUESTS, 3)
    llm = meter(world, guard(world, counters)).bind(InstantModel(), attribution(world))
    for _ in range(3):
        llm.create(request())
    with pytest.raises(BudgetExceeded, match="3 of 3 calls used"):
        llm.create(request())


def test_alerts_fire_once_at_the_soft_threshold_and_once_when_hit(any_factory, counters):
    world = make_world(any_factory)
    budgets = guard(world, counters, **ONLY_ORG_DAILY)
    crossings: list[Crossing] = []
    budgets.on_crossing = crossings.append
    llm = meter(world, budgets).bind(
        InstantModel(input_tokens=500, output_tokens=9_000), attribution(world)
    )
    for _ in range(15):
        try:
            llm.create(request(max_tokens=9_000))
        except BudgetExceeded:
            pass
    assert [c.threshold_pct for c in crossings] == [80, 100]
    assert crossings[0].budget == "the org's daily budget"
    assert crossings[0].key != crossings[1].key
    assert crossings[1].resets_at - NOW == timedelta(hours=9)


def test_unlimited_defaults_reserve_nothing(any_factory):
    world = make_world(any_factory, plan="enterprise")
    budgets = guard(
        world,
        dead_counters(),
        org_daily_budget_usd=-1,
        user_daily_budget_usd=-1,
        budget_fallback=False,
    )
    llm = meter(world, budgets).bind(InstantModel(), attribution(world))
    llm.create(request())  # nothing to count, so a dead Redis does not matter
    assert ledger_spend(world)[0] == 1
