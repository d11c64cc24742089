"""INSERT … ON CONFLICT DO NOTHING for both dialects (SQLAlchemy has one per dialect)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


def insert_ignoring_conflict(
    session: Session,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    *,
    conflict_columns: list[str],
) -> bool:
    """Insert one row unless it collides on `conflict_columns`; True when this call inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(model).values(**values)
        stmt: Any = pg_stmt.on_conflict_do_nothing(index_elements=conflict_columns)
    else:
        lite_stmt = sqlite.insert(model).values(**values)
        stmt = lite_stmt.on_conflict_do_nothing(index_elements=conflict_columns)
    # RETURNING yields a row only when this statement inserted; rowcount is not reliable for
    # ON CONFLICT DO NOTHING across drivers (psycopg reported a conflict as 1 row here).
    primary_key = list(inspect(model).primary_key)
    result = session.execute(stmt.returning(*primary_key))
    return result.first() is not None
