"""Writing one model call: its ledger row and its share of each daily roll-up, in the
caller's transaction. Every model call waits on this, so the statements are built once and
run with parameters: on PostgreSQL one statement (the ledger INSERT and the three upserts as
data-modifying CTEs: one round trip instead of four), on SQLite four. Building the ORM flush
and the upserts per call had tripled the cost (bench/metering.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, bindparam, insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from storage.models import NOBODY, ROLLUP_MEASURES, ROLLUPS, CallStatus, LLMCall
from storage.models.usage import UsageDailyCustomer, UsageDailyOrg, UsageDailyUser

Rollup = type[UsageDailyOrg] | type[UsageDailyUser] | type[UsageDailyCustomer]


def record_call(session: Session, call: LLMCall, day: date) -> None:
    """Append the ledger row and add it to each roll-up (`day` is the org-local date)."""
    values = _rollup_values(call, day)
    row = _ledger_columns(call)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_pg_record(), {**{f"c_{k}": v for k, v in row.items()}, **values})
        return
    session.execute(_LEDGER_INSERT, row)
    for table in ROLLUPS:
        wanted = {column: values[column] for column in (*table.KEY, *ROLLUP_MEASURES)}
        session.execute(_sqlite_upsert(table), wanted)


# The ledger's token and money columns, in the order `measures` takes them.
LEDGER_MEASURES = (
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "cost_micro_usd",
    "saved_micro_usd",
)


def measures(
    status: CallStatus,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_write_5m_tokens: int | None,
    cache_write_1h_tokens: int | None,
    cache_read_tokens: int | None,
    cost_micro_usd: int | None,
    saved_micro_usd: int | None,
) -> tuple[int, ...]:
    """One call's contribution to each of ROLLUP_MEASURES, in that order."""
    cached = status == CallStatus.CACHED
    live = 0 if cached else 1  # a cache hit processed no tokens; its row keeps them as "saved"
    saved = saved_micro_usd or 0
    return (
        1,
        1 if status == CallStatus.ERROR else 0,
        1 - live,
        live * (input_tokens or 0),
        live * (output_tokens or 0),
        live * (cache_write_5m_tokens or 0),
        live * (cache_write_1h_tokens or 0),
        live * (cache_read_tokens or 0),
        cost_micro_usd or 0,
        saved if cached else 0,
        0 if cached else saved,
    )


def _rollup_values(call: LLMCall, day: date) -> dict[str, Any]:
    contribution = measures(call.status, *(getattr(call, m) for m in LEDGER_MEASURES))
    return {
        "org_id": call.org_id,
        "day": day,
        "user_id": call.user_id or NOBODY,
        "customer_id": call.customer_id or NOBODY,
        "agent": call.agent,
        "model": call.model,
        "request_type": call.request_type,
        **dict(zip(ROLLUP_MEASURES, contribution, strict=True)),
    }


_LEDGER_INSERT = insert(LLMCall)
_STATEMENTS: dict[str, Any] = {}


def _ledger_columns(call: LLMCall) -> dict[str, Any]:
    """Every column but the id, with Python-side defaults filled in (the statements name
    them all)."""
    values = {}
    for column in LLMCall.__table__.columns:
        if column.key == "id":
            continue
        value = getattr(call, column.key)
        if value is None and column.default is not None:
            default = column.default.arg
            value = default(None) if callable(default) else default
        values[column.key] = value
    return values


def _sqlite_upsert(table: Rollup) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE SET m = m + excluded.m, built once per table."""
    stmt = _STATEMENTS.get(table.__tablename__)
    if stmt is None:
        base = sqlite.insert(table)
        added = {m: getattr(table, m) + getattr(base.excluded, m) for m in ROLLUP_MEASURES}
        stmt = base.on_conflict_do_update(index_elements=list(table.KEY), set_=added)
        _STATEMENTS[table.__tablename__] = stmt
    return stmt


def _pg_record() -> Any:
    """The ledger INSERT and the three roll-up upserts as one PostgreSQL statement (its
    data-modifying CTEs all run, read or not), typed from the models, built once."""
    stmt = _STATEMENTS.get("postgresql")
    if stmt is None:
        ledger = [c for c in LLMCall.__table__.columns if c.key != "id"]
        parts = [
            f"call AS (INSERT INTO llm_call ({', '.join(c.name for c in ledger)}) "
            f"VALUES ({', '.join(':c_' + c.key for c in ledger)}) RETURNING id)"
        ]
        for table in ROLLUPS:
            name, columns = table.__tablename__, [*table.KEY, *ROLLUP_MEASURES]
            added = ", ".join(f"{m} = {name}.{m} + excluded.{m}" for m in ROLLUP_MEASURES)
            parts.append(
                f"{name} AS (INSERT INTO {name} ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)}) "
                f"ON CONFLICT ({', '.join(table.KEY)}) DO UPDATE SET {added})"
            )
        types = [bindparam(f"c_{c.key}", type_=c.type) for c in ledger]
        types.append(bindparam("day", type_=Date()))
        stmt = text(f"WITH {', '.join(parts)} SELECT id FROM call").bindparams(*types)
        _STATEMENTS["postgresql"] = stmt
    return stmt
