"""SQL pieces the suggestion rules need that PostgreSQL and SQLite spell differently.

Day counts use whole seconds (no floating point), so both databases give the same number for
the same instants; amounts are text on SQLite (storage.types.Money), so they are cast before
any comparison or sum — SQLite would otherwise compare '900' and 5000 as text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    String,
    case,
    cast,
    literal,
    literal_column,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.types import UTCDateTime


# Lower-case like the SQL functions they render as.
class whole_days(FunctionElement[int]):
    """Whole days from the first instant to the second, rounded down."""

    type = Integer()
    name = "whole_days"
    inherit_cache = True


class smaller_of(FunctionElement[int]):
    """The smaller of two numbers (LEAST on PostgreSQL, two-argument MIN on SQLite)."""

    type = Integer()
    name = "smaller_of"
    inherit_cache = True


class amount_text(FunctionElement[str]):
    """An amount rounded to a whole number with thousands separators: 172,000."""

    type = String()
    name = "amount_text"
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: SQLCompiler, kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(whole_days, "postgresql")
def _whole_days_postgresql(element: whole_days, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({end}) - ({start})) / 86400) AS INTEGER)"


@compiles(whole_days, "sqlite")
def _whole_days_sqlite(element: whole_days, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _args(element, compiler, kw)
    seconds = "CAST(strftime('%s', {}) AS INTEGER)"
    # Integer division truncates toward zero: the same as rounding down for the ages we count.
    return f"(({seconds.format(end)} - {seconds.format(start)}) / 86400)"


@compiles(smaller_of, "postgresql")
def _smaller_of_postgresql(element: smaller_of, compiler: SQLCompiler, **kw: Any) -> str:
    return "LEAST({}, {})".format(*_args(element, compiler, kw))


@compiles(smaller_of, "sqlite")
def _smaller_of_sqlite(element: smaller_of, compiler: SQLCompiler, **kw: Any) -> str:
    return "MIN({}, {})".format(*_args(element, compiler, kw))


@compiles(amount_text, "postgresql")
def _amount_text_postgresql(element: amount_text, compiler: SQLCompiler, **kw: Any) -> str:
    (amount,) = _args(element, compiler, kw)
    return f"to_char(ROUND({amount}), 'FM999,999,999,999,990')"


@compiles(amount_text, "sqlite")
def _amount_text_sqlite(element: amount_text, compiler: SQLCompiler, **kw: Any) -> str:
    (amount,) = _args(element, compiler, kw)
    return f"printf('%,d', CAST(ROUND({amount}) AS INTEGER))"


def money(column: Any) -> ColumnElement[Any]:
    """A Money column as a number both databases compare and add correctly."""
    return cast(column, Numeric(18, 4))


def number(value: int) -> ColumnElement[int]:
    """A constant integer written into the SQL (safe: an int), not a bound parameter."""
    return literal_column(str(int(value)), Integer())


def instant(value: datetime) -> ColumnElement[datetime]:
    """A timestamp bound as the columns store it (UTC; naive text on SQLite)."""
    return literal(value, UTCDateTime())


def as_text(expression: Any) -> ColumnElement[str]:
    """Any value as text, for building messages."""
    return cast(expression, String())


def joined(*parts: str | ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[str]:
    """Text concatenated with ||: literal pieces are bound, expressions used as they are."""
    pieces = [literal(p, String()) if isinstance(p, str) else p for p in parts]
    text = pieces[0]
    for piece in pieces[1:]:
        text = text.op("||", return_type=String())(piece)
    return type_coerce(text, String())


def days_ago_text(days: ColumnElement[int]) -> ColumnElement[str]:
    """'less than a day', '1 day', '12 days'."""
    return case(
        (days < 1, literal("less than a day", String())),
        (days == 1, literal("1 day", String())),
        else_=joined(as_text(days), " days"),
    )
