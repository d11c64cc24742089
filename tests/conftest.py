"""Shared fixtures: a network guard, real PostgreSQL and Redis, and migrated SQLite files.

PostgreSQL and Redis tests run for real. Under CI=true an unreachable server fails the
run with a clear message; on a laptop without them those tests are skipped and counted.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.cache import RedisStore
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Base

PG_ADMIN_URL = os.environ.get(
    "COUNTERSIGN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("COUNTERSIGN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_executed: dict[str, int] = {"postgres": 0, "redis": 0}


# --- network guard -------------------------------------------------------------------------

_real_connect = socket.socket.connect


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):  # unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise AssertionError(f"test tried to reach the real network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test loudly."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# --- reachability --------------------------------------------------------------------------


def _unavailable(what: str, detail: str) -> None:
    message = f"{what} is unreachable ({detail})."
    if IN_CI:
        pytest.fail(f"{message} CI=true requires it: start it, do not skip.", pytrace=False)
    pytest.skip(f"{message} Set CI=true to make this a failure.")


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"countersign_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL at {PG_ADMIN_URL}", type(exc).__name__)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_factory(pg_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on PostgreSQL; every table is emptied after the test (concurrency-safe)."""
    yield session_factory(pg_engine)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# --- SQLite --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "countersign.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh, migrated SQLite file."""
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_factory(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    """The same test on the embedded SQLite file and on PostgreSQL."""
    name = "sqlite_factory" if request.param == "sqlite" else "pg_factory"
    factory: sessionmaker[Session] = request.getfixturevalue(name)
    return factory


# --- Redis ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; reachable or (under CI) a failure."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis at {REDIS_TEST_URL}", type(exc).__name__)
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    """A RedisStore under a unique key prefix, cleaned afterwards."""
    prefix = f"cs-test:{uuid.uuid4().hex[:8]}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    yield store
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


# --- counting what really ran --------------------------------------------------------------


def _uses(item: pytest.Item, fixture: str) -> bool:
    """Whether the test really used the server: its fixture was set up for this item,
    directly or through another fixture (getfixturevalue included)."""
    request = getattr(item, "_request", None)
    active = set(getattr(request, "_fixture_defs", {}) or {}) if request else set()
    return fixture in active or fixture in getattr(item, "funcargs", {})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed:
        if _uses(item, "pg_url"):
            _executed["postgres"] += 1
        if _uses(item, "redis_url"):
            _executed["redis"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"integration tests executed and passed: PostgreSQL {_executed['postgres']}, "
        f"Redis {_executed['redis']}"
    )


# --- no secret in any log ------------------------------------------------------------------
# Every test's log records (DEBUG and up, every logger) are checked once it ends: none may
# hold a secret. The secrets are the ones the code under test really used: every value a
# SecretStr revealed (tokens, signing secrets, API keys, passwords, random ones included),
# plus anything shaped like a Slack or Anthropic credential.

MIN_SECRET_CHARS = 8  # shorter test values ("s") would match ordinary words
_CREDENTIAL_SHAPE = re.compile(r"\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{4,}|\bsk-ant-[\w-]{4,}")
_revealed: set[str] = set()
_reveal = SecretStr.get_secret_value


def _recording_reveal(self: SecretStr) -> str:
    value = _reveal(self)
    if len(value) >= MIN_SECRET_CHARS:
        _revealed.add(value)
    return value


@pytest.fixture(scope="session", autouse=True)
def secrets_are_remembered() -> Iterator[None]:
    """Remember every secret value read during the session (module fixtures' included)."""
    SecretStr.get_secret_value = _recording_reveal  # type: ignore[method-assign]
    yield
    SecretStr.get_secret_value = _reveal  # type: ignore[method-assign]


class _LogText(logging.Handler):
    """Keeps the formatted text (tracebacks included) of every record it sees."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is logging's own problem
            self.lines.append(f"{record.name} unformattable record: {record.msg!r}")


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    """Fail a test whose log records (any logger, DEBUG up) contain a secret."""
    root = logging.getLogger()
    handler, level = _LogText(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    text = "\n".join(handler.lines)
    leaked = [s for s in _revealed if s in text] + _CREDENTIAL_SHAPE.findall(text)
    if leaked:
        line = next(x for x in handler.lines if any(s in x for s in leaked))
        for secret in leaked:  # the report must not print it either
            line = line.replace(secret, secret[:4] + "…")
        pytest.fail(f"a log record holds a secret: {line[:300]}", pytrace=False)
