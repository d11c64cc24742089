"""The write-behind ledger on real PostgreSQL and Redis: a metered call appends its ledger row
with the budget settle, drains write it (once, however often it is delivered), and a row
Redis does not take is written directly."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import date, timedelta

import pytest
import redis
from sqlalchemy import func, select

from agents.errors import ModelUnavailableError
from agents.metering.budgets import Hold
from agents.metering.rules import CallScope
from bot.ledger_drain import LedgerDrain
from bot.services import build_services, ledger_stream
from bot.settings import JobSettings, RuntimeSettings, Settings, SettingsError, SlackSettings
from storage.limits import LedgerStream, RedisCounters
from storage.limits.ledger_stream import ROW_FIELD
from storage.models import CallStatus, Conversation, LLMCall
from storage.repositories.usage import UsageTotals
from storage.repositories.usage_record import entry_row
from storage.settings import StorageSettings
from storage.uow import UnitOfWork
from tests.agents.metering_fixtures import (
    MODEL,
    NOW,
    InstantModel,
    attribution,
    guard,
    ledger_spend,
    make_world,
    meter,
    request,
)
from tests.stack import offline_agents

DEAD_REDIS = "redis://127.0.0.1:1/0"
COST = 500 * 2 + 100 * 10  # InstantModel's default usage at $2 / $10 per MTok, in µUSD


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"cs-test:{uuid.uuid4().hex[:8]}:"
    client.prefix = prefix  # type: ignore[attr-defined]
    yield client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def _stream(client) -> LedgerStream:
    return LedgerStream(client, key=client.prefix + "ledger")


def _streamed(world, client, stream=None):
    """A meter in stream mode: counters that settle into the stream, on Redis."""
    stream = stream or _stream(client)
    counters = RedisCounters(client, prefix=client.prefix + "budget:", ledger=stream)
    return meter_with(world, guard(world, counters), stream), stream


def meter_with(world, budgets, stream):
    m = meter(world, budgets)
    m.ledger = stream
    return m


def _drain(world, stream, **options) -> LedgerDrain:
    return LedgerDrain(stream=stream, factory=world.factory, mode="thread", **options)


def _org_day_cost(client) -> int:
    """The Redis-side truth: the org's daily cost counter, settled to the actual costs."""
    [key] = [k for k in client.scan_iter(f"{client.prefix}budget:*") if ":org::day:cost:" in k]
    return int(client.get(key))


def _rollups_and_ledger(world) -> tuple[UsageTotals, UsageTotals]:
    with UnitOfWork(world.factory) as uow:
        rolled = uow.usage.totals(world.org_id, date(2000, 1, 1), date(2100, 1, 1))
        raw = uow.usage.ledger_totals(world.org_id, NOW - timedelta(days=400), NOW + timedelta(1))
    return rolled, raw


def _calls(world, m, n: int, *, seed: int = 3) -> int:
    """n calls with varied usage and attribution (some fail); returns what they cost."""
    rng, spent = random.Random(seed), 0
    for i in range(n):
        model = InstantModel(input_tokens=rng.randint(1, 4000), output_tokens=rng.randint(1, 900))
        if i % 7 == 3:
            model.error = ModelUnavailableError("overloaded")
        who = rng.choice([world.rep_id, world.other_rep_id])
        metered = m.bind(model, attribution(world, user_id=who, customer_id=world.customer_id))
        try:
            metered.create(request(f"question {i}"))
        except ModelUnavailableError:
            pass
        spent += metered.total_cost_micro_usd
    return spent


def test_a_streamed_call_reaches_the_ledger_after_a_drain_with_exact_cost_and_attribution(
    pg_factory, client
):
    world = make_world(pg_factory)
    with UnitOfWork(pg_factory) as uow:
        conversation = Conversation(org_id=world.org_id, channel_id="C1", thread_ts="1.0")
        uow.session.add(conversation)
        uow.commit()
    m, stream = _streamed(world, client)
    who = attribution(
        world,
        on_behalf_of_user_id=world.other_rep_id,
        customer_id=world.customer_id,
        conversation_id=conversation.id,
        channel_id="C1",
        route="rules",
        request_type="regenerate",
        prompt_version="customer@3",
    )
    m.bind(InstantModel(), who).create(request())
    assert ledger_spend(world) == (0, 0)  # written behind the call, not on its time
    assert client.xlen(stream.key) == 1

    assert _drain(world, stream).drain_once() == 1
    with UnitOfWork(pg_factory) as uow:
        [row] = uow.session.scalars(select(LLMCall))
    assert (row.cost_micro_usd, row.input_tokens, row.output_tokens) == (COST, 500, 100)
    assert (row.org_id, row.user_id, row.on_behalf_of_user_id) == (
        world.org_id,
        world.rep_id,
        world.other_rep_id,
    )
    assert (row.customer_id, row.conversation_id, row.channel_id) == (
        world.customer_id,
        conversation.id,
        "C1",
    )
    assert (row.agent, row.route, row.request_type, row.prompt_version, row.model) == (
        "customer",
        "rules",
        "regenerate",
        "customer@3",
        MODEL,
    )
    assert row.status == CallStatus.OK and row.created_at == NOW and len(row.call_key) == 32
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw and rolled.cost_micro_usd == COST == _org_day_cost(client)
    assert client.xlen(stream.key) == 0 and stream.backlog().pending == 0


