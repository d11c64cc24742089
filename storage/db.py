"""Engine and session factory for PostgreSQL or the embedded SQLite file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.settings import StorageSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_engine(url: str, *, echo: bool = False, pre_ping: bool = True) -> Engine:
    """An engine tuned for the dialect: WAL + busy timeout on SQLite; pre-ping and plans made for
    each statement's own parameters on PostgreSQL. Without `pre_ping` a connection the
    server dropped fails its first statement instead of being replaced at checkout: for
    callers that retry (the ledger writer), as the ping is half a millisecond per checkout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=pre_ping,
        pool_size=10,
        max_overflow=20,
        # psycopg prepares a statement after its 5th run on a connection, and PostgreSQL may
        # then pick one generic plan for every date range: the cost report's "all time" went
        # through the (org, day) index row by row, 17.6 s instead of 2.4 s (bench/cost_report.py).
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def engine_from_settings(settings: StorageSettings, *, pre_ping: bool = True) -> Engine:
    """The engine for the configured database, creating the embedded data folder if needed."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite") and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(url, echo=settings.echo_sql, pre_ping=pre_ping)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def retry_on_lost_connection(work: Callable[[], T]) -> T:
    """Run `work` (one whole transaction), once more if its connection turned out dead.

    For engines without pre-ping: a connection the server dropped fails on its first
    statement, before anything could commit, and SQLAlchemy then invalidates the pool, so
    the second attempt gets a fresh connection."""
    try:
        return work()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("the database connection was lost; retrying the transaction once")
        return work()
