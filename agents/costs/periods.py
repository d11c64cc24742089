"""Named report periods as org-local day ranges, each with the period it is compared to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

EPOCH = date(2000, 1, 1)  # "all time" starts before any ledger row


@dataclass(frozen=True)
class Period:
    """Org-local days [start, end), a label, and the comparable period before it (if any)."""

    name: str
    label: str
    start: date
    end: date
    previous: Period | None = None

    @property
    def days(self) -> int:
        """Length in days."""
        return (self.end - self.start).days


PERIOD_NAMES = ("today", "yesterday", "week", "month", "last-month", "all")
ALIASES = {
    "this-week": "week",
    "this-month": "month",
    "lastmonth": "last-month",
    "all-time": "all",
    "alltime": "all",
}


def period(name: str, today: date) -> Period:
    """The period called `name` ('today', 'yesterday', 'week', 'month', 'last-month',
    'all'); raises ValueError for anything else. Weeks start on Monday."""
    key = ALIASES.get(name.lower(), name.lower())
    if key == "today":
        return _day("today", "Today", today, today - timedelta(days=1), "yesterday")
    if key == "yesterday":
        day = today - timedelta(days=1)
        return _day("yesterday", "Yesterday", day, day - timedelta(days=1), "the day before")
    if key == "week":
        start = today - timedelta(days=today.weekday())
        end = today + timedelta(days=1)
        week = timedelta(days=7)
        before = Period("last-week", "Same days last week", start - week, end - week)
        return Period("week", "This week", start, end, before)
    if key == "month":
        start = today.replace(day=1)
        end = today + timedelta(days=1)
        last = _last_month(start)
        to_date = min(last.start + (end - start), last.end)  # month to date vs the same days
        before = Period("last-month-to-date", "Same days last month", last.start, to_date)
        return Period("month", "This month", start, end, before)
    if key == "last-month":
        last = _last_month(today.replace(day=1))
        return Period(last.name, last.label, last.start, last.end, _last_month(last.start))
    if key == "all":
        return Period("all", "All time", EPOCH, today + timedelta(days=1))
    raise ValueError(f"unknown period {name!r}; use one of: {', '.join(PERIOD_NAMES)}")


def summary_periods(today: date) -> list[Period]:
    """The rows of the `/ai-cost` overview, in order."""
    return [period(name, today) for name in PERIOD_NAMES]


def _day(name: str, label: str, day: date, before: date, before_label: str) -> Period:
    previous = Period(before_label, before_label.capitalize(), before, before + timedelta(days=1))
    return Period(name, label, day, day + timedelta(days=1), previous)


def _last_month(first_of_this_month: date) -> Period:
    start = (first_of_this_month - timedelta(days=1)).replace(day=1)
    return Period("last-month", "Last month", start, first_of_this_month)
