"""The analytics tools on a small hand-built CRM with a fixed clock, on SQLite and PostgreSQL:
exact numbers, calendar edges, another org's rows never counted, charts put on the run state,
and bad input answered as a fixable tool error."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.tools.analytics import ANALYTICS_TOOLS
from agents.tools.analytics_common import span
from agents.tools.base import ToolContext, ToolInputError
from storage.models import (
    Customer,
    Deal,
    DealStage,
    DealStatus,
    Invoice,
    Order,
    Org,
    Task,
    TaskStatus,
    User,
)
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TOOLS = {t.name: t for t in ANALYTICS_TOOLS}
STATUS = {
    DealStage.CLOSED_WON: DealStatus.WON,
    DealStage.CLOSED_LOST: DealStatus.LOST,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _org(session, team: str) -> tuple[int, dict[str, int], dict[str, int]]:
    org = Org(slack_team_id=team, name=team)
    session.add(org)
    session.flush()
    people = {}
    for name in ("Ann Lee", "Bob Roy"):
        user = User(org_id=org.id, email=f"{name[:3].lower()}@{team}.test", name=name)
        session.add(user)
        session.flush()
        people[name[:3]] = user.id
    customers = {}
    for name in ("Acme", "Birch", "Cobalt"):
        row = Customer(org_id=org.id, external_id=name, name=name, owner_id=people["Ann"])
        session.add(row)
        session.flush()
        customers[name] = row.id
    return org.id, people, customers


def _book(session, org_id, people, customers) -> None:
    deals = [  # customer, stage, amount, owner, stage changed
        ("Acme", DealStage.LEAD, "1000.50", "Ann", NOW - 3 * DAY),
        ("Acme", DealStage.PROPOSAL, "20000", "Ann", NOW - 30 * DAY),
        ("Birch", DealStage.PROPOSAL, "5000", "Bob", NOW - 15 * DAY),
        ("Cobalt", DealStage.NEGOTIATION, "40000", "Bob", NOW - 2 * DAY),
        ("Acme", DealStage.CLOSED_WON, "12000", "Ann", at("2026-10-05T10:00")),
        ("Birch", DealStage.CLOSED_WON, "8000", "Bob", at("2026-11-02T10:00")),
        ("Cobalt", DealStage.CLOSED_LOST, "9000", "Bob", at("2026-10-20T10:00")),
        ("Acme", DealStage.CLOSED_LOST, "3000", "Ann", at("2026-09-10T10:00")),
        ("Birch", DealStage.CLOSED_WON, "1000", "Ann", at("2026-08-01T10:00")),
    ]
    for n, (customer, stage, amount, owner, moved) in enumerate(deals):
        session.add(
            Deal(
                org_id=org_id,
                external_id=f"D{n}",
                customer_id=customers[customer],
                title=f"{customer} deal {n}",
                stage=stage,
                amount=Decimal(amount),
                owner_id=people[owner],
                stage_changed_at=moved,
                status=STATUS.get(stage, DealStatus.OPEN),
            )
        )
    orders = [  # customer, total, placed, status
        ("Acme", "1500.25", at("2026-11-03T09:00"), "delivered"),
        ("Acme", "2500", at("2026-10-15T09:00"), "delivered"),
        ("Birch", "4000", at("2026-10-01T00:00"), "shipped"),
        ("Birch", "700", at("2026-09-30T23:59:59"), "delivered"),
        ("Cobalt", "10000", at("2026-08-10T09:00"), "delivered"),
        ("Cobalt", "99999", None, "draft"),
        ("Acme", "5000", at("2026-11-05T09:00"), "Cancelled"),
        ("Birch", "300", at("2025-06-01T09:00"), "delivered"),
    ]
    for n, (customer, total, placed, status) in enumerate(orders):
        session.add(
            Order(
                org_id=org_id,
                external_id=f"O{n}",
                customer_id=customers[customer],
                number=f"SO-{n}",
                status=status,
                total=Decimal(total),
                placed_at=placed,
            )
        )
    invoices = [  # customer, amount, due, paid
        ("Acme", "1500.25", at("2026-11-10T00:00"), None),
        ("Cobalt", "10000", at("2026-09-10T00:00"), at("2026-09-05T10:00")),
        ("Birch", "4000", at("2026-12-01T00:00"), None),
        ("Birch", "700", at("2026-10-30T00:00"), at("2026-11-01T10:00")),
    ]
    for n, (customer, amount, due, paid) in enumerate(invoices):
        session.add(
            Invoice(
                org_id=org_id,
                external_id=f"I{n}",
                customer_id=customers[customer],
                amount=Decimal(amount),
                due_at=due,
                paid_at=paid,
            )
        )
    for title, due, status in (
        ("late", NOW - DAY, TaskStatus.OPEN),
        ("later", NOW + DAY, TaskStatus.OPEN),
        ("done late", NOW - DAY, TaskStatus.DONE),
    ):
        session.add(
            Task(
                org_id=org_id, customer_id=customers["Acme"], title=title, due_at=due, status=status
            )
        )


def _noise(session) -> None:
    """Another org's big numbers: none of them may show up in ours."""
    org_id, people, customers = _org(session, "T_OTHER")
    session.add_all(
        [
            Deal(
                org_id=org_id,
                external_id="X",
                customer_id=customers["Acme"],
                title="theirs",
                stage=DealStage.NEGOTIATION,
                amount=Decimal(1_000_000),
                owner_id=people["Ann"],
                stage_changed_at=NOW - 60 * DAY,
            ),
            Order(
                org_id=org_id,
                external_id="X",
                customer_id=customers["Acme"],
                number="X",
                status="delivered",
                total=Decimal(1_000_000),
                placed_at=at("2026-11-01T09:00"),
            ),
        ]
    )


