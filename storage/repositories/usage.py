"""The ledger's daily roll-ups: written with every ledger row, read by every cost report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from storage.models import (
    NOBODY,
    ROLLUP_MEASURES,
    CallStatus,
    Customer,
    LLMCall,
    UsageDailyCustomer,
    UsageDailyOrg,
    UsageDailyUser,
    User,
)
from storage.repositories.usage_record import LEDGER_MEASURES, Rollup, measures, record_call

# Any select over a roll-up table, whatever its columns.
_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]])

Dimension = Literal["user", "customer", "model", "agent", "request_type"]

# The narrowest roll-up holding each dimension, and the column it is kept in.
_HOME: dict[str, tuple[Rollup, str]] = {
    "user": (UsageDailyUser, "user_id"),
    "customer": (UsageDailyCustomer, "customer_id"),
    "agent": (UsageDailyOrg, "agent"),
    "model": (UsageDailyOrg, "model"),
    "request_type": (UsageDailyOrg, "request_type"),
}


@dataclass(frozen=True)
class UsageTotals:
    """Sums over some slice of the ledger."""

    requests: int = 0
    errors: int = 0
    cached_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_micro_usd: int = 0
    response_cache_saved_micro_usd: int = 0
    prompt_cache_saved_micro_usd: int = 0

    @property
    def tokens(self) -> int:
        """Tokens the model really processed (cache hits excluded: nothing was processed)."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )

    @property
    def saved_micro_usd(self) -> int:
        """Both kinds of cache savings."""
        return self.response_cache_saved_micro_usd + self.prompt_cache_saved_micro_usd


@dataclass(frozen=True)
class UsageGroup:
    """One line of a breakdown: the dimension's key, a readable label, and its totals."""

    key: str
    label: str
    totals: UsageTotals


def _sums(table: Any) -> list[Any]:
    """The summed columns in UsageTotals order, for a roll-up table or the raw ledger."""
    if table is not LLMCall:
        requests: Any = func.sum(table.requests)
        errors = func.sum(table.errors)
        hits = func.sum(table.cached_hits)
        response_saved = func.sum(table.response_cache_saved_micro_usd)
        prompt_saved = func.sum(table.prompt_cache_saved_micro_usd)
        tokens = (
            table.input_tokens,
            table.output_tokens,
            table.cache_write_5m_tokens + table.cache_write_1h_tokens,
            table.cache_read_tokens,
        )
        token_sums = [func.sum(column) for column in tokens]
    else:  # the raw ledger, for the consistency check and the benchmark's baseline
        cached = LLMCall.status == CallStatus.CACHED

        def when(condition: Any, value: Any = 1) -> Any:
            return func.sum(case((condition, value), else_=0))

        requests = func.count()
        errors = when(LLMCall.status == CallStatus.ERROR)
        hits = when(cached)
        response_saved = when(cached, LLMCall.saved_micro_usd)
        prompt_saved = when(~cached, LLMCall.saved_micro_usd)
        token_sums = [
            when(~cached, LLMCall.input_tokens),
            when(~cached, LLMCall.output_tokens),
            when(~cached, LLMCall.cache_write_5m_tokens + LLMCall.cache_write_1h_tokens),
            when(~cached, LLMCall.cache_read_tokens),
        ]
    cost = func.sum(table.cost_micro_usd)
    return [requests, errors, hits, *token_sums, cost, response_saved, prompt_saved]


def _totals(row: Sequence[Any]) -> UsageTotals:
    return UsageTotals(*(int(value or 0) for value in row))


