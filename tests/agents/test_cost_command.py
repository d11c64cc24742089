"""`/ai-cost` text → typed commands, and the help text's reasons for what it can't read."""

import pytest

from agents.costs.budget_admin import set_budget
from agents.costs.command import (
    Breakdown,
    BudgetList,
    BudgetSet,
    Export,
    Help,
    Overview,
    PersonReport,
    mention,
    parse,
    parse_amount,
)
from agents.metering.budgets import BudgetGuard
from agents.metering.settings import CostSettings
from storage.limits import MemoryCounters
from storage.models import BudgetMetric, BudgetPeriod, BudgetScope, Customer, Role
from storage.uow import UnitOfWork
from tests.agents.test_cost_report import make_world

ORG, USER, CUSTOMER, TYPE = (
    BudgetScope.ORG,
    BudgetScope.USER,
    BudgetScope.CUSTOMER,
    BudgetScope.REQUEST_TYPE,
)
DAY, WEEK, MONTH = BudgetPeriod.DAY, BudgetPeriod.WEEK, BudgetPeriod.MONTH
COST, CALLS = BudgetMetric.COST, BudgetMetric.REQUESTS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Overview()),
        ("   ", Overview()),
        ("help", Help()),
        ("HELP", Help()),
        ("me", PersonReport(None, None)),
        ("me today", PersonReport(None, "today")),
        ("me last month", PersonReport(None, "last-month")),
        ("users", Breakdown("user", "month")),
        ("customers week", Breakdown("customer", "week")),
        ("models this week", Breakdown("model", "week")),
        ("agents yesterday", Breakdown("agent", "yesterday")),
        ("types all time", Breakdown("request_type", "all")),
        ("Users Last-Month", Breakdown("user", "last-month")),
        ("user <@U123>", PersonReport("U123", None)),
        ("user <@U123|maya> today", PersonReport("U123", "today")),
        ("budget list", BudgetList()),
        ("budget", BudgetList()),
        ("budgets", BudgetList()),
        ("export", Export("month")),
        ("export last month", Export("last-month")),
        ("export all", Export("all")),
    ],
)
def test_reports_parse_into_their_commands(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("budget set user <@U1> $5/day", BudgetSet(USER, "U1", DAY, COST, 5_000_000)),
        ("budget set user <@U1|maya> 5/day", BudgetSet(USER, "U1", DAY, COST, 5_000_000)),
        ("budget set user * $2.50/week", BudgetSet(USER, "*", WEEK, COST, 2_500_000)),
        ("budget set org - $1,000/month", BudgetSet(ORG, "", MONTH, COST, 1_000_000_000)),
        ("budget set org org 1000/month", BudgetSet(ORG, "", MONTH, COST, 1_000_000_000)),
        ("budget set org $50/day", BudgetSet(ORG, "", DAY, COST, 50_000_000)),
        (
            "budget set org - $50/daily soft 70%",
            BudgetSet(ORG, "", DAY, COST, 50_000_000, soft_pct=70),
        ),
        ("budget set org - $50/day soft=90", BudgetSet(ORG, "", DAY, COST, 50_000_000, 90)),
        (
            "budget set customer Halvorsen Marine $20/week",
            BudgetSet(CUSTOMER, "Halvorsen Marine", WEEK, COST, 20_000_000),
        ),
        ("budget set customer 12 unlimited/month", BudgetSet(CUSTOMER, "12", MONTH, COST, -1)),
        ("budget set customer * $1/day", BudgetSet(CUSTOMER, "*", DAY, COST, 1_000_000)),
        ("budget set type chat 500 calls/day", BudgetSet(TYPE, "chat", DAY, CALLS, 500)),
        ("budget set type * 1,000 requests/week", BudgetSet(TYPE, "*", WEEK, CALLS, 1000)),
        ("budget set org - 2000calls/month", BudgetSet(ORG, "", MONTH, CALLS, 2000)),
        ("budget set user * unlimited/day", BudgetSet(USER, "*", DAY, COST, -1)),
        ("budget set org - $0.000001/day", BudgetSet(ORG, "", DAY, COST, 1)),
    ],
)
def test_budget_set_reads_scope_target_amount_period_and_threshold(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("frobnicate", "I don't know `frobnicate`"),
        ("users fortnight", "`fortnight` is not a period"),
        ("me next year", "`next year` is not a period"),
        ("export soon", "`soon` is not a period"),
        ("user", "Say whose spend"),
        ("user maya", "`maya` is not a person"),
        ("user @maya", "`@maya` is not a person"),
        ("budget list now", "`budget list` takes no arguments"),
        ("budget delete org", "not `delete`"),
        ("budget set", "needs a scope"),
        ("budget set team x $5/day", "(not `team`)"),
        ("budget set user maya $5/day", "`maya` is not a person"),
        ("budget set user $5/day", "Say which user"),
        ("budget set customer $5/day", "Say which customer"),
        ("budget set type what?! $5/day", "is not a request type"),
        ("budget set org acme $5/day", "An org budget has no target"),
        ("budget set user <@U1> $5", "Say which period `$5` is for"),
        ("budget set user <@U1> unlimited", "Say which period `unlimited` is for"),
        ("budget set user <@U1> $5/fortnight", "`fortnight` is not a budget period"),
        ("budget set user <@U1> five dollars", "couldn't read the amount"),
        ("budget set user <@U1>", "couldn't read the amount"),
        ("budget set org - $5/day soft 0%", "`soft N%` with N from 1 to 100"),
        ("budget set org - $5/day soft 150%", "`soft N%` with N from 1 to 100"),
        ("budget set org - $5/day soft lots", "`soft N%` with N from 1 to 100"),
        ("budget set org - $0.0000001/day", "a millionth of a dollar"),
    ],
)
def test_what_is_not_understood_is_help_with_a_specific_reason(text, reason):
    result = parse(text)
    assert isinstance(result, Help)
    assert result.reason is not None and reason in result.reason


