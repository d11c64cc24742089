"""The daily cost digest of one org, as plain data: one org-local day (the digest posted on the
21st reports the 20th) compared with the day before and the same weekday a week earlier,
month to date against the monthly budget, top spenders, cache savings, failures, budgets near
or at their limit right now, and the 30-day cost series. Reads only the roll-ups."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from agents.metering.budgets import BudgetGuard
from agents.metering.rules import EACH, BudgetRule, window
from storage.limits.counters import UNLIMITED
from storage.models import NOBODY, BudgetMetric, BudgetPeriod, BudgetScope
from storage.repositories.usage import Dimension, UsageTotals
from storage.uow import UnitOfWork

TOP = 5
SERIES_DAYS = 30
_DIMENSION: dict[BudgetScope, Dimension] = {
    BudgetScope.USER: "user",
    BudgetScope.CUSTOMER: "customer",
    BudgetScope.REQUEST_TYPE: "request_type",
}


@dataclass(frozen=True)
class Change:
    """A cost (µUSD) next to the cost it is compared with."""

    current: int
    previous: int

    @property
    def pct(self) -> int | None:
        """The change in percent of the earlier cost; None when there was none to compare."""
        if self.previous == 0:
            return None
        return round(100 * (self.current - self.previous) / self.previous)


@dataclass(frozen=True)
class Ranked:
    """One line of a top list."""

    label: str
    cost_micro_usd: int
    requests: int


@dataclass(frozen=True)
class MonthToDate:
    """Spend from the 1st through the digest's day, against the org's monthly cost budget."""

    start: date
    spent: int
    limit: int | None  # µUSD; None when the month is unlimited
    days_elapsed: int
    days_in_month: int

    @property
    def pct(self) -> int | None:
        """Percent of the budget spent (None without a budget; a zero budget is all used)."""
        if self.limit is None:
            return None
        return 100 if self.limit <= 0 else 100 * self.spent // self.limit

    @property
    def projected(self) -> int:
        """Month-end spend if every remaining day costs what the days so far did on average."""
        return self.spent * self.days_in_month // max(1, self.days_elapsed)


@dataclass(frozen=True)
class BudgetWarning:
    """A budget at or over its alert threshold in its current period."""

    budget: str  # "the org's daily budget", "Maya Chen's daily budget"
    metric: BudgetMetric
    used: int
    limit: int
    soft_pct: int
    resets_at: datetime

    @property
    def pct(self) -> int:
        """Percent of the limit used (a zero limit counts as fully used)."""
        return 100 if self.limit <= 0 else 100 * self.used // self.limit

    @property
    def hit(self) -> bool:
        """The limit is reached: calls that would go over it are refused."""
        return self.used >= self.limit


@dataclass(frozen=True)
class Digest:
    """Everything the daily digest shows for one org and one org-local day."""

    org_id: int
    org_name: str
    timezone: str
    day: date
    totals: UsageTotals
    vs_day_before: Change
    vs_week_before: Change
    month: MonthToDate
    top_users: tuple[Ranked, ...]
    top_customers: tuple[Ranked, ...]
    top_agents: tuple[Ranked, ...]
    warnings: tuple[BudgetWarning, ...]
    series: tuple[tuple[date, int], ...]  # the last 30 days through `day`, oldest first

    @property
    def cost(self) -> int:
        """The day's spend in µUSD."""
        return self.totals.cost_micro_usd

    @property
    def day_before(self) -> date:
        """The day `vs_day_before` compares with."""
        return self.day - timedelta(days=1)

    @property
    def week_before(self) -> date:
        """The same weekday a week earlier, which `vs_week_before` compares with."""
        return self.day - timedelta(days=7)


def digest_day(now: datetime, budgets: BudgetGuard, org_id: int) -> date:
    """The day a digest sent at `now` reports: yesterday in the org's timezone."""
    return now.astimezone(budgets.timezone(org_id)).date() - timedelta(days=1)