class UsageRepository:
    """Ledger rows and their roll-ups; reports read only the roll-ups."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, call: LLMCall, *, day: date) -> None:
        """Append one ledger row and add it to each roll-up (`day` is the org-local date)."""
        record_call(self.session, call, day)

    def totals(
        self,
        org_id: int,
        start: date,
        end: date,
        *,
        user_id: int | None = None,
        customer_id: int | None = None,
        request_type: str | None = None,
    ) -> UsageTotals:
        """Sums for the org-local days [start, end): the org's, or one user's, customer's or
        request type's (one at a time: each lives in its own roll-up)."""
        scope = {"user": user_id, "customer": customer_id, "request_type": request_type}
        given = {by: value for by, value in scope.items() if value is not None}
        if len(given) > 1:
            raise ValueError(f"totals for one scope at a time, not {sorted(given)}")
        table, column = _HOME[next(iter(given))] if given else (UsageDailyOrg, "")
        stmt = _in_days(select(*_sums(table)), table, org_id, start, end)
        if given:
            stmt = stmt.where(getattr(table, column) == next(iter(given.values())))
        return _totals(self.session.execute(stmt).one())

    def breakdown(
        self, org_id: int, start: date, end: date, by: Dimension, *, limit: int = 10
    ) -> list[UsageGroup]:
        """The top `limit` values of one dimension by cost, with readable labels."""
        table, name = _HOME[by]
        column = getattr(table, name)
        stmt = _in_days(select(column, *_sums(table)), table, org_id, start, end)
        stmt = stmt.group_by(column).order_by(func.sum(table.cost_micro_usd).desc())
        rows = self.session.execute(stmt.limit(limit)).all()
        labels = self._labels(by, [row[0] for row in rows])
        return [
            UsageGroup(
                key=str(row[0]), label=labels.get(row[0], str(row[0])), totals=_totals(row[1:])
            )
            for row in rows
        ]

    def totals_by(
        self, org_id: int, start: date, end: date, by: Dimension, keys: Sequence[str] | None = None
    ) -> dict[str, UsageTotals]:
        """Totals per value of one dimension (keys as strings, like `UsageGroup.key`), for
        every value or only `keys`: the previous period of a breakdown, the top user."""
        table, name = _HOME[by]
        column = getattr(table, name)
        stmt = _in_days(select(column, *_sums(table)), table, org_id, start, end)
        if keys is not None:
            wanted = [int(k) for k in keys] if by in ("user", "customer") else list(keys)
            stmt = stmt.where(column.in_(wanted))
        rows = self.session.execute(stmt.group_by(column)).all()
        return {str(row[0]): _totals(row[1:]) for row in rows}

    def daily_cost(self, org_id: int, start: date, end: date) -> dict[date, int]:
        """Cost per org-local day in [start, end); days without calls are absent."""
        table = UsageDailyOrg
        stmt = _in_days(
            select(table.day, func.sum(table.cost_micro_usd)), table, org_id, start, end
        ).group_by(table.day)
        return {day: int(cost or 0) for day, cost in self.session.execute(stmt)}

    def ledger_groups(
        self, org_id: int, start: datetime, end: datetime, tz: tzinfo
    ) -> list[LedgerGroup]:
        """The ledger's calls in the UTC instants [start, end) summed per org-local day × user
        × customer × agent × model × request type, oldest day first: the CSV export's rows.

        The one report that reads the ledger (through its (org_id, created_at) index): no
        roll-up keeps every dimension at once, and an export is a job, not a live reply.
        Grouped here rather than in SQL because SQLite has no time zones."""
        columns = (
            LLMCall.created_at,
            LLMCall.user_id,
            LLMCall.customer_id,
            LLMCall.agent,
            LLMCall.model,
            LLMCall.request_type,
            LLMCall.status,
            *(getattr(LLMCall, m) for m in LEDGER_MEASURES),
        )
        stmt = select(*columns).where(
            LLMCall.org_id == org_id, LLMCall.created_at >= start, LLMCall.created_at < end
        )
        sums: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(ROLLUP_MEASURES))
        for row in self.session.execute(stmt.execution_options(yield_per=5000)):
            day = row.created_at.astimezone(tz).date()
            key = (day, row.user_id or NOBODY, row.customer_id or NOBODY, *row[3:6])
            total = sums[key]
            for i, value in enumerate(measures(row.status, *row[7:])):
                total[i] += value
        return [
            LedgerGroup(
                day=day,
                user_id=user_id,
                customer_id=customer_id,
                agent=agent,
                model=model,
                request_type=request_type,
                totals=_rollup_totals(dict(zip(ROLLUP_MEASURES, values, strict=True))),
            )
            for (day, user_id, customer_id, agent, model, request_type), values in sorted(
                sums.items(), key=lambda item: tuple(map(str, item[0]))
            )
        ]

    def ledger_totals(self, org_id: int, start: datetime, end: datetime) -> UsageTotals:
        """The same sums straight from the raw ledger (UTC instants [start, end))."""
        stmt = select(*_sums(LLMCall)).where(
            LLMCall.org_id == org_id, LLMCall.created_at >= start, LLMCall.created_at < end
        )
        return _totals(self.session.execute(stmt).one())

    def names(self, by: Dimension, keys: Sequence[Any]) -> dict[Any, str]:
        """Readable labels for user or customer ids (other dimensions are their own label)."""
        return self._labels(by, list(keys))

    def _labels(self, by: Dimension, keys: list[Any]) -> dict[Any, str]:
        ids = [key for key in keys if key != NOBODY]
        if by == "user" and ids:
            rows = self.session.execute(select(User.id, User.name).where(User.id.in_(ids)))
        elif by == "customer" and ids:
            rows = self.session.execute(
                select(Customer.id, Customer.name).where(Customer.id.in_(ids))
            )
        else:
            return {NOBODY: "(none)"} if by in ("user", "customer") else {}
        labels: dict[Any, str] = {NOBODY: "(none)"}
        labels.update((key, name) for key, name in rows)
        return labels


@dataclass(frozen=True)
class LedgerGroup:
    """One line of the CSV export: a day and every dimension, with their totals."""

    day: date
    user_id: int
    customer_id: int
    agent: str
    model: str
    request_type: str
    totals: UsageTotals


def _in_days(stmt: _Stmt, table: Rollup, org_id: int, start: date, end: date) -> _Stmt:
    return stmt.where(table.org_id == org_id, table.day >= start, table.day < end)


def _rollup_totals(m: dict[str, int]) -> UsageTotals:
    """Roll-up measures as totals (both cache-write lifetimes together)."""
    return UsageTotals(
        requests=m["requests"],
        errors=m["errors"],
        cached_hits=m["cached_hits"],
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        cache_write_tokens=m["cache_write_5m_tokens"] + m["cache_write_1h_tokens"],
        cache_read_tokens=m["cache_read_tokens"],
        cost_micro_usd=m["cost_micro_usd"],
        response_cache_saved_micro_usd=m["response_cache_saved_micro_usd"],
        prompt_cache_saved_micro_usd=m["prompt_cache_saved_micro_usd"],
    )
