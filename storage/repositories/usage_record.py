"""Writing model calls: ledger rows and their share of each daily roll-up, in the caller's
transaction. Two ways in:

- one call at a time (`record_call`, the direct write every call waits on): the statements
  are built once and run with parameters; on PostgreSQL one statement (the ledger INSERT and
  the three upserts as data-modifying CTEs: one round trip instead of four), on SQLite four.
  Building the ORM flush and the upserts per call had tripled the cost (bench/metering.py);
- a batch (`record_calls`, the write-behind drain of the Redis ledger stream): one multi-row
  INSERT that skips call keys already there, then the roll-ups of the rows it really inserted,
  summed per key. A batch delivered twice adds nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Date, Dialect, bindparam, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import NOBODY, ROLLUP_MEASURES, ROLLUPS, CallStatus, LLMCall
from storage.models.usage import UsageDailyCustomer, UsageDailyOrg, UsageDailyUser

Rollup = type[UsageDailyOrg] | type[UsageDailyUser] | type[UsageDailyCustomer]


def record_call(session: Session, call: LLMCall, day: date) -> None:
    """Append the ledger row and add it to each roll-up (`day` is the org-local date)."""
    row = _ledger_columns(call)
    values = _rollup_of(row, day)
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


def _rollup_of(row: Mapping[str, Any], day: date) -> dict[str, Any]:
    """A ledger row's roll-up key columns and measures (`row`: column name → value)."""
    contribution = measures(CallStatus(row["status"]), *(row[m] for m in LEDGER_MEASURES))
    return {
        "org_id": row["org_id"],
        "day": day,
        "user_id": row["user_id"] or NOBODY,
        "customer_id": row["customer_id"] or NOBODY,
        "agent": row["agent"],
        "model": row["model"],
        "request_type": row["request_type"],
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
    return _upsert(table, "sqlite")


def _upsert(table: Rollup, dialect: str) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE SET m = m + excluded.m, built once per table and
    dialect (Core, on the table: an executemany stays one plain statement)."""
    name = f"{dialect}:{table.__tablename__}"
    stmt = _STATEMENTS.get(name)
    if stmt is None:
        base = _DIALECTS[dialect].insert(table.__table__)
        added = {m: getattr(table, m) + getattr(base.excluded, m) for m in ROLLUP_MEASURES}
        stmt = base.on_conflict_do_update(index_elements=list(table.KEY), set_=added)
        _STATEMENTS[name] = stmt
    return stmt


_DIALECTS: dict[str, Any] = {"postgresql": postgresql, "sqlite": sqlite}


def _pg_record() -> Any:
    """The ledger INSERT and the three roll-up upserts as one PostgreSQL statement (its
    data-modifying CTEs all run, read or not), typed from the models, built once. A row whose
    call key is already in the ledger (the drain wrote it) inserts nothing and adds nothing:
    the upserts take their one row from what the INSERT returned."""
    stmt = _STATEMENTS.get("postgresql")
    if stmt is None:
        ledger = [c for c in LLMCall.__table__.columns if c.key != "id"]
        parts = [
            f"call AS (INSERT INTO llm_call ({', '.join(c.name for c in ledger)}) "
            f"VALUES ({', '.join(':c_' + c.key for c in ledger)}) "
            "ON CONFLICT (call_key) DO NOTHING RETURNING id)"
        ]
        for table in ROLLUPS:
            name, columns = table.__tablename__, [*table.KEY, *ROLLUP_MEASURES]
            added = ", ".join(f"{m} = {name}.{m} + excluded.{m}" for m in ROLLUP_MEASURES)
            parts.append(
                f"{name} AS (INSERT INTO {name} ({', '.join(columns)}) "
                f"SELECT {', '.join(':' + c for c in columns)} FROM call "
                f"ON CONFLICT ({', '.join(table.KEY)}) DO UPDATE SET {added})"
            )
        types = [bindparam(f"c_{c.key}", type_=c.type) for c in ledger]
        types.append(bindparam("day", type_=Date()))
        stmt = text(f"WITH {', '.join(parts)} SELECT id FROM call").bindparams(*types)
        _STATEMENTS["postgresql"] = stmt
    return stmt


# --- the write-behind ledger: rows as stream entries, and batches of them -----------------


def ledger_entry(call: LLMCall, day: date) -> dict[str, str]:
    """The ledger row as strings for a Redis stream entry: every column but the id (empty
    ones left out) and the org-local `day` its roll-ups count it in."""
    entry = {"day": day.isoformat()}
    for key, value in _ledger_columns(call).items():
        if value is not None:
            entry[key] = _as_text(value)
    return entry


def entry_row(entry: Mapping[str, str]) -> tuple[dict[str, Any], date]:
    """Back from `ledger_entry`: every ledger column (None where the entry has none) and the
    day. Raises ValueError (or KeyError for a missing required field) on a malformed entry."""
    row = {key: (parse(entry[key]) if key in entry else None) for key, parse in _parsers().items()}
    for required in ("org_id", "agent", "model", "request_type", "status", "call_key"):
        if row[required] is None:
            raise KeyError(f"ledger entry without {required}")
    return row, date.fromisoformat(entry["day"])


def record_calls(session: Session, rows: Sequence[tuple[Mapping[str, Any], date]]) -> int:
    """Append many ledger rows (from `entry_row`) in one INSERT, skipping call keys already in
    the ledger, and add only the rows really inserted to the roll-ups, summed per key.
    Returns how many were inserted.

    Everything is done in a fixed order (call key, then each roll-up's key) so that
    concurrent batches and single writes lock rows in the same order: no deadlock."""
    if not rows:
        return 0
    bound = session.get_bind().dialect
    ordered = sorted(rows, key=lambda pair: str(pair[0]["call_key"]))
    new = set(session.scalars(*_new_calls(bound, [row for row, _ in ordered])))
    sums: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
    for row, day in ordered:
        if row["call_key"] not in new:
            continue
        values = _rollup_of(row, day)
        for table in ROLLUPS:
            key = tuple(values[column] for column in table.KEY)
            total = sums[table.__tablename__].setdefault(key, {c: values[c] for c in table.KEY})
            for measure in ROLLUP_MEASURES:
                total[measure] = total.get(measure, 0) + values[measure]
    for table in ROLLUPS:
        by_key = sums[table.__tablename__]
        if by_key:
            session.execute(*_rollup_batch(table, bound, [by_key[k] for k in sorted(by_key)]))
    return len(new)


def _new_calls(dialect: Dialect, rows: list[Mapping[str, Any]]) -> tuple[Any, Any]:
    """The batch INSERT of ledger rows that skips known call keys, and its parameters."""
    if dialect.name != "postgresql":
        return _insert_new(dialect.name), [dict(row) for row in rows]
    stmt = _STATEMENTS.get("postgresql:ledger_batch")
    if stmt is None:
        ledger = [c for c in LLMCall.__table__.columns if c.key != "id"]
        tail = "ON CONFLICT (call_key) DO NOTHING RETURNING call_key"
        stmt = _unnest_insert(ledger, tail, dialect)
        _STATEMENTS["postgresql:ledger_batch"] = stmt
    return stmt, _columns_of(rows)


def _rollup_batch(table: Rollup, dialect: Dialect, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The batch upsert of summed roll-up rows (one per key), and its parameters."""
    if dialect.name != "postgresql":
        return _upsert(table, dialect.name), rows
    name = f"postgresql:batch:{table.__tablename__}"
    stmt = _STATEMENTS.get(name)
    if stmt is None:
        columns = [table.__table__.c[c] for c in (*table.KEY, *ROLLUP_MEASURES)]
        added = ", ".join(
            f"{m} = {table.__tablename__}.{m} + excluded.{m}" for m in ROLLUP_MEASURES
        )
        tail = f"ON CONFLICT ({', '.join(table.KEY)}) DO UPDATE SET {added}"
        stmt = _unnest_insert(columns, tail, dialect)
        _STATEMENTS[name] = stmt
    return stmt, _columns_of(rows)


def _unnest_insert(columns: list[Any], tail: str, dialect: Dialect) -> Any:
    """INSERT … SELECT * FROM unnest(one typed array per column) …: a whole batch as one
    statement of constant text with one parameter per column. Multi-row VALUES
    ("insertmanyvalues") made psycopg parse 12 000 placeholders per 500-row batch: 5 times
    slower (bench/metering.py)."""
    table = columns[0].table.name
    arrays = ", ".join(f"CAST(:{c.key} AS {c.type.compile(dialect=dialect)}[])" for c in columns)
    names = ", ".join(c.name for c in columns)
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}"
    return text(sql).bindparams(
        *(bindparam(c.key, type_=postgresql.ARRAY(c.type)) for c in columns)
    )


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column (unnest's arrays)."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _insert_new(dialect: str) -> Any:
    """INSERT INTO llm_call … ON CONFLICT (call_key) DO NOTHING RETURNING call_key; run with
    a list of rows, SQLAlchemy sends it as multi-row VALUES ("insertmanyvalues")."""
    name = f"{dialect}:ledger_batch"
    stmt = _STATEMENTS.get(name)
    if stmt is None:
        base = _DIALECTS[dialect].insert(LLMCall.__table__)
        stmt = base.on_conflict_do_nothing(index_elements=["call_key"]).returning(
            LLMCall.__table__.c.call_key
        )
        _STATEMENTS[name] = stmt
    return stmt


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


_PARSERS: dict[str, Callable[[str], Any]] = {}


def _parsers() -> dict[str, Callable[[str], Any]]:
    """How to read each ledger column back from text, from the model's column types."""
    if not _PARSERS:
        for column in LLMCall.__table__.columns:
            if column.key == "id":
                continue
            kind = getattr(column.type, "impl", column.type).python_type  # through decorators
            _PARSERS[column.key] = datetime.fromisoformat if kind is datetime else kind
    return _PARSERS
