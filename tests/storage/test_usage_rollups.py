"""Each daily roll-up always equals the raw ledger, on both databases, in org-local days; so
does the export's grouping of the ledger."""

from __future__ import annotations

import random
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import ROLLUPS, CallStatus, LLMCall
from storage.repositories.usage import UsageTotals
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


def _sum(parts) -> UsageTotals:
    parts, fields = list(parts), UsageTotals.__dataclass_fields__
    return UsageTotals(**{f: sum(getattr(p, f) for p in parts) for f in fields})


def _record_random_calls(factory, world, n: int) -> list[LLMCall]:
    rng = random.Random(7)
    calls = []
    with UnitOfWork(factory) as uow:
        for _ in range(n):
            at = START + timedelta(minutes=rng.randint(0, 60 * 24 * 30))
            call = _random_call(rng, world, at)
            calls.append(call)
            uow.usage.record(call, day=at.date())
        uow.commit()
    return calls


def test_rollup_totals_equal_ledger_totals(any_factory):
    world = make_world(any_factory)
    _record_random_calls(any_factory, world, 600)
    days = (world.org_id, date(2026, 10, 1), date(2026, 12, 1))
    with UnitOfWork(any_factory) as uow:
        raw = uow.usage.ledger_totals(world.org_id, START, START + timedelta(days=31))
        org = uow.usage.totals(*days)
        per = {by: uow.usage.totals_by(*days, by) for by in ("user", "customer", "agent")}
        per["model"] = {g.key: g.totals for g in uow.usage.breakdown(*days, "model")}
        per["request_type"] = {g.key: g.totals for g in uow.usage.breakdown(*days, "request_type")}
        chart = uow.usage.daily_cost(*days)
        rows = {table.__tablename__: uow.session.query(table).count() for table in ROLLUPS}
    assert org == raw
    for by, groups in per.items():
        assert _sum(groups.values()) == raw, by
    assert sum(chart.values()) == raw.cost_micro_usd
    assert raw.requests == 600 and all(0 < count < 600 for count in rows.values())  # summed
    assert raw.cached_hits > 0 and raw.errors > 0


def test_each_slice_equals_its_calls_in_the_ledger(any_factory):
    """One user's, one customer's and one request type's totals equal their own calls."""
    world = make_world(any_factory)
    calls = _record_random_calls(any_factory, world, 300)
    days = (world.org_id, date(2026, 10, 1), date(2026, 12, 1))
    with UnitOfWork(any_factory) as uow:
        mine = uow.usage.totals(*days, user_id=world.rep_id)
        theirs = uow.usage.totals(*days, customer_id=world.customer_id)
        chats = uow.usage.totals(*days, request_type="chat")
        with pytest.raises(ValueError, match="one scope at a time"):
            uow.usage.totals(*days, user_id=world.rep_id, request_type="chat")
    assert mine.requests == sum(c.user_id == world.rep_id for c in calls)
    assert mine.cost_micro_usd == sum(c.cost_micro_usd for c in calls if c.user_id == world.rep_id)
    assert theirs.requests == sum(c.customer_id == world.customer_id for c in calls)
    assert chats.cost_micro_usd == sum(c.cost_micro_usd for c in calls if c.request_type == "chat")


def test_export_groups_equal_the_ledger_in_org_local_days(any_factory):
    world = make_world(any_factory, timezone="America/Los_Angeles")
    _record_random_calls(any_factory, world, 400)
    early = START + timedelta(hours=3)  # 20:00 on the 24th in Los Angeles
    with UnitOfWork(any_factory) as uow:
        uow.usage.record(_random_call(random.Random(1), world, early), day=date(2026, 10, 24))
        uow.commit()
    tz = ZoneInfo("America/Los_Angeles")
    start, end = START - timedelta(days=1), START + timedelta(days=32)
    with UnitOfWork(any_factory) as uow:
        groups = uow.usage.ledger_groups(world.org_id, start, end, tz)
        raw = uow.usage.ledger_totals(world.org_id, start, end)
    assert _sum(g.totals for g in groups) == raw
    keys = [(g.day, g.user_id, g.customer_id, g.agent, g.model, g.request_type) for g in groups]
    assert len(set(keys)) == len(keys) < 401  # one line per day and dimensions, summed
    assert [g.day for g in groups] == sorted(g.day for g in groups)
    assert groups[0].day == date(2026, 10, 24)


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
    """Upgrading from 0002 with ledger rows present backfills the roll-ups to equal them
    (0003 sums the ledger into the wide roll-up, 0004 that into the narrow ones)."""
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
            nobody = uow.usage.totals_by(1, date(2026, 11, 1), date(2026, 11, 5), "user")
        engine.dispose()
    assert rolled == raw
    assert nobody == {"0": raw}  # the calls had no user: all of it under "(none)"
    assert (rolled.requests, rolled.errors, rolled.cost_micro_usd) == (10, 1, 10_045)
    # PostgreSQL knows time zones: midnight UTC on the 2nd is the 1st in Los Angeles.
    assert first_day == (2 if kind == "postgres" else 0)
