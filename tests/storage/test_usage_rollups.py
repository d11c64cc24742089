"""The daily roll-ups always equal the raw ledger, on both databases, in org-local days."""

from __future__ import annotations

import random
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import CallStatus, LLMCall, UsageDaily
from storage.uow import UnitOfWork
from tests.agents.metering_fixtures import InstantModel, attribution, make_world, meter, request
from tests.conftest import PG_ADMIN_URL

START = datetime(2026, 10, 25, tzinfo=UTC)


def _random_call(rng: random.Random, world, at: datetime) -> LLMCall:
    status = rng.choice([CallStatus.OK] * 6 + [CallStatus.ERROR, CallStatus.CACHED])
    live = status != CallStatus.ERROR
    return LLMCall(
        created_at=at,
        org_id=world.org_id,
        user_id=rng.choice([world.rep_id, world.other_rep_id, None]),
        customer_id=rng.choice([world.customer_id, None]),
        agent=rng.choice(["triage", "customer", "drafting"]),
        request_type=rng.choice(["chat", "command", "regenerate"]),
        model=rng.choice(["claude-sonnet-5-5", "claude-haiku-5-5"]),
        input_tokens=rng.randint(0, 5_000) if live else 0,
        output_tokens=rng.randint(0, 2_000) if live else 0,
        cache_write_5m_tokens=rng.randint(0, 3_000) if live else 0,
        cache_write_1h_tokens=rng.randint(0, 100) if live else 0,
        cache_read_tokens=rng.randint(0, 9_000) if live else 0,
        cost_micro_usd=0 if status != CallStatus.OK else rng.randint(1, 50_000),
        saved_micro_usd=rng.randint(-500, 20_000) if live else 0,
        status=status,
    )


def test_rollup_totals_equal_ledger_totals(any_factory):
    world = make_world(any_factory)
    rng = random.Random(7)
    with UnitOfWork(any_factory) as uow:
        for _ in range(600):
            at = START + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
            uow.usage.record(_random_call(rng, world, at), day=at.date())
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        rolled = uow.usage.totals(world.org_id, date(2026, 10, 1), date(2026, 12, 1))
        raw = uow.usage.ledger_totals(world.org_id, START, START + timedelta(days=31))
        rows = uow.session.query(UsageDaily).count()
    assert rolled == raw
    assert rolled.requests == 600 and 0 < rows < 600  # summed, not copied
    assert rolled.cached_hits > 0 and rolled.errors > 0


def test_org_local_days_split_at_local_midnight(any_factory):
    world = make_world(any_factory, timezone="America/Los_Angeles")
    late_evening = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)  # 23:30 on the 20th in LA

    llm = meter(world, clock=lambda: late_evening).bind(InstantModel(), attribution(world))
    llm.create(request())
    with UnitOfWork(any_factory) as uow:
        on_the_20th = uow.usage.totals(world.org_id, date(2026, 11, 20), date(2026, 11, 21))
        on_the_21st = uow.usage.totals(world.org_id, date(2026, 11, 21), date(2026, 11, 22))
    assert (on_the_20th.requests, on_the_21st.requests) == (1, 0)
    assert on_the_20th.cost_micro_usd == 500 * 2 + 100 * 10


ORG_ROW = (
    "INSERT INTO org (id, slack_team_id, name, timezone, currency, created_at) "
    "VALUES (1, 'T1', 'Acme', 'America/Los_Angeles', 'USD', '2026-11-01 00:00:00+00')"
)
CALL_ROW = (
    "INSERT INTO llm_call (created_at, org_id, agent, request_type, model, input_tokens, "
    "output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, "
    "cost_micro_usd, latency_ms, status) VALUES (:at, 1, 'customer', 'chat', "
    "'claude-sonnet-5-5', 100, 10, 0, 0, 0, :cost, 5, :status)"
)


@contextmanager
def _database_at_0002(kind: str, tmp_path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"countersign_backfill_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_migration_rolls_up_the_ledger_it_finds(kind, tmp_path, request):
    """Upgrading from 0002 with ledger rows present backfills usage_daily to equal them."""
    if kind == "postgres":
        request.getfixturevalue("pg_url")  # reachable (or, under CI, a failure)
    with _database_at_0002(kind, tmp_path) as url:
        upgrade(url, "0002")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(ORG_ROW))
            for i in range(10):
                at = f"2026-11-0{2 + i % 3} 0{i % 2 * 9}:00:00"  # 00:00 or 09:00 UTC
                at += "+00" if kind == "postgres" else ".000000"  # as each stores timestamps
                status = "error" if i == 9 else "ok"
                conn.execute(text(CALL_ROW), {"at": at, "cost": 1_000 + i, "status": status})
        upgrade(url)
        with UnitOfWork(session_factory(engine)) as uow:
            rolled = uow.usage.totals(1, date(2026, 11, 1), date(2026, 11, 5))
            raw = uow.usage.ledger_totals(1, START, START + timedelta(days=30))
            first_day = uow.usage.totals(1, date(2026, 11, 1), date(2026, 11, 2)).requests
        engine.dispose()
    assert rolled == raw
    assert (rolled.requests, rolled.errors, rolled.cost_micro_usd) == (10, 1, 10_045)
    # PostgreSQL knows time zones: midnight UTC on the 2nd is the 1st in Los Angeles.
    assert first_day == (2 if kind == "postgres" else 0)
