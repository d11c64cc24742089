"""Analytics tools over deals: pipeline by stage, win rate, stale deals (revenue, top customers
and the metrics summary are in analytics_revenue.py).

Numbers across the org's whole book of business, aggregated in the database
(storage/repositories/analytics.py); windows are relative to the run's clock; amounts are
decimal strings. Some answers also put a chart on the run state; the bot draws it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from agents.charts import Chart
from agents.tools.analytics_common import Window, currency, money, share, show, span
from agents.tools.analytics_revenue import metrics_summary, revenue_by_period, top_customers
from agents.tools.base import ToolContext, ToolSpec, tool
from storage.models import DealStage
from storage.repositories.analytics import AnalyticsRepository, StaleDeal, WinLoss
from storage.uow import UnitOfWork

OPEN_STAGES = (DealStage.LEAD, DealStage.QUALIFIED, DealStage.PROPOSAL, DealStage.NEGOTIATION)


class PipelineArgs(BaseModel):
    """The open pipeline, stage by stage (no input needed)."""


class WinRateArgs(BaseModel):
    """Won versus lost deals in a window."""

    window: Window = Field(default="this_quarter", description="When the deals closed.")
    by_owner: bool = Field(default=False, description="Also split by deal owner (rep).")


class StaleDealsArgs(BaseModel):
    """Open deals stuck in their stage."""

    min_days: int = Field(default=14, ge=1, le=365, description="Days in the same stage.")
    limit: int = Field(default=10, ge=1, le=50, description="How many deals to list.")


@tool(PipelineArgs)
def pipeline_by_stage(ctx: ToolContext, args: PipelineArgs) -> dict[str, Any]:  # noqa: ARG001
    """The open pipeline by stage (lead → qualified → proposal → negotiation): open deals and
    their value per stage, with each stage's share of the value. _meta: totals, the biggest
    stage, the average open deal. Shows a bar chart of value by stage under the answer."""
    with UnitOfWork(ctx.factory) as uow:
        rows = AnalyticsRepository(uow.session).pipeline_by_stage(ctx.org_id)
        code = currency(uow, ctx.org_id)
    found = {row.stage: row for row in rows}
    count = sum(row.count for row in rows)
    value = sum((row.value for row in rows), Decimal(0))
    stages = [_stage(stage, found.get(stage), value) for stage in OPEN_STAGES]
    biggest = max(stages, key=lambda s: Decimal(s["value"])) if count else None
    if count:
        labels = tuple(s["stage"].title() for s in stages)
        values = tuple(float(s["value"]) for s in stages)
        show(ctx, Chart("bar", "Open pipeline by stage", labels, values, code))
    return {
        "stages": stages,
        "_meta": {
            "currency": code,
            "open_deals": count,
            "open_value": money(value),
            "average_deal": money(value / count) if count else None,
            "biggest_stage": biggest["stage"] if biggest else None,
            "biggest_stage_share_pct": biggest["share_of_value_pct"] if biggest else None,
            "empty_stages": [s["stage"] for s in stages if not s["deals"]],
        },
        "_display": {
            "title": "Pipeline by stage",
            "subtitle": f"{count} open deals, {money(value)} {code}",
            "badge": "open",
        },
    }


def _stage(stage: DealStage, row: Any, total: Decimal) -> dict[str, Any]:
    value = row.value if row else Decimal(0)
    return {
        "stage": stage.value,
        "deals": row.count if row else 0,
        "value": money(value),
        "share_of_value_pct": share(value, total) or 0.0,
    }


@tool(WinRateArgs)
def win_rate(ctx: ToolContext, args: WinRateArgs) -> dict[str, Any]:
    """Win rate in a window: deals won / (won + lost), counted by the date they closed (moved to
    closed_won or closed_lost); open deals do not count. Optionally per owner (rep), with a bar
    chart of each owner's rate. _meta: won, lost, rate, won and lost value, best and weakest
    owner, the window's dates."""
    window = span(args.window, ctx.now)
    with UnitOfWork(ctx.factory) as uow:
        rows = AnalyticsRepository(uow.session).win_loss(
            ctx.org_id, since=window.since, until=window.until, by_owner=args.by_owner
        )
        code = currency(uow, ctx.org_id)
    owners = [_owner(row) for row in rows] if args.by_owner else []
    won, lost = sum(r.won for r in rows), sum(r.lost for r in rows)
    ranked = sorted(owners, key=lambda o: (-(o["win_rate_pct"] or 0), o["owner"]))
    if len(owners) > 1:
        values = tuple(o["win_rate_pct"] or 0.0 for o in owners)
        title = f"Win rate by owner, {window.label}"
        show(ctx, Chart("bar", title, tuple(o["owner"] for o in owners), values, "%"))
    return {
        "window": _window_view(window),
        "won": won,
        "lost": lost,
        "win_rate_pct": share(won, won + lost),
        "owners": owners,
        "_meta": {
            "currency": code,
            "closed_deals": won + lost,
            "won_value": money(sum((r.won_value for r in rows), Decimal(0))),
            "lost_value": money(sum((r.lost_value for r in rows), Decimal(0))),
            "best_owner": ranked[0]["owner"] if len(ranked) > 1 else None,
            "weakest_owner": ranked[-1]["owner"] if len(ranked) > 1 else None,
            "note": None if won + lost else "no deals closed in this window",
        },
        "_display": {
            "title": f"Win rate, {window.label}",
            "subtitle": f"{won} won, {lost} lost",
            "badge": f"{share(won, won + lost)}%" if won + lost else "n/a",
        },
    }