def test_echoed_text_is_clipped_and_cannot_close_the_inline_code():
    result = parse("`" + "x" * 200)
    assert isinstance(result, Help) and result.reason is not None
    assert "`" not in result.reason.removeprefix("I don't know `").removesuffix("`.")
    assert len(result.reason) < 80


@pytest.mark.parametrize(
    ("word", "slack_id"),
    [("<@U123>", "U123"), ("<@W9|ann>", "W9"), ("@ann", None), ("<#C1|sales>", None)],
)
def test_mentions_arrive_escaped_with_or_without_a_name(word, slack_id):
    assert mention(word) == slack_id


def test_amounts_are_exact_micro_dollars_not_floats():
    assert parse_amount("$0.1/day") == (100_000, DAY, COST)
    assert parse_amount("$1234.567891/month") == (1_234_567_891, MONTH, COST)
    assert parse_amount("Halvorsen") is None


# --- carrying out `budget set` (SQLite and PostgreSQL) ----------------------------------


@pytest.fixture
def org(any_factory):
    world = make_world(any_factory)
    with UnitOfWork(any_factory) as uow:
        maya = uow.orgs.user(world.org_id, world.maya)
        maya.slack_user_id = "U_MAYA"
        admin = uow.orgs.add_user(org_id=world.org_id, email="a@x.dev", name="Ada", role=Role.ADMIN)
        uow.session.add(
            Customer(org_id=world.org_id, external_id="CUST-HSHIP", name="Halvorsen Shipping")
        )
        uow.commit()
    guard = BudgetGuard(factory=any_factory, counters=MemoryCounters(), settings=CostSettings())
    return world, guard, admin.id


def _set(org, text):
    world, guard, admin_id = org
    command = parse(text)
    assert isinstance(command, BudgetSet), command
    return set_budget(world.factory, guard, org_id=world.org_id, actor_id=admin_id, command=command)


def test_budget_set_stores_the_override_audits_old_and_new_and_the_guard_sees_it(org):
    world, guard, admin_id = org
    assert guard.rules_for(world.org_id)  # cached before the change, as in a running process
    change = _set(org, "budget set user <@U_MAYA|maya> $5/day")
    assert change.name == "Maya Chen's daily budget"
    assert (change.before.target, change.before.limit, change.before.source) == (
        "*",
        20_000_000,
        "default",
    )
    mine = [r for r in guard.rules_for(world.org_id) if r.target == str(world.maya)]
    assert [(r.period, r.limit, r.soft_pct, r.source) for r in mine] == [
        (DAY, 5_000_000, 80, "admin")
    ]
    with UnitOfWork(world.factory) as uow:
        (row,) = uow.budgets.for_org(world.org_id)
        (event,) = uow.audit.for_subject(world.org_id, "budget", str(row.id))
    assert (row.limit_value, row.updated_by_id) == (5_000_000, admin_id)
    assert (event.action, event.actor_id, event.result) == ("budget.set", admin_id, "saved")
    assert event.detail["old"] == {
        "target": "*",
        "limit": 20_000_000,
        "soft_pct": 80,
        "source": "default",
    }
    assert event.detail["new"]["limit"] == 5_000_000


def test_setting_it_again_replaces_it_and_keeps_its_threshold(org):
    _set(org, "budget set org - $500/month soft 60%")
    change = _set(org, "budget set org - unlimited/month")
    assert (change.before.limit, change.before.source) == (500_000_000, "admin")
    assert (change.after.limit, change.after.soft_pct) == (-1, 60)
    world = org[0]
    with UnitOfWork(world.factory) as uow:
        assert len(uow.budgets.for_org(world.org_id)) == 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [("halvorsen marine", "Halvorsen Marine"), ("cust-balt", "Baltic Tug & Salvage")],
)
def test_a_customer_is_found_by_name_or_external_id_ignoring_case(org, target, expected):
    change = _set(org, f"budget set customer {target} $10/week")
    assert change.name == f"{expected}'s weekly budget"


def test_a_customer_by_its_id_and_by_an_unambiguous_part_of_its_name(org):
    world = org[0]
    assert _set(org, f"budget set customer {world.baltic} $1/day").after.target == str(world.baltic)
    assert _set(org, "budget set customer tug $1/day").after.target == str(world.baltic)


def test_an_ambiguous_customer_gets_help_naming_the_candidates_and_nothing_is_saved(org):
    result = _set(org, "budget set customer halvorsen $10/week")
    assert isinstance(result, Help)
    assert "Halvorsen Marine" in result.reason and "Halvorsen Shipping" in result.reason
    assert isinstance(_set(org, "budget set customer Nobody Inc $1/day"), Help)
    world = org[0]
    with UnitOfWork(world.factory) as uow:
        assert uow.budgets.for_org(world.org_id) == []


def test_a_person_not_in_the_crm_gets_help(org):
    result = _set(org, "budget set user <@U_STRANGER> $1/day")
    assert isinstance(result, Help) and "isn't linked" in result.reason
