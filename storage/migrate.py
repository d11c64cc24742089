"""Run the Alembic migrations shipped in the `migrations` package against any URL, and apply the
job engine's own schema (procrastinate's tables and functions) on PostgreSQL."""

from __future__ import annotations

import logging
from importlib.metadata import version
from importlib.resources import files

from alembic import command
from alembic.config import Config
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, text

from storage.db import make_engine

log = logging.getLogger(__name__)

# Serialises concurrent `countersign migrate` runs while they look for and create the schema.
_JOB_SCHEMA_LOCK = 0x63736A6F62  # "csjob"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    # ConfigParser treats % as interpolation; URLs may contain it (encoded passwords).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Take the database at `url` down to `revision` ("base" empties it)."""
    command.downgrade(alembic_config(url), revision)


def apply_job_schema(url: str) -> bool:
    """Create procrastinate's schema on PostgreSQL unless it is there; True when this call did.

    It is the job engine's own schema, shipped and versioned by procrastinate, so it lives beside
    our Alembic history rather than in it (and `downgrade` leaves it alone). SQLite has no job
    engine: nothing to do."""
    if not url.startswith("postgresql"):
        return False
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _JOB_SCHEMA_LOCK})
            applied = job_schema_version(conn)
            if applied is not None:
                _warn_if_outdated(applied)
                return False
            _create_job_schema(conn)
            return True
    finally:
        engine.dispose()


def job_schema_version(conn: Connection) -> str | None:
    """The procrastinate version whose schema is applied ("unknown" if it was applied by other
    means); None when there is none."""
    found = conn.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar_one()
    if not found:
        return None
    comment = conn.execute(
        text("SELECT obj_description('procrastinate_jobs'::regclass, 'pg_class')")
    ).scalar_one()
    return str(comment).removeprefix("procrastinate ") if comment else "unknown"


def _create_job_schema(conn: Connection) -> None:
    # Through the driver without parameters: the script is many statements and contains '%'.
    conn.connection.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]
    stamp = f"procrastinate {version('procrastinate')}"
    conn.execute(text(f"COMMENT ON TABLE procrastinate_jobs IS '{stamp}'"))
    log.info("applied the job engine's schema (%s)", stamp)


def _warn_if_outdated(applied: str) -> None:
    installed = version("procrastinate")
    if applied != installed:
        log.warning(
            "the job schema is from procrastinate %s, the installed one is %s: apply its "
            "migrations from `procrastinate schema --migrations-path` (see its docs)",
            applied,
            installed,
        )
