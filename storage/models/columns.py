"""Shared column shapes."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Enum, Integer

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL ledgers outgrow int4.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def str_enum(enum: type[StrEnum]) -> Enum:
    """A StrEnum stored as its value in a VARCHAR (no native enum: cheap to extend)."""
    return Enum(
        enum,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