def build_digest(
    factory: sessionmaker[Session],
    budgets: BudgetGuard,
    org_id: int,
    day: date,
    *,
    now: datetime,
) -> Digest:
    """The digest of `org_id` for the org-local `day`; budget warnings are as of `now`."""
    warnings = budget_warnings(factory, budgets, org_id, now)
    with UnitOfWork(factory) as uow:
        org = uow.orgs.get(org_id)
        usage = uow.usage
        next_day = day + timedelta(days=1)
        totals = usage.totals(org_id, day, next_day)
        daily = usage.daily_cost(org_id, day - timedelta(days=SERIES_DAYS - 1), next_day)

        def top(by: Dimension) -> tuple[Ranked, ...]:
            return tuple(
                Ranked(group.label, group.totals.cost_micro_usd, group.totals.requests)
                for group in usage.breakdown(org_id, day, next_day, by, limit=TOP)
            )

        top_users, top_customers, top_agents = top("user"), top("customer"), top("agent")
        month = _month_to_date(day, usage.totals(org_id, day.replace(day=1), next_day))
    series = tuple(
        (d, daily.get(d, 0))
        for d in (day - timedelta(days=back) for back in range(SERIES_DAYS - 1, -1, -1))
    )
    return Digest(
        org_id=org_id,
        org_name=org.name if org else str(org_id),
        timezone=budgets.timezone(org_id).key,
        day=day,
        totals=totals,
        vs_day_before=Change(totals.cost_micro_usd, daily.get(day - timedelta(days=1), 0)),
        vs_week_before=Change(totals.cost_micro_usd, daily.get(day - timedelta(days=7), 0)),
        month=replace(month, limit=_monthly_limit(budgets.rules_for(org_id))),
        top_users=top_users,
        top_customers=top_customers,
        top_agents=top_agents,
        warnings=tuple(warnings),
        series=series,
    )


def budget_warnings(
    factory: sessionmaker[Session], budgets: BudgetGuard, org_id: int, now: datetime
) -> list[BudgetWarning]:
    """Budgets at or over their alert threshold in the period containing `now`, the ones
    already hit first. An "each user" (or customer, or request type) rule lists every user
    over its threshold, except those with a budget of their own for the same period and
    metric (that one counts instead, as it does when calls are checked)."""
    rules = [rule for rule in budgets.rules_for(org_id) if rule.limit != UNLIMITED]
    own = {_slot(rule, rule.target) for rule in rules if rule.target != EACH}
    tz = budgets.timezone(org_id)
    found: list[BudgetWarning] = []
    with UnitOfWork(factory) as uow:
        for rule in rules:
            w = window(rule.period, now, tz)
            used = _used(uow, org_id, rule, w.start, w.end)
            if rule.target == EACH:
                used = {k: v for k, v in used.items() if _slot(rule, k) not in own}
            over = {key: value for key, value in used.items() if _alerting(rule, value)}
            labels = _labels(uow, rule, list(over))
            found.extend(
                BudgetWarning(
                    rule.describe(labels.get(key, key)),
                    rule.metric,
                    value,
                    rule.limit,
                    rule.soft_pct,
                    w.resets_at,
                )
                for key, value in over.items()
            )
    return sorted(found, key=lambda warning: (not warning.hit, -warning.pct, warning.budget))


def _slot(rule: BudgetRule, target: str) -> tuple[str, str, str, str]:
    return (rule.scope.value, rule.period.value, rule.metric.value, target)


def _used(uow: UnitOfWork, org_id: int, rule: BudgetRule, start: date, end: date) -> dict[str, int]:
    """Settled use of `rule` in [start, end) per concrete target ("" for the org)."""
    if rule.scope == BudgetScope.ORG:
        return {"": _measure(uow.usage.totals(org_id, start, end), rule.metric)}
    targets = None if rule.target == EACH else [rule.target]
    per = uow.usage.totals_by(org_id, start, end, _DIMENSION[rule.scope], targets)
    used = {key: _measure(totals, rule.metric) for key, totals in per.items()}
    used.pop(str(NOBODY), None)  # calls nobody in particular made count for no one's budget
    if rule.target != EACH:
        used.setdefault(rule.target, 0)
    return used


def _alerting(rule: BudgetRule, used: int) -> bool:
    return used * 100 >= rule.limit * rule.soft_pct


def _measure(totals: UsageTotals, metric: BudgetMetric) -> int:
    """What a budget counts: spend, or model calls really made (as the budget guard does)."""
    if metric == BudgetMetric.COST:
        return totals.cost_micro_usd
    return totals.requests - totals.errors - totals.cached_hits


def _labels(uow: UnitOfWork, rule: BudgetRule, keys: list[str]) -> dict[str, str]:
    """People's and customers' names for the keys (other scopes are their own label)."""
    if rule.scope not in (BudgetScope.USER, BudgetScope.CUSTOMER):
        return {}
    ids = [int(key) for key in keys if key.isdigit()]
    if not ids:
        return {}
    names = uow.usage.names(_DIMENSION[rule.scope], ids)
    return {str(key): name for key, name in names.items()}


def _month_to_date(day: date, totals: UsageTotals) -> MonthToDate:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return MonthToDate(
        start=start,
        spent=totals.cost_micro_usd,
        limit=None,
        days_elapsed=(day - start).days + 1,
        days_in_month=(end - start).days,
    )


def _monthly_limit(rules: list[BudgetRule]) -> int | None:
    """The org's monthly cost budget (the plan's quota or the admin's override), if limited."""
    for rule in rules:
        monthly = rule.period == BudgetPeriod.MONTH and rule.metric == BudgetMetric.COST
        if rule.scope == BudgetScope.ORG and monthly and rule.limit != UNLIMITED:
            return rule.limit
    return None
