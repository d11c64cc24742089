"""What `/ai-cost` shows, as plain data: lines with this period, the one before, and the
difference; budgets with their use; the rows of an export. Reads only the roll-ups, except
the export, which groups the period's ledger rows."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agents.costs.budget_admin import budget_name
from agents.costs.periods import Period, period, summary_periods
from agents.metering.rules import EACH, BudgetRule, CallScope, applicable, window
from storage.limits.counters import UNLIMITED
from storage.models import NOBODY, BudgetMetric, BudgetScope
from storage.repositories.usage import Dimension, UsageRepository, UsageTotals

BREAKDOWN_LIMIT = 15
DIMENSION_NAMES: dict[str, str] = {
    "user": "user",
    "customer": "customer",
    "model": "model",
    "agent": "agent",
    "request_type": "request type",
}
_SCOPE_DIMENSION: dict[BudgetScope, Dimension] = {
    BudgetScope.USER: "user",
    BudgetScope.CUSTOMER: "customer",
    BudgetScope.REQUEST_TYPE: "request_type",
}
_ORDER = {scope: n for n, scope in enumerate(BudgetScope)}
_PERIOD_ORDER = {"day": 0, "week": 1, "month": 2}


@dataclass(frozen=True)
class Line:
    """One row of a report: totals now, and in the period compared with (None: nothing to
    compare with, as for "all time")."""

    label: str
    current: UsageTotals
    previous: UsageTotals | None = None

    @property
    def delta(self) -> int | None:
        """Cost now minus cost before, in µUSD."""
        if self.previous is None:
            return None
        return self.current.cost_micro_usd - self.previous.cost_micro_usd

    @property
    def delta_pct(self) -> int | None:
        """The change in percent of the earlier cost (None when there was no earlier cost)."""
        if self.previous is None or self.previous.cost_micro_usd == 0:
            return None
        return round(100 * (self.delta or 0) / self.previous.cost_micro_usd)


@dataclass(frozen=True)
class BudgetStatus:
    """One effective budget, how much of its current period is used, and when it resets.
    For an "each user" rule, `used` is the biggest user's use and `top` names them."""

    rule: BudgetRule
    name: str
    used: int
    resets_at: datetime
    top: str | None = None

    @property
    def unlimited(self) -> bool:
        """No limit at all."""
        return self.rule.limit == UNLIMITED

    @property
    def pct(self) -> int | None:
        """Percent of the limit used (None when unlimited or the limit is zero)."""
        if self.unlimited or self.rule.limit <= 0:
            return None
        return self.used * 100 // self.rule.limit


@dataclass(frozen=True)
class CostReport:
    """A titled table of lines, the period the numbers cover, and the cache savings."""

    title: str
    lines: list[Line]
    timezone: str
    subtitle: str = ""
    compared_with: str | None = None
    total: Line | None = None
    saved: UsageTotals = field(default_factory=UsageTotals)
    budgets: list[BudgetStatus] = field(default_factory=list)


@dataclass(frozen=True)
class ExportRow:
    """One export line with readable names ("" for no user / no customer)."""

    day: date
    user: str
    customer: str
    agent: str
    model: str
    request_type: str
    totals: UsageTotals


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The org-local date of `now`."""
    return now.astimezone(tz).date()


def describe_period(p: Period) -> str:
    """'This month · 1 Nov – 21 Nov 2026' (days are inclusive here)."""
    if p.name == "all":
        return p.label
    last = p.end - timedelta(days=1)
    days = f"{p.start:%-d %b %Y}" if p.days == 1 else f"{p.start:%-d %b} – {last:%-d %b %Y}"
    return f"{p.label} · {days}"


def overview(usage: UsageRepository, org_id: int, *, today: date, tz: ZoneInfo) -> CostReport:
    """The org's spend for every summary period, each against the period before it."""
    periods = summary_periods(today)
    lines = [_period_line(usage, org_id, p) for p in periods]
    month = next(line for p, line in zip(periods, lines, strict=True) if p.name == "month")
    return CostReport(
        title="AI cost",
        subtitle=f"Today is {today:%a %-d %b %Y}",
        lines=lines,
        timezone=tz.key,
        compared_with="the period before each",
        saved=month.current,
    )