@pytest.fixture
def ctx(any_factory) -> ToolContext:
    with UnitOfWork(any_factory) as uow:
        org_id, people, customers = _org(uow.session, "T_OURS")
        _book(uow.session, org_id, people, customers)
        _noise(uow.session)
        uow.commit()
    return ToolContext(factory=any_factory, org_id=org_id, user_id=people["Ann"], now=NOW)


def run(ctx, name, **args):
    return TOOLS[name].run(ctx, args)


def test_pipeline_counts_and_values_open_deals_per_stage_with_a_bar_chart(ctx):
    result = run(ctx, "pipeline_by_stage")
    assert [
        (s["stage"], s["deals"], s["value"], s["share_of_value_pct"]) for s in result["stages"]
    ] == [
        ("lead", 1, "1000.50", 1.5),
        ("qualified", 0, "0.00", 0.0),
        ("proposal", 2, "25000.00", 37.9),
        ("negotiation", 1, "40000.00", 60.6),
    ]
    meta = result["_meta"]
    assert (meta["open_deals"], meta["open_value"], meta["average_deal"]) == (
        4,
        "66000.50",
        "16500.12",
    )
    assert (meta["biggest_stage"], meta["empty_stages"]) == ("negotiation", ["qualified"])
    [chart] = ctx.state.charts
    assert (chart.kind, chart.unit) == ("bar", "USD")
    assert chart.labels == ("Lead", "Qualified", "Proposal", "Negotiation")
    assert chart.values == (1000.5, 0.0, 25000.0, 40000.0)


def test_asking_for_the_pipeline_twice_shows_one_chart(ctx):
    run(ctx, "pipeline_by_stage")
    run(ctx, "pipeline_by_stage")
    assert len(ctx.state.charts) == 1


def test_revenue_by_month_counts_placed_orders_in_their_utc_month_and_skips_drafts_and_cancelled(
    ctx,
):
    result = run(ctx, "revenue_by_period", period="month", periods=3)
    assert result["periods"] == [
        {"period": "Sep 2026", "amount": "700.00", "count": 1},
        {"period": "Oct 2026", "amount": "6500.00", "count": 2},
        {"period": "Nov 2026", "amount": "1500.25", "count": 1},
    ]
    meta = result["_meta"]
    assert (meta["total"], meta["average_per_period"], meta["best_period"]) == (
        "8700.25",
        "2900.08",
        "Oct 2026",
    )
    assert (meta["last_complete_period"], meta["last_complete_change_pct"]) == ("Oct 2026", 828.6)
    [chart] = ctx.state.charts
    assert chart.kind == "bar" and chart.values == (700.0, 6500.0, 1500.25)


def test_revenue_by_quarter_and_collected_revenue_by_month(ctx):
    quarters = run(ctx, "revenue_by_period", period="quarter", periods=2)["periods"]
    assert [(p["period"], p["amount"], p["count"]) for p in quarters] == [
        ("Q3 2026", "10700.00", 2),
        ("Q4 2026", "8000.25", 3),
    ]
    collected = run(ctx, "revenue_by_period", periods=3, basis="collected")["periods"]
    assert [p["amount"] for p in collected] == ["10000.00", "0.00", "700.00"]


def test_revenue_in_months_without_orders_is_zero_and_draws_no_chart(ctx):
    before_any = replace(ctx, now=at("2025-03-15T12:00"))
    result = run(before_any, "revenue_by_period", periods=2)
    assert [p["amount"] for p in result["periods"]] == ["0.00", "0.00"]
    assert result["_meta"]["total"] == "0.00" and ctx.state.charts == []