@pytest.mark.parametrize("dies", ["before its commit", "between commit and ack"])
def test_a_batch_of_a_killed_drain_is_taken_over_and_counted_once(pg_factory, client, dies):
    world = make_world(pg_factory)
    m, stream = _streamed(world, client)
    spent = _calls(world, m, 40)

    first = _drain(world, stream, batch=15)
    taken = first.take()  # the first drain takes a batch, then dies
    assert len(taken) == 15
    if dies == "between commit and ack":
        assert first.write(taken) == 15
    second = _drain(world, stream, batch=15, claim_idle=0)
    while second.drain_once():
        pass

    assert second.stats.duplicates == (15 if dies == "between commit and ack" else 0)
    calls, cost = ledger_spend(world)
    assert (calls, cost) == (40, spent) and cost == _org_day_cost(client)
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw and rolled.requests == 40
    assert client.xlen(stream.key) == 0 and stream.backlog().pending == 0


def test_two_drains_share_the_stream_without_writing_a_row_twice(pg_factory, client):
    world = make_world(pg_factory)
    m, stream = _streamed(world, client)
    drains = [_drain(world, stream, batch=10, interval=0.01) for _ in range(2)]
    for drain in drains:
        drain.start()
    try:
        spent = _calls(world, m, 150)
    finally:
        for drain in drains:
            drain.stop()
    assert sum(d.stats.inserted for d in drains) == 150
    assert sum(d.stats.duplicates for d in drains) == 0
    assert all(d.stats.inserted > 0 for d in drains)  # both took a share
    with UnitOfWork(pg_factory) as uow:
        keys = uow.session.scalar(select(func.count(func.distinct(LLMCall.call_key))))
    assert keys == 150 and ledger_spend(world) == (150, spent)
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw and raw.cost_micro_usd == _org_day_cost(client)


def test_with_redis_down_at_the_settle_the_row_is_written_directly(pg_factory, client):
    world = make_world(pg_factory)
    dead = LedgerStream(redis.Redis.from_url(DEAD_REDIS, socket_connect_timeout=0.5))
    counters = RedisCounters(client, prefix=client.prefix + "budget:", ledger=dead)
    m = meter_with(world, guard(world, counters), dead)  # reserves on Redis, then it dies
    m.bind(InstantModel(), attribution(world)).create(request())
    m.bind(InstantModel(), attribution(world, user_id=None)).create(request())
    assert ledger_spend(world) == (2, 2 * COST)
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw


def test_with_redis_down_throughout_the_database_fallback_writes_directly(pg_factory):
    world = make_world(pg_factory)
    dead_client = redis.Redis.from_url(
        DEAD_REDIS, socket_connect_timeout=0.5, decode_responses=True
    )
    dead = LedgerStream(dead_client)
    counters = RedisCounters(dead_client, ledger=dead)
    m = meter_with(world, guard(world, counters), dead)
    m.bind(InstantModel(), attribution(world)).create(request())
    assert ledger_spend(world) == (1, COST)


def test_a_row_both_appended_and_written_directly_is_kept_once(pg_factory, client):
    """An append whose reply was lost looks failed: the meter writes the row directly too."""
    world = make_world(pg_factory)
    m, stream = _streamed(world, client)
    m.bind(InstantModel(), attribution(world)).create(request())
    [(_, fields)] = client.xrange(stream.key)
    row, _day = entry_row(json.loads(fields[ROW_FIELD]))
    m.write(LLMCall(**row))
    drain = _drain(world, stream)
    drain.drain_once()
    assert drain.stats.duplicates == 1 and ledger_spend(world) == (1, COST)
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw and rolled.requests == 1


def test_an_entry_is_one_json_field_and_an_older_field_per_column_entry_is_still_written(
    pg_factory, client
):
    world = make_world(pg_factory)
    m, stream = _streamed(world, client)
    m.bind(InstantModel(), attribution(world)).create(request())
    [(_, packed)] = client.xrange(stream.key)
    assert list(packed) == [ROW_FIELD]
    row = json.loads(packed[ROW_FIELD])
    row["call_key"] = uuid.uuid4().hex
    client.xadd(stream.key, row)  # as the release before packing appended it
    drain = _drain(world, stream)
    assert drain.drain_once() == 2
    assert drain.stats.inserted == 2 and drain.stats.buried == 0
    assert ledger_spend(world) == (2, 2 * COST)


@pytest.mark.parametrize("value", ["{not json", '["a list"]', '{"org_id": 7}'])
def test_a_packed_entry_that_is_not_a_ledger_row_is_moved_aside(pg_factory, client, value):
    world = make_world(pg_factory)
    stream = _stream(client)
    client.xadd(stream.key, {ROW_FIELD: value})
    drain = _drain(world, stream)
    assert drain.drain_once() == 1
    assert drain.stats.buried == 1 and ledger_spend(world) == (0, 0)
    assert client.xlen(stream.key) == 0 and client.xlen(f"{stream.key}:dead") == 1


