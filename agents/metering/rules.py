"""Which budgets apply to a call: the built-in defaults, the org's plan, and admin overrides."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from agents.metering.settings import CostSettings
from storage.limits.counters import UNLIMITED
from storage.models import Budget, BudgetMetric, BudgetPeriod, BudgetScope

EACH = "*"  # target meaning "each user" / "each customer" / "each request type"
MICRO = 1_000_000


@dataclass(frozen=True)
class Window:
    """One budget period in the org's timezone: days [start, end) and the instant it resets."""

    start: date
    end: date
    resets_at: datetime


def window(period: BudgetPeriod, now: datetime, tz: ZoneInfo) -> Window:
    """The period containing `now` (weeks start on Monday)."""
    today = now.astimezone(tz).date()
    if period == BudgetPeriod.DAY:
        start, end = today, today + timedelta(days=1)
    elif period == BudgetPeriod.WEEK:
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(days=7)
    else:
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return Window(start, end, datetime.combine(end, time(), tzinfo=tz))


@dataclass(frozen=True)
class BudgetRule:
    """A limit on one scope over one period. `limit` is µUSD or a call count; -1 unlimited."""

    scope: BudgetScope
    target: str
    period: BudgetPeriod
    metric: BudgetMetric
    limit: int
    soft_pct: int
    source: str  # "default", "plan <name>", or "admin"

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What an admin override replaces."""
        return (self.scope.value, self.target, self.period.value, self.metric.value)

    def applies_to(self, call: CallScope) -> str | None:
        """The concrete target this rule counts for `call` ("" for the org), or None."""
        if self.scope == BudgetScope.ORG:
            return ""
        value = {
            BudgetScope.USER: str(call.user_id) if call.user_id else None,
            BudgetScope.CUSTOMER: str(call.customer_id) if call.customer_id else None,
            BudgetScope.REQUEST_TYPE: call.request_type,
        }[self.scope]
        if value is None or self.target not in (EACH, value):
            return None
        return value

    def describe(self, target_label: str = "") -> str:
        """'the org's daily budget', 'Maya Lind's daily budget', 'the plan's monthly call limit'."""
        period = {"day": "daily", "week": "weekly", "month": "monthly"}[self.period.value]
        what = "budget" if self.metric == BudgetMetric.COST else "call limit"
        if self.scope == BudgetScope.ORG:
            owner = "the plan's" if self.source.startswith("plan") else "the org's"
        elif self.scope == BudgetScope.REQUEST_TYPE:
            owner = f"the '{target_label or self.target}' requests'"
        else:
            owner = f"{target_label or self.scope.value + ' ' + self.target}'s"
        return f"{owner} {period} {what}"


@dataclass(frozen=True)
class CallScope:
    """The attribution facts budgets are keyed on."""

    org_id: int
    user_id: int | None
    customer_id: int | None
    request_type: str


def default_rules(settings: CostSettings, plan: str) -> list[BudgetRule]:
    """The built-in budgets: org and per-user daily spend, the monthly quota, plan limits."""
    limits = plan_limits(plan)
    soft = settings.soft_limit_pct
    monthly = (
        settings.monthly_quota_usd
        if settings.monthly_quota_usd is not None
        else limits["cost_per_month_usd"]
    )
    org, each_user = BudgetScope.ORG, BudgetScope.USER
    day, month = BudgetPeriod.DAY, BudgetPeriod.MONTH
    cost, calls = BudgetMetric.COST, BudgetMetric.REQUESTS
    plan_source = f"plan {plan}"
    return [
        BudgetRule(org, "", day, cost, _micro(settings.org_daily_budget_usd), soft, "default"),
        BudgetRule(
            each_user, EACH, day, cost, _micro(settings.user_daily_budget_usd), soft, "default"
        ),
        BudgetRule(org, "", month, cost, _micro(monthly), soft, plan_source),
        BudgetRule(org, "", day, calls, int(limits["requests_per_day"]), soft, plan_source),
        BudgetRule(org, "", month, calls, int(limits["requests_per_month"]), soft, plan_source),
    ]


def effective_rules(
    defaults: Iterable[BudgetRule], overrides: Sequence[Budget]
) -> list[BudgetRule]:
    """Defaults with the org's admin-set budgets laid over them (same identity: admin wins)."""
    rules = {rule.identity: rule for rule in defaults}
    for row in overrides:
        rule = BudgetRule(
            row.scope, row.target, row.period, row.metric, row.limit_value, row.soft_pct, "admin"
        )
        rules[rule.identity] = rule
    return list(rules.values())


def applicable(rules: Iterable[BudgetRule], call: CallScope) -> list[tuple[BudgetRule, str]]:
    """The limited rules that count this call, each with its concrete target. A specific
    target ("user 42") replaces the "each user" rule of the same period and metric."""
    chosen: dict[tuple[str, str, str], tuple[BudgetRule, str]] = {}
    for rule in rules:
        target = rule.applies_to(call)
        if target is None:
            continue
        slot = (rule.scope.value, rule.period.value, rule.metric.value)
        current = chosen.get(slot)
        if current is None or (current[0].target == EACH and rule.target != EACH):
            chosen[slot] = (rule, target)
    return [(rule, target) for rule, target in chosen.values() if rule.limit != UNLIMITED]


@cache
def _plans() -> dict[str, dict[str, Any]]:
    document = json.loads((files("agents") / "data" / "plans.json").read_text())
    plans: dict[str, dict[str, Any]] = document["plans"]
    return plans


def plan_limits(plan: str) -> dict[str, Any]:
    """The tier limits of `plan` (an unknown plan gets the most restrictive, 'free')."""
    plans = _plans()
    return plans.get(plan, plans["free"])


def _micro(usd: float) -> int:
    return UNLIMITED if usd < 0 else round(usd * MICRO)
