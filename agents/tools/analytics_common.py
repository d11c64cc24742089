"""What the analytics tools share: calendar windows relative to the run's clock (UTC),
amounts as decimal strings, shares, the org's currency and charts under the answer.

Month arithmetic is three lines of integer maths on (year * 12 + month), so no date library
is needed for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from agents.charts import Chart
from agents.tools.base import ToolContext
from storage.uow import UnitOfWork

Window = Literal[
    "last_30_days",
    "last_90_days",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_12_months",
    "all_time",
]
PeriodUnit = Literal["month", "quarter"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Span:
    """[since, until): since None means from the beginning."""

    since: datetime | None
    until: datetime
    label: str


@dataclass(frozen=True)
class Bucket:
    """One calendar period: its key as the database spells it and how a person reads it."""

    key: str  # '2026-11' or '2026-Q4'
    label: str  # 'Nov 2026' or 'Q4 2026'
    start: datetime


def month_start(moment: datetime, back: int = 0) -> datetime:
    """The first instant (UTC) of the month `back` months before `moment`'s month."""
    moment = moment.astimezone(UTC)
    index = moment.year * 12 + moment.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def quarter_start(moment: datetime, back: int = 0) -> datetime:
    """The first instant (UTC) of the quarter `back` quarters before `moment`'s quarter."""
    into_quarter = (moment.astimezone(UTC).month - 1) % 3
    return month_start(moment, into_quarter + 3 * back)


def bucket(start: datetime, unit: PeriodUnit) -> Bucket:
    """The bucket that begins at `start`."""
    if unit == "quarter":
        quarter = (start.month + 2) // 3
        return Bucket(f"{start.year}-Q{quarter}", f"Q{quarter} {start.year}", start)
    return Bucket(f"{start:%Y-%m}", f"{start:%b %Y}", start)


def recent_buckets(now: datetime, unit: PeriodUnit, count: int) -> list[Bucket]:
    """The last `count` months or quarters, the current (partial) one last."""
    first = quarter_start if unit == "quarter" else month_start
    return [bucket(first(now, back), unit) for back in range(count - 1, -1, -1)]


def span(window: Window, now: datetime) -> Span:
    """The instants a named window covers; windows that include today end at `now`."""
    days = {"last_30_days": 30, "last_90_days": 90}
    if window in days:
        return Span(now - timedelta(days=days[window]), now, f"last {days[window]} days")
    if window == "all_time":
        return Span(None, now, "all time")
    if window == "last_12_months":
        return Span(month_start(now, 11), now, f"since {month_start(now, 11):%b %Y}")
    if window in ("this_year", "last_year"):
        back = 1 if window == "last_year" else 0
        start = datetime(now.astimezone(UTC).year - back, 1, 1, tzinfo=UTC)
        end = now if back == 0 else start.replace(year=start.year + 1)
        return Span(start, end, f"{start.year}{' to date' if back == 0 else ''}")
    unit: PeriodUnit = "quarter" if window.endswith("quarter") else "month"
    first = quarter_start if unit == "quarter" else month_start
    if window.startswith("this_"):
        return Span(first(now), now, f"{bucket(first(now), unit).label} to date")
    return Span(first(now, 1), first(now), bucket(first(now, 1), unit).label)


def money(value: Decimal) -> str:
    """An amount as the tools report it: a decimal string with cents ('48000.00')."""
    return str(value.quantize(CENT))


def readable(value: Decimal, code: str) -> str:
    """An amount for a sentence: '53,600 USD' (whole units; the exact figure sits beside it)."""
    return f"{value:,.0f} {code}"


def share(part: Decimal | int, whole: Decimal | int) -> float | None:
    """`part` as a percentage of `whole`, one decimal; None when the whole is zero."""
    return None if not whole else round(float(Decimal(part) * 100 / Decimal(whole)), 1)


def currency(uow: UnitOfWork, org_id: int) -> str:
    """The org's currency code (amounts in the CRM are in it)."""
    org = uow.orgs.get(org_id)
    return org.currency if org else "USD"


def show(ctx: ToolContext, chart: Chart) -> None:
    """Put a chart under the answer once: asking twice redraws it rather than doubling it."""
    ctx.state.charts[:] = [c for c in ctx.state.charts if c.title != chart.title]
    ctx.state.charts.append(chart)