def _owner(row: WinLoss) -> dict[str, Any]:
    return {
        "owner": row.owner_name or "unassigned",
        "won": row.won,
        "lost": row.lost,
        "win_rate_pct": share(row.won, row.won + row.lost),
        "won_value": money(row.won_value),
    }


def _window_view(window: Any) -> dict[str, Any]:
    return {
        "label": window.label,
        "from": window.since.date().isoformat() if window.since else None,
        "until": window.until.date().isoformat(),
    }


@tool(StaleDealsArgs)
def stale_deals(ctx: ToolContext, args: StaleDealsArgs) -> dict[str, Any]:
    """Open deals stuck in the same stage for at least `min_days` days, longest-stuck first,
    with customer, owner, stage, amount and days in stage. _meta: how many are stuck in all
    (not only those listed), their value, the oldest and the biggest."""
    before = ctx.now - timedelta(days=args.min_days)
    with UnitOfWork(ctx.factory) as uow:
        repo = AnalyticsRepository(uow.session)
        rows = repo.stale_deals(ctx.org_id, before=before, limit=args.limit)
        count, value = repo.stale_totals(ctx.org_id, before=before)
        code = currency(uow, ctx.org_id)
    deals = [_stale(row, ctx) for row in rows]
    biggest = max(deals, key=lambda d: Decimal(d["amount"]), default=None)
    return {
        "deals": deals,
        "_meta": {
            "currency": code,
            "min_days": args.min_days,
            "stale_deals": count,
            "stale_value": money(value),
            "listed": len(deals),
            "oldest": deals[0]["title"] if deals else None,
            "biggest": biggest["title"] if biggest else None,
        },
        "_display": {
            "title": f"Deals stuck {args.min_days}+ days",
            "subtitle": f"{count} deals, {money(value)} {code}",
            "badge": "stale" if count else "none",
        },
    }


def _stale(row: StaleDeal, ctx: ToolContext) -> dict[str, Any]:
    return {
        "deal_id": row.deal_id,
        "title": row.title,
        "customer": row.customer_name,
        "owner": row.owner_name,
        "stage": row.stage.value,
        "amount": money(row.amount),
        "days_in_stage": (ctx.now - row.stage_changed_at).days,
        "in_stage_since": row.stage_changed_at.date().isoformat(),
    }


ANALYTICS_TOOLS: tuple[ToolSpec[Any], ...] = (
    metrics_summary,
    pipeline_by_stage,
    revenue_by_period,
    win_rate,
    top_customers,
    stale_deals,
)