def test_counters_reseeded_while_rows_wait_in_the_stream_count_those_rows(pg_factory, client):
    """A counter that expires (or that Redis lost) is seeded from the roll-ups plus the rows
    no drain has written yet: it ends where a seed from the fully drained ledger ends."""
    world = make_world(pg_factory)
    m, stream = _streamed(world, client)
    spent = _calls(world, m, 12)  # no drain runs: every row waits in the stream
    _forget_counters(client)
    spent += _calls(world, m, 1, seed=5)  # its reserve re-seeds its counters
    _touch_every_counter(world, m)  # and these the others
    assert _org_day_cost(client) == spent  # the roll-ups alone would say: this call's cost
    reseeded_with_the_stream = _counters(client)

    _drain(world, stream).flush()
    _forget_counters(client)
    _touch_every_counter(world, m)
    assert _counters(client) == reseeded_with_the_stream
    assert _org_day_cost(client) == spent == ledger_spend(world)[1]


def _touch_every_counter(world, m) -> None:
    """A reserve of nothing, released, for each rep: each counter seeded, none moved."""
    for who in (world.rep_id, world.other_rep_id):
        scope = CallScope(world.org_id, who, world.customer_id, "chat")
        m.budgets.reserve(scope, 0).release()


def _forget_counters(client) -> None:
    for key in client.scan_iter(f"{client.prefix}budget:*"):
        client.delete(key)


def _counters(client) -> dict[str, int]:
    return {k: int(client.get(k)) for k in client.scan_iter(f"{client.prefix}budget:*")}


def test_roll_up_totals_equal_ledger_totals_after_draining(pg_factory, client):
    world = make_world(pg_factory)
    stream = _stream(client)
    m = meter_with(world, None, stream)
    rng = random.Random(11)
    for _ in range(300):
        status = rng.choice([CallStatus.OK] * 5 + [CallStatus.ERROR, CallStatus.CACHED])
        row = LLMCall(
            created_at=NOW - timedelta(hours=rng.randint(0, 24 * 40)),
            org_id=world.org_id,
            user_id=rng.choice([world.rep_id, world.other_rep_id, None]),
            customer_id=rng.choice([world.customer_id, None]),
            agent=rng.choice(["triage", "customer", "drafting"]),
            request_type=rng.choice(["chat", "regenerate"]),
            model=MODEL,
            input_tokens=rng.randint(0, 5000),
            output_tokens=rng.randint(0, 900),
            cache_read_tokens=rng.randint(0, 9000),
            cost_micro_usd=rng.randint(0, 40_000) if status == CallStatus.OK else 0,
            saved_micro_usd=rng.randint(-300, 9000),
            status=status,
            error="overloaded" if status == CallStatus.ERROR else None,
            call_key=uuid.uuid4().hex,
        )
        m.book(row, Hold(guard=None, estimate=0), settle=0)
    drain = _drain(world, stream, batch=64)
    drain.flush()
    assert drain.stats.inserted == 300
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw and raw.requests == 300


def test_stream_mode_is_the_default_with_redis_and_postgres_only(pg_url, redis_url, tmp_path):
    def settings(**storage):
        return _settings(StorageSettings(data_dir=tmp_path, **storage))

    assert ledger_stream(settings(database_url=pg_url, redis_url=redis_url)) is not None
    assert ledger_stream(settings(redis_url=redis_url)) is None  # embedded SQLite
    assert ledger_stream(settings(database_url=pg_url)) is None
    wrong = settings(database_url=pg_url)
    wrong.cost.ledger_write = "stream"
    with pytest.raises(SettingsError, match="COUNTERSIGN_LEDGER_WRITE=stream needs REDIS_URL"):
        ledger_stream(wrong)


def test_services_drain_while_running_and_flush_on_close(pg_url, pg_factory, redis_url, tmp_path):
    world = make_world(pg_factory)
    settings = _settings(
        StorageSettings(data_dir=tmp_path, database_url=pg_url, redis_url=redis_url)
    )
    services = build_services(settings, llm=InstantModel())
    try:
        assert services.ledger_drain is not None and services.meter.ledger is not None
        metered = services.meter.bind(InstantModel(), attribution(world))
        metered.create(request())
        _wait_for(lambda: ledger_spend(world)[0] == 1)  # the drain thread wrote it
        for i in range(20):
            metered.create(request(f"question {i}"))
    finally:
        services.close()  # stops the drain after a final flush
    assert ledger_spend(world) == (21, metered.total_cost_micro_usd)
    rolled, raw = _rollups_and_ledger(world)
    assert rolled == raw
    assert services.meter.ledger.backlog().length == 0


def _settings(storage: StorageSettings) -> Settings:
    return Settings(
        slack=SlackSettings(),
        agents=offline_agents(),
        storage=storage,
        runtime=RuntimeSettings(log_level="WARNING"),
        jobs=JobSettings(engine="inprocess"),
    )


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
