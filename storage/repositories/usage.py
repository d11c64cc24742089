"""The ledger's daily roll-ups: written with every ledger row, read by every cost report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, case, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import (
    NOBODY,
    ROLLUP_KEY,
    ROLLUP_MEASURES,
    CallStatus,
    Customer,
    LLMCall,
    UsageDaily,
    User,
)

# Any select over the roll-up table, whatever its columns.
_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]])

Dimension = Literal["user", "customer", "model", "agent", "request_type"]


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
    """The summed columns in UsageTotals order, for either table."""
    if table is UsageDaily:
        requests: Any = func.sum(UsageDaily.requests)
        errors = func.sum(UsageDaily.errors)
        hits = func.sum(UsageDaily.cached_hits)
        response_saved = func.sum(UsageDaily.response_cache_saved_micro_usd)
        prompt_saved = func.sum(UsageDaily.prompt_cache_saved_micro_usd)
        tokens = (
            UsageDaily.input_tokens,
            UsageDaily.output_tokens,
            UsageDaily.cache_write_5m_tokens + UsageDaily.cache_write_1h_tokens,
            UsageDaily.cache_read_tokens,
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
        """Append one ledger row and add it to its roll-up row (`day` is the org-local date).

        Two Core statements built once per dialect and executed with parameters: every model
        call pays for this, and building the ORM flush and the upsert each time tripled it
        (bench/metering.py)."""
        dialect = self.session.get_bind().dialect.name
        self.session.execute(_LEDGER_INSERT, _ledger_values(call))
        self.session.execute(_rollup_upsert(dialect), _rollup_values(call, day))

    def totals(self, org_id: int, start: date, end: date, **scope: Any) -> UsageTotals:
        """Sums for the org-local days [start, end), optionally for one user/customer/type."""
        stmt = _in_days(select(*_sums(UsageDaily)), org_id, start, end)
        return _totals(self.session.execute(_scoped(stmt, **scope)).one())

    def breakdown(
        self, org_id: int, start: date, end: date, by: Dimension, *, limit: int = 10
    ) -> list[UsageGroup]:
        """The top `limit` values of one dimension by cost, with readable labels."""
        column = getattr(UsageDaily, "request_type" if by == "request_type" else _column(by))
        stmt = _in_days(select(column, *_sums(UsageDaily)), org_id, start, end)
        stmt = stmt.group_by(column).order_by(func.sum(UsageDaily.cost_micro_usd).desc())
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
        column = getattr(UsageDaily, _column(by))
        stmt = _in_days(select(column, *_sums(UsageDaily)), org_id, start, end)
        if keys is not None:
            wanted = [int(k) for k in keys] if by in ("user", "customer") else list(keys)
            stmt = stmt.where(column.in_(wanted))
        rows = self.session.execute(stmt.group_by(column)).all()
        return {str(row[0]): _totals(row[1:]) for row in rows}

    def daily_cost(self, org_id: int, start: date, end: date) -> dict[date, int]:
        """Cost per org-local day in [start, end); days without calls are absent."""
        stmt = _in_days(
            select(UsageDaily.day, func.sum(UsageDaily.cost_micro_usd)), org_id, start, end
        ).group_by(UsageDaily.day)
        return {day: int(cost or 0) for day, cost in self.session.execute(stmt)}

    def rollup_rows(self, org_id: int, start: date, end: date) -> Sequence[UsageDaily]:
        """Every roll-up row in [start, end), for the CSV export."""
        stmt = select(UsageDaily).where(
            UsageDaily.org_id == org_id, UsageDaily.day >= start, UsageDaily.day < end
        )
        return self.session.scalars(stmt.order_by(UsageDaily.day, UsageDaily.id)).all()

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


def _column(by: Dimension) -> str:
    return {"user": "user_id", "customer": "customer_id"}.get(by, by)


def _in_days(stmt: _Stmt, org_id: int, start: date, end: date) -> _Stmt:
    return stmt.where(UsageDaily.org_id == org_id, UsageDaily.day >= start, UsageDaily.day < end)


def _scoped(
    stmt: _Stmt,
    *,
    user_id: int | None = None,
    customer_id: int | None = None,
    request_type: str | None = None,
) -> _Stmt:
    if user_id is not None:
        stmt = stmt.where(UsageDaily.user_id == user_id)
    if customer_id is not None:
        stmt = stmt.where(UsageDaily.customer_id == customer_id)
    if request_type is not None:
        stmt = stmt.where(UsageDaily.request_type == request_type)
    return stmt


def _rollup_values(call: LLMCall, day: date) -> dict[str, Any]:
    cached = call.status == CallStatus.CACHED
    live = 0 if cached else 1  # a cache hit processed no tokens; its row keeps them as "saved"
    return {
        "org_id": call.org_id,
        "day": day,
        "user_id": call.user_id or NOBODY,
        "customer_id": call.customer_id or NOBODY,
        "agent": call.agent,
        "model": call.model,
        "request_type": call.request_type,
        "requests": 1,
        "errors": 1 if call.status == CallStatus.ERROR else 0,
        "cached_hits": 1 if cached else 0,
        "input_tokens": live * (call.input_tokens or 0),
        "output_tokens": live * (call.output_tokens or 0),
        "cache_write_5m_tokens": live * (call.cache_write_5m_tokens or 0),
        "cache_write_1h_tokens": live * (call.cache_write_1h_tokens or 0),
        "cache_read_tokens": live * (call.cache_read_tokens or 0),
        "cost_micro_usd": call.cost_micro_usd or 0,
        "response_cache_saved_micro_usd": (call.saved_micro_usd or 0) if cached else 0,
        "prompt_cache_saved_micro_usd": 0 if cached else (call.saved_micro_usd or 0),
    }


_LEDGER_INSERT = insert(LLMCall)
_UPSERTS: dict[str, Any] = {}


def _ledger_values(call: LLMCall) -> dict[str, Any]:
    """The row's set columns; unset ones get their column defaults from the INSERT."""
    columns = LLMCall.__table__.columns
    return {c.key: value for c in columns if (value := getattr(call, c.key)) is not None}


def _rollup_upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE SET m = m + excluded.m, built once per dialect."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        base = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(UsageDaily)
        added = {m: getattr(UsageDaily, m) + getattr(base.excluded, m) for m in ROLLUP_MEASURES}
        stmt = base.on_conflict_do_update(index_elements=list(ROLLUP_KEY), set_=added)
        _UPSERTS[dialect] = stmt
    return stmt
