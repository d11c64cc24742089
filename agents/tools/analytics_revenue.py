"""Analytics tools over money in: revenue by period, top customers, the metrics summary.

Booked revenue is orders by the date placed (drafts and cancelled orders excluded); collected
revenue is invoices by the date paid. Aggregates run in the database
(storage/repositories/analytics.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.charts import Chart
from agents.tools.analytics_common import (
    PeriodUnit,
    Window,
    currency,
    money,
    readable,
    recent_buckets,
    share,
    show,
    span,
)
from agents.tools.base import ToolContext, tool
from storage.repositories.analytics import AnalyticsRepository
from storage.uow import UnitOfWork

WIN_RATE_DAYS = 90  # closed deals are too few in a month to make a rate worth reading
STALE_DAYS = 14  # the suggestion engine's stale-deal threshold


class RevenueArgs(BaseModel):
    """Revenue per calendar month or quarter."""

    period: PeriodUnit = Field(default="month", description="Bucket size: month or quarter.")
    periods: int = Field(
        default=6, ge=1, le=24, description="How many periods back, the current one included."
    )
    basis: Literal["booked", "collected"] = Field(
        default="booked",
        description="booked: orders by the date placed; collected: invoices by the date paid.",
    )


class TopCustomersArgs(BaseModel):
    """The customers with the most booked revenue."""

    window: Window = Field(default="last_12_months", description="When the orders were placed.")
    limit: int = Field(default=5, ge=1, le=25, description="How many customers to list.")


class MetricsArgs(BaseModel):
    """Headline numbers."""

    days: int = Field(
        default=30, ge=7, le=365, description="Recent window, compared with the one before it."
    )


@tool(RevenueArgs)
def revenue_by_period(ctx: ToolContext, args: RevenueArgs) -> dict[str, Any]:
    """Revenue per calendar month or quarter (UTC) for the last `periods` periods, the current
    one to date last: booked (orders by date placed) or collected (invoices by date paid).
    _meta: total, average per period, best period, and the last complete period against the
    one before it. Shows a chart under the answer."""
    buckets = recent_buckets(ctx.now, args.period, args.periods)
    with UnitOfWork(ctx.factory) as uow:
        rows = AnalyticsRepository(uow.session).revenue_by_period(
            ctx.org_id, unit=args.period, since=buckets[0].start, until=ctx.now, basis=args.basis
        )
        code = currency(uow, ctx.org_id)
    found = {row.period: row for row in rows}
    periods: list[dict[str, Any]] = [
        {
            "period": b.label,
            "amount": money(found[b.key].amount if b.key in found else Decimal(0)),
            "count": found[b.key].count if b.key in found else 0,
        }
        for b in buckets
    ]
    total = sum((row.amount for row in rows), Decimal(0))
    kind: Literal["bar", "line"] = "line" if args.period == "month" and args.periods > 6 else "bar"
    title = f"Revenue by {args.period} ({args.basis})"
    labels = tuple(p["period"] for p in periods)
    if total:  # a chart of nothing but zeros says less than the sentence that says so
        show(ctx, Chart(kind, title, labels, tuple(float(p["amount"]) for p in periods), code))
    return {
        "periods": periods,
        "_meta": {
            "currency": code,
            "period": args.period,
            "basis": args.basis,
            "total": money(total),
            "average_per_period": money(total / len(periods)),
            "best_period": max(periods, key=lambda p: Decimal(p["amount"]))["period"],
            "current_period_to_date": periods[-1]["period"],
            **_last_change(periods),
        },
        "_display": {
            "title": title.replace(f"({args.basis})", f"— {args.basis}"),
            "subtitle": f"{periods[0]['period']} – {periods[-1]['period']}: {money(total)} {code}",
            "badge": args.basis,
        },
    }


def _last_change(periods: list[dict[str, Any]]) -> dict[str, Any]:
    """The last complete period against the one before it (the current one is partial)."""
    if len(periods) < 3:
        return {"last_complete_change_pct": None}
    last, before = periods[-2], periods[-3]
    change = share(Decimal(last["amount"]) - Decimal(before["amount"]), Decimal(before["amount"]))
    return {
        "last_complete_period": last["period"],
        "previous_period": before["period"],
        "last_complete_change_pct": change,
    }


@tool(TopCustomersArgs)
def top_customers(ctx: ToolContext, args: TopCustomersArgs) -> dict[str, Any]:
    """The customers with the most booked revenue (orders placed) in a window, biggest first,
    with their order count and share of all revenue in the window. _meta: the window's total,
    the share the listed customers hold, the leader. Shows a bar chart under the answer."""
    window = span(args.window, ctx.now)
    with UnitOfWork(ctx.factory) as uow:
        repo = AnalyticsRepository(uow.session)
        rows = repo.top_customers(
            ctx.org_id, since=window.since, until=window.until, limit=args.limit
        )
        total = repo.revenue_total(ctx.org_id, since=window.since, until=window.until)
        code = currency(uow, ctx.org_id)
    customers: list[dict[str, Any]] = [
        {
            "rank": rank,
            "customer_id": row.customer_id,
            "name": row.name,
            "revenue": money(row.amount),
            "orders": row.orders,
            "share_pct": share(row.amount, total),
        }
        for rank, row in enumerate(rows, start=1)
    ]
    listed = sum((row.amount for row in rows), Decimal(0))
    if customers:
        labels = tuple(c["name"] for c in customers)
        values = tuple(float(c["revenue"]) for c in customers)
        show(ctx, Chart("bar", f"Top customers, {window.label}", labels, values, code))
    return {
        "window": window.label,
        "customers": customers,
        "_meta": {
            "currency": code,
            "window_revenue": money(total),
            "listed_share_pct": share(listed, total),
            "leader": customers[0]["name"] if customers else None,
            "note": None if customers else "no orders placed in this window",
        },
        "_display": {
            "title": f"Top {len(customers)} customers",
            "subtitle": f"{window.label}: {money(total)} {code}",
            "badge": "booked",
        },
    }


@tool(MetricsArgs)
def metrics_summary(ctx: ToolContext, args: MetricsArgs) -> dict[str, Any]:
    """Headline numbers for the whole team: open pipeline; booked revenue in the last `days`
    days against the `days` before; win rate over the last 90 days; overdue invoices; deals
    stuck 14+ days in a stage; overdue tasks. _meta.notable lists what deserves attention."""
    recent = ctx.now - timedelta(days=args.days)
    with UnitOfWork(ctx.factory) as uow:
        repo = AnalyticsRepository(uow.session)
        deals, pipeline = repo.open_totals(ctx.org_id)
        booked = repo.revenue_total(ctx.org_id, since=recent, until=ctx.now)
        before = repo.revenue_total(
            ctx.org_id, since=recent - timedelta(days=args.days), until=recent
        )
        closed = repo.win_loss(
            ctx.org_id,
            since=ctx.now - timedelta(days=WIN_RATE_DAYS),
            until=ctx.now,
            by_owner=False,
        )[0]
        stuck, stuck_value = repo.stale_totals(ctx.org_id, before=ctx.now - timedelta(STALE_DAYS))
        invoices, owed, tasks = repo.overdue_totals(ctx.org_id, now=ctx.now)
        code = currency(uow, ctx.org_id)
    change = share(booked - before, before)
    metrics = {
        "open_pipeline": {"deals": deals, "value": money(pipeline)},
        "booked_revenue": {
            f"last_{args.days}_days": money(booked),
            f"previous_{args.days}_days": money(before),
            "change_pct": change,
        },
        f"win_rate_last_{WIN_RATE_DAYS}_days": {
            "won": closed.won,
            "lost": closed.lost,
            "win_rate_pct": share(closed.won, closed.won + closed.lost),
        },
        "overdue_invoices": {"count": invoices, "amount": money(owed)},
        f"deals_stuck_{STALE_DAYS}_days": {"count": stuck, "value": money(stuck_value)},
        "overdue_tasks": tasks,
    }
    notable = [
        text
        for text, holds in (
            (f"booked revenue {'up' if (change or 0) > 0 else 'down'} {abs(change or 0)}%", change),
            (f"{invoices} overdue invoice(s), {readable(owed, code)}", invoices),
            (f"{stuck} deal(s) stuck {STALE_DAYS}+ days, {readable(stuck_value, code)}", stuck),
            (f"{tasks} overdue task(s)", tasks),
        )
        if holds
    ]
    return {
        "metrics": metrics,
        "_meta": {"currency": code, "days": args.days, "notable": notable},
        "_display": {
            "title": "Team metrics",
            "subtitle": f"{deals} open deals, {money(pipeline)} {code}",
            "badge": f"{len(notable)} to watch" if notable else "all clear",
        },
    }