def breakdown(
    usage: UsageRepository,
    org_id: int,
    by: Dimension,
    period_name: str,
    *,
    today: date,
    tz: ZoneInfo,
    limit: int = BREAKDOWN_LIMIT,
) -> CostReport:
    """The top spenders of one dimension in a period, each against its own previous spend,
    with everything outside the top as one more line and the period's total."""
    p = period(period_name, today)
    groups = usage.breakdown(org_id, p.start, p.end, by, limit=limit)
    before: dict[str, UsageTotals] = {}
    if p.previous is not None and groups:
        keys = [g.key for g in groups]
        before = usage.totals_by(org_id, p.previous.start, p.previous.end, by, keys)
    empty = UsageTotals() if p.previous is not None else None
    lines = [Line(g.label, g.totals, before.get(g.key, empty)) for g in groups]
    total = _period_line(usage, org_id, p, label="Total")
    rest = _minus(total.current, *(line.current for line in lines))
    if rest.requests:
        rest_before = None
        if total.previous is not None:
            rest_before = _minus(total.previous, *(before.values()))
        lines.append(Line("Everyone else" if by == "user" else "All others", rest, rest_before))
    return CostReport(
        title=f"AI cost by {DIMENSION_NAMES[by]}",
        subtitle=describe_period(p),
        lines=lines,
        timezone=tz.key,
        compared_with=p.previous.label.lower() if p.previous else None,
        total=total,
        saved=total.current,
    )


def person(
    usage: UsageRepository,
    org_id: int,
    rules: list[BudgetRule],
    *,
    user_id: int,
    name: str,
    period_name: str | None,
    now: datetime,
    tz: ZoneInfo,
) -> CostReport:
    """One person's spend (every summary period, or one) and their own budgets' use."""
    today = local_today(now, tz)
    periods = summary_periods(today) if period_name is None else [period(period_name, today)]
    lines = [_period_line(usage, org_id, p, user_id=user_id) for p in periods]
    one = periods[0] if len(periods) == 1 else None
    shown = one or period("month", today)
    saved = usage.totals(org_id, shown.start, shown.end, user_id=user_id)
    budgets = person_budgets(usage, org_id, rules, user_id=user_id, name=name, now=now, tz=tz)
    compared = one.previous.label.lower() if one and one.previous else None
    return CostReport(
        title=f"AI cost · {name}",
        subtitle=describe_period(one) if one else f"Today is {today:%a %-d %b %Y}",
        lines=lines,
        timezone=tz.key,
        compared_with=compared if one else "the period before each",
        saved=saved,
        budgets=budgets,
    )


def budget_statuses(
    usage: UsageRepository,
    org_id: int,
    rules: list[BudgetRule],
    *,
    now: datetime,
    tz: ZoneInfo,
) -> list[BudgetStatus]:
    """Every effective budget with its use in the current period (for an "each" rule the
    biggest user of it), org budgets first, then by scope, period and metric."""
    ordered = sorted(rules, key=_rule_order)
    ids: set[tuple[BudgetScope, int]] = {
        (rule.scope, int(rule.target))
        for rule in ordered
        if rule.scope in (BudgetScope.USER, BudgetScope.CUSTOMER) and rule.target.isdigit()
    }
    labels = _labels(usage, ids)
    return [_status(usage, org_id, rule, now, tz, labels) for rule in ordered]


def person_budgets(
    usage: UsageRepository,
    org_id: int,
    rules: list[BudgetRule],
    *,
    user_id: int,
    name: str,
    now: datetime,
    tz: ZoneInfo,
) -> list[BudgetStatus]:
    """The limited per-person budgets that apply to one user, with that user's use."""
    call = CallScope(org_id=org_id, user_id=user_id, customer_id=None, request_type="")
    mine = [rule for rule, _ in applicable(rules, call) if rule.scope == BudgetScope.USER]
    statuses = []
    for rule in sorted(mine, key=_rule_order):
        w = window(rule.period, now, tz)
        totals = usage.totals(org_id, w.start, w.end, user_id=user_id)
        statuses.append(BudgetStatus(rule, rule.describe(name), _metric(rule, totals), w.resets_at))
    return statuses