def test_win_rate_this_quarter_overall_and_by_owner(ctx):
    overall = run(ctx, "win_rate", window="this_quarter")
    assert (overall["won"], overall["lost"], overall["win_rate_pct"]) == (2, 1, 66.7)
    assert overall["window"] == {
        "label": "Q4 2026 to date",
        "from": "2026-10-01",
        "until": "2026-11-20",
    }
    assert (overall["_meta"]["won_value"], overall["_meta"]["lost_value"]) == (
        "20000.00",
        "9000.00",
    )
    assert ctx.state.charts == []
    split = run(ctx, "win_rate", window="this_quarter", by_owner=True)
    assert [(o["owner"], o["won"], o["lost"], o["win_rate_pct"]) for o in split["owners"]] == [
        ("Ann Lee", 1, 0, 100.0),
        ("Bob Roy", 1, 1, 50.0),
    ]
    assert (split["_meta"]["best_owner"], split["_meta"]["weakest_owner"]) == ("Ann Lee", "Bob Roy")
    [chart] = ctx.state.charts
    assert (chart.unit, chart.values) == ("%", (100.0, 50.0))


def test_win_rate_last_quarter_and_a_window_with_nothing_closed(ctx):
    last = run(ctx, "win_rate", window="last_quarter")
    assert (last["won"], last["lost"], last["win_rate_pct"], last["window"]["label"]) == (
        1,
        1,
        50.0,
        "Q3 2026",
    )
    empty = run(ctx, "win_rate", window="last_year")
    assert (
        empty["win_rate_pct"] is None and empty["_meta"]["note"] == "no deals closed in this window"
    )


def test_top_customers_rank_by_booked_revenue_with_their_share(ctx):
    result = run(ctx, "top_customers", window="all_time", limit=2)
    assert [
        (c["rank"], c["name"], c["revenue"], c["orders"], c["share_pct"])
        for c in result["customers"]
    ] == [
        (1, "Cobalt", "10000.00", 1, 52.6),
        (2, "Birch", "5000.00", 3, 26.3),
    ]
    assert (result["_meta"]["window_revenue"], result["_meta"]["listed_share_pct"]) == (
        "19000.25",
        78.9,
    )
    [chart] = ctx.state.charts
    assert chart.labels == ("Cobalt", "Birch")


def test_stale_deals_lists_the_longest_stuck_first_and_counts_them_all(ctx):
    result = run(ctx, "stale_deals", min_days=14, limit=1)
    assert [(d["title"], d["days_in_stage"], d["amount"], d["owner"]) for d in result["deals"]] == [
        ("Acme deal 1", 30, "20000.00", "Ann Lee")
    ]
    meta = result["_meta"]
    assert (meta["stale_deals"], meta["stale_value"], meta["listed"]) == (2, "25000.00", 1)
    assert run(ctx, "stale_deals", min_days=31)["_meta"]["stale_deals"] == 0


def test_metrics_summary_compares_the_last_30_days_with_the_30_before(ctx):
    result = run(ctx, "metrics_summary")
    assert result["metrics"] == {
        "open_pipeline": {"deals": 4, "value": "66000.50"},
        "booked_revenue": {
            "last_30_days": "1500.25",
            "previous_30_days": "7200.00",
            "change_pct": -79.2,
        },
        "win_rate_last_90_days": {"won": 2, "lost": 2, "win_rate_pct": 50.0},
        "overdue_invoices": {"count": 1, "amount": "1500.25"},
        "deals_stuck_14_days": {"count": 2, "value": "25000.00"},
        "overdue_tasks": 1,
    }
    assert result["_meta"]["notable"][0] == "booked revenue down 79.2%"


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("win_rate", {"window": "next_week"}, "window"),
        ("revenue_by_period", {"periods": 0}, "periods"),
        ("revenue_by_period", {"period": "fortnight"}, "period"),
        ("top_customers", {"limit": 500}, "limit"),
    ],
)
def test_bad_input_is_a_fixable_tool_error_naming_the_field(ctx, name, args, field):
    with pytest.raises(ToolInputError, match=f"invalid input for {name}: {field}"):
        TOOLS[name].run(ctx, args)


@pytest.mark.parametrize(
    ("window", "now", "since", "until"),
    [
        ("last_month", "2027-01-15T08:00", "2026-12-01T00:00", "2027-01-01T00:00"),
        ("last_quarter", "2027-02-10T08:00", "2026-10-01T00:00", "2027-01-01T00:00"),
        ("this_quarter", "2026-12-31T23:00", "2026-10-01T00:00", "2026-12-31T23:00"),
        ("last_12_months", "2026-11-20T12:00", "2025-12-01T00:00", "2026-11-20T12:00"),
        ("last_year", "2026-03-01T00:00", "2025-01-01T00:00", "2026-01-01T00:00"),
    ],
)
def test_windows_cross_year_ends(window, now, since, until):
    covered = span(window, at(now))
    assert (covered.since, covered.until) == (at(since), at(until))