def export_rows(usage: UsageRepository, org_id: int, p: Period, tz: ZoneInfo) -> list[ExportRow]:
    """The period's usage per org-local day × user × customer × agent × model × request type,
    with user and customer names, oldest day first."""
    groups = usage.ledger_groups(org_id, _instant(p.start, tz), _instant(p.end, tz), tz)
    users = usage.names("user", sorted({g.user_id for g in groups}))
    customers = usage.names("customer", sorted({g.customer_id for g in groups}))
    return [
        ExportRow(
            day=g.day,
            user=_name(users, g.user_id),
            customer=_name(customers, g.customer_id),
            agent=g.agent,
            model=g.model,
            request_type=g.request_type,
            totals=g.totals,
        )
        for g in groups
    ]


def _instant(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant an org-local day begins."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


# --- helpers ------------------------------------------------------------------------------


def _period_line(
    usage: UsageRepository, org_id: int, p: Period, *, label: str | None = None, **scope: Any
) -> Line:
    current = usage.totals(org_id, p.start, p.end, **scope)
    previous = None
    if p.previous is not None:
        previous = usage.totals(org_id, p.previous.start, p.previous.end, **scope)
    return Line(label or p.label, current, previous)


def _minus(total: UsageTotals, *parts: UsageTotals) -> UsageTotals:
    values = {
        f.name: getattr(total, f.name) - sum(getattr(part, f.name) for part in parts)
        for f in fields(UsageTotals)
    }
    return UsageTotals(**values)


def _rule_order(rule: BudgetRule) -> tuple[int, str, int, str]:
    return (_ORDER[rule.scope], rule.target, _PERIOD_ORDER[rule.period.value], rule.metric)


def _labels(usage: UsageRepository, ids: set[tuple[BudgetScope, int]]) -> dict[str, str]:
    """'user:42' → 'Maya Chen', for the specific targets of the rules."""
    labels: dict[str, str] = {}
    for scope in (BudgetScope.USER, BudgetScope.CUSTOMER):
        keys = [key for s, key in ids if s == scope]
        if keys:
            names = usage.names(_SCOPE_DIMENSION[scope], keys)
            labels.update({f"{scope.value}:{k}": names.get(k, f"#{k}") for k in keys})
    return labels


def _status(
    usage: UsageRepository,
    org_id: int,
    rule: BudgetRule,
    now: datetime,
    tz: ZoneInfo,
    labels: dict[str, str],
) -> BudgetStatus:
    w = window(rule.period, now, tz)
    if rule.scope == BudgetScope.ORG:
        used = _metric(rule, usage.totals(org_id, w.start, w.end))
        return BudgetStatus(rule, rule.describe(), used, w.resets_at)
    by = _SCOPE_DIMENSION[rule.scope]
    if rule.target == EACH:
        per_target = usage.totals_by(org_id, w.start, w.end, by)
        used, top = _biggest(rule, per_target)
        top_label = usage.names(by, [_key(by, top)]).get(_key(by, top), top) if top else None
        name = budget_name(rule)
        return BudgetStatus(rule, name, used, w.resets_at, top=top_label)
    scope_filter = {_filter_name(by): _key(by, rule.target)}
    used = _metric(rule, usage.totals(org_id, w.start, w.end, **scope_filter))
    label = labels.get(f"{rule.scope.value}:{rule.target}", rule.target)
    return BudgetStatus(rule, rule.describe(label), used, w.resets_at)


def _biggest(rule: BudgetRule, per_target: dict[str, UsageTotals]) -> tuple[int, str | None]:
    """The largest use among the targets, and whose it is (ignoring "no user")."""
    best: tuple[int, str | None] = (0, None)
    for key, totals in per_target.items():
        value = _metric(rule, totals)
        if key != str(NOBODY) and value > best[0]:
            best = (value, key)
    return best


def _metric(rule: BudgetRule, totals: UsageTotals) -> int:
    """What a budget counts: µUSD, or model calls that really ran (as the guard counts)."""
    if rule.metric == BudgetMetric.COST:
        return totals.cost_micro_usd
    return totals.requests - totals.errors - totals.cached_hits


def _filter_name(by: Dimension) -> str:
    return {"user": "user_id", "customer": "customer_id"}.get(by, by)


def _key(by: Dimension, value: str) -> Any:
    return int(value) if by in ("user", "customer") and value.isdigit() else value


def _name(names: dict[Any, str], key: int) -> str:
    return "" if key == NOBODY else names.get(key, f"#{key}")
