"""Metering overhead per model call: price lookup, estimate, budget reserve, ledger row,
settle — everything `MeteredLLM.create` adds around the model.

The model is an in-process stand-in that returns a prebuilt `anthropic.types.Message`
instantly, so the time measured is exactly ours. Modes: PostgreSQL + Redis with the ledger
written behind the call (`stream`, the default there: the row rides on the settle's Lua call
into a Redis stream, a drain writes it in batches: in a child process by default, `--drain`)
and written on the call's time (`direct`: ledger row + roll-up upserts + commit), PostgreSQL
alone with Redis unreachable (the budget fallback), the embedded SQLite file with in-process
counters, and the response cache (misses and hits). Then the drain in each place it can run
(thread, child process, none; with and without a frozen heap), the pieces one at a time, the
drain's throughput and lag, and two database knobs that show where the direct write's time
goes. Usage: `.venv/bin/python bench/metering.py [--n 2000] [--fallback-n 300] [--block 250]`.
Needs PostgreSQL and Redis (COUNTERSIGN_TEST_DATABASE_URL / COUNTERSIGN_TEST_REDIS_URL)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from _common import machine, percentile, scratch_database, write_section
from anthropic.types import Message, TextBlock
from anthropic.types import Usage as ApiUsage
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from agents.llm.port import LLMRequest
from agents.metering import Attribution, Meter, PriceCatalog, usage_of
from agents.metering.budgets import BudgetGuard
from agents.metering.estimate import estimate_micro_usd
from agents.metering.meter import MeteredLLM
from agents.metering.response_cache import ResponseCache
from agents.metering.rules import CallScope
from agents.metering.settings import CostSettings
from bot.ledger_drain import LedgerDrain
from storage.cache import RedisStore
from storage.db import make_engine, session_factory
from storage.limits import Counters, LedgerStream, MemoryCounters, RedisCounters
from storage.migrate import upgrade
from storage.models import (
    BudgetMetric,
    BudgetPeriod,
    BudgetScope,
    CallStatus,
    Customer,
    LLMCall,
    Org,
    Role,
    User,
)
from storage.repositories.usage_record import ledger_entry
from storage.types import utcnow
from storage.uow import UnitOfWork

REDIS_URL = os.environ.get("COUNTERSIGN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens: connection refused at once
MODEL = "claude-sonnet-5-5"
WARMUP = 200


# --- the world ---------------------------------------------------------------------------


@contextmanager
def fresh_postgres() -> Iterator[str]:
    with scratch_database() as url:
        upgrade(url)
        yield url


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'countersign.db'}"
        upgrade(url)
        yield url


@dataclass(frozen=True)
class World:
    """One org on the business plan, a rep and a customer; budgets high enough to never
    refuse, so every call runs all five checks (org and rep per day, org per month, calls
    per day and month) to the end."""

    factory: sessionmaker[Session]
    org_id: int
    user_id: int
    customer_id: int
    ledger_factory: sessionmaker[Session] | None = None  # as bot/services.py: no pre-ping


def seed(factory: sessionmaker[Session]) -> World:
    with UnitOfWork(factory) as uow:
        org = Org(slack_team_id="T_BENCH", name="Bench Co", timezone="Europe/Oslo", plan="business")
        uow.session.add(org)
        uow.flush()
        user = User(org_id=org.id, email="maya@bench.example", name="Maya Chen", role=Role.REP)
        customer = Customer(org_id=org.id, external_id="C-1", name="Halvorsen Marine")
        uow.session.add_all([user, customer])
        uow.flush()
        for period, metric in ((BudgetPeriod.DAY, BudgetMetric.REQUESTS),
                               (BudgetPeriod.MONTH, BudgetMetric.REQUESTS),
                               (BudgetPeriod.MONTH, BudgetMetric.COST)):  # fmt: skip
            uow.budgets.put(
                org.id,
                scope=BudgetScope.ORG,
                target="",
                period=period,
                metric=metric,
                limit_value=10**12,
                soft_pct=80,
                updated_by_id=None,
            )
        world = World(factory, org.id, user.id, customer.id)
        uow.commit()
    return world


def cost_settings() -> CostSettings:
    return CostSettings(org_daily_budget_usd=10**6, user_daily_budget_usd=10**6)


class InstantModel:
    """The model, answered instantly with one prebuilt message (3k cached prefix read, 2.5k
    fresh input, 350 output tokens)."""

    offline = False

    def __init__(self) -> None:
        self.message = Message(
            id="msg_bench_0001",
            type="message",
            role="assistant",
            model=MODEL,
            content=[TextBlock(type="text", text="Halvorsen renewed last spring; " * 20)],
            stop_reason="end_turn",
            stop_sequence=None,
            usage=ApiUsage(
                input_tokens=2500,
                output_tokens=350,
                cache_read_input_tokens=3000,
                cache_creation_input_tokens=0,
            ),
        )

    def create(self, request: LLMRequest) -> Message:  # noqa: ARG002 (the port's signature)
        return self.message


def a_request(question: str = "How is Halvorsen doing?") -> LLMRequest:
    """A specialist turn of realistic size: ~4 KB system prompt, 3 tools, a short history."""
    tool = {
        "name": "get_customer",
        "description": "Look up one customer's profile, deals, orders and open tasks. " * 4,
        "input_schema": {
            "type": "object",
            "properties": {
                "customer": {"type": "string", "description": "name or external id"},
                "include": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["customer"],
        },
    }
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Earlier turn {i}. " * 30}
        for i in range(6)
    ]
    return LLMRequest(
        agent="customer",
        model=MODEL,
        system="You help sales reps understand their customers. " * 85,
        messages=[*history, {"role": "user", "content": question}],
        max_tokens=1024,
        tools=[{**tool, "name": f"{tool['name']}_{i}"} for i in range(3)],
    )


# --- timing ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], n: int, warmup: int = WARMUP) -> list[float]:
    for _ in range(warmup):
        fn()
    gc.collect()
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p95_ms": round(percentile(ordered, 95), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
    }


def interleaved(fns: dict[str, Callable[[], Any]], n: int, warmup: int = WARMUP) -> dict[str, Any]:
    """Time several ways of doing one thing in turn (a round of each, rotating who goes
    first), so a noisy neighbour hurts them alike and the comparison stays fair."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    gc.collect()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            began = time.perf_counter()
            fns[name]()
            samples[name].append((time.perf_counter() - began) * 1000)
    return {name: stats(values) for name, values in samples.items()}


def make_meter(
    world: World,
    counters: Counters,
    cache: ResponseCache | None = None,
    ledger: LedgerStream | None = None,
) -> Meter:
    guard = BudgetGuard(factory=world.factory, counters=counters, settings=cost_settings())
    return Meter(
        factory=world.factory,
        ledger_factory=world.ledger_factory,
        catalog=PriceCatalog.load(),
        budgets=guard,
        cache=cache,
        ledger=ledger,
    )


def full_call(meter: Meter, world: World, n: int, *, vary: bool = False) -> dict[str, Any]:
    """`MeteredLLM.create` end to end, one call after another (`vary`: a new question each
    call, so a response cache always misses)."""
    metered = meter.bind(InstantModel(), attribution(world))
    fixed = a_request()
    count = iter(range(10**9))

    def call() -> None:
        metered.create(a_request(f"Question {next(count)}") if vary else fixed)

    return stats(timed(call, n))


def attribution(world: World) -> Attribution:
    return Attribution(org_id=world.org_id, user_id=world.user_id, customer_id=world.customer_id)


# --- the pieces, one at a time -------------------------------------------------------------


def pieces(meter: Meter, world: World, n: int) -> dict[str, Any]:
    """Price + estimate, reserve, settle, ledger write (and its statements vs its commit)."""
    guard = meter.budgets
    assert guard is not None
    request, model = a_request(), InstantModel()
    scope = CallScope(world.org_id, world.user_id, world.customer_id, "chat")
    price = meter.catalog.price(MODEL, utcnow())
    usage = usage_of(model.message)
    cost = price.cost_micro_usd(usage)
    estimate = estimate_micro_usd(request, price)

    def price_and_estimate() -> None:
        p = meter.catalog.price(MODEL, utcnow())
        estimate_micro_usd(request, p)
        p.cost_micro_usd(usage)
        p.prompt_cache_saving(usage)

    reserve_ms, settle_ms = [], []

    def reserve_then_settle() -> None:
        began = time.perf_counter()
        hold = guard.reserve(scope, estimate)
        mid = time.perf_counter()
        hold.settle(cost)
        reserve_ms.append((mid - began) * 1000)
        settle_ms.append((time.perf_counter() - mid) * 1000)

    timed(reserve_then_settle, n)
    write = ledger_write(meter, world, usage, cost, n)
    return {
        "price_and_estimate": stats(timed(price_and_estimate, n)),
        "reserve": stats(reserve_ms[WARMUP:]),
        "settle": stats(settle_ms[WARMUP:]),
        **write,
    }


def ledger_write(meter: Meter, world: World, usage: Any, cost: int, n: int) -> dict[str, Any]:
    """What `MeteredLLM._record` does: a UnitOfWork, `usage.record` (ledger row + roll-up
    upsert), commit — split into the statements (checkout, BEGIN, INSERT, upsert) and COMMIT."""
    whole, statements, commit = [], [], []

    def write() -> None:
        row = ledger_row(world, usage, cost)
        began = time.perf_counter()
        with UnitOfWork(meter.ledger_factory) as uow:
            uow.usage.record(row, day=meter.local_day(world.org_id, row.created_at, uow))
            mid = time.perf_counter()
            uow.commit()
            end = time.perf_counter()
        done = time.perf_counter()
        whole.append((done - began) * 1000)
        statements.append((mid - began) * 1000)
        commit.append((end - mid) * 1000)

    timed(write, n)
    return {
        "ledger_write": stats(whole[WARMUP:]),
        "ledger_statements": stats(statements[WARMUP:]),
        "ledger_commit": stats(commit[WARMUP:]),
    }


def ledger_row(world: World, usage: Any, cost: int) -> LLMCall:
    return LLMCall(
        created_at=utcnow(),
        org_id=world.org_id,
        user_id=world.user_id,
        customer_id=world.customer_id,
        agent="customer",
        request_type="chat",
        model=MODEL,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cost_micro_usd=cost,
        saved_micro_usd=0,
        latency_ms=0,
        status=CallStatus.OK,
        request_id="msg_bench_0001",
    )


def ledger_alternatives(
    meter: Meter, world: World, usage: Any, cost: int, n: int
) -> dict[str, Any]:
    """The ledger write done other ways, to show what a change would buy (emulated here; the
    product is unchanged): the product's statement on the pooled engine with pre-ping, and
    with `synchronous_commit` off for that transaction only."""

    def record(row: LLMCall, uow: UnitOfWork) -> None:
        uow.usage.record(row, day=meter.local_day(world.org_id, row.created_at, uow))

    def product(factory: sessionmaker[Session] = meter.ledger_factory, sync: bool = True) -> None:
        row = ledger_row(world, usage, cost)
        with UnitOfWork(factory) as uow:
            if not sync:
                uow.session.execute(text("SET LOCAL synchronous_commit = off"))
            record(row, uow)
            uow.commit()

    return interleaved(
        {
            "product": product,
            "product_synchronous_commit_off": lambda: product(sync=False),
            "product_with_pre_ping": lambda: product(meter.factory),
        },
        n,
    )


def round_trips(engine: Engine, client: redis.Redis, n: int) -> dict[str, Any]:
    """The floor: one `SELECT 1` on a pooled connection, one Redis PING."""
    with engine.connect() as conn:
        select_one = stats(timed(lambda: conn.execute(text("SELECT 1")), n))
    return {"postgres_select_1": select_one, "redis_ping": stats(timed(client.ping, n))}


# --- the write-behind ledger ------------------------------------------------------------


def stream_mode(world: World, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    """The full call with the ledger row in the settle's Lua call and the drain writing behind
    it where `--drain` says (the product's default: COUNTERSIGN_LEDGER_DRAIN), as
    bot/services.py runs it; then the settle + append alone, then the drain's throughput on a
    backlog of `--drain-n` rows."""
    stream = LedgerStream.from_url(REDIS_URL, key=prefix + "ledger")
    counters = RedisCounters(stream.client, prefix=prefix + "stream-budget:", ledger=stream)
    meter = make_meter(world, counters, ledger=stream)
    drain = LedgerDrain(stream=stream, factory=world.factory, mode=args.drain)
    progress(f"postgres+redis, stream ledger: full call with the drain running ({args.drain})")
    drain.start()
    drain.wait_ready()  # as in `serve`: the drain runs long before the calls come
    try:
        full = full_call(meter, world, args.n)
        settle = settle_and_append(meter, world, args.n)
    finally:
        drain.stop()
    lags = sorted(float(x) for x in drain.stats.lags_ms)
    out = {
        "stream_drain": args.drain,
        "stream_full": full,
        "stream_settle_append": settle,
        "stream_lag": {**stats(lags), "batches": drain.stats.batches},
        "stream_rows_per_batch": round(drain.stats.inserted / max(1, drain.stats.batches), 1),
    }
    progress("where the drain runs: placements interleaved block by block")
    out["placements"] = drain_placements(world, prefix, args)
    out["placement_block"] = args.block
    progress(f"drain throughput: {args.drain_n} rows waiting")
    out["drain"] = drain_throughput(world, stream, args.drain_n)
    stream.client.close()
    return out


def settle_and_append(meter: Meter, world: World, n: int) -> dict[str, Any]:
    """`hold.settle` carrying the ledger row: the one Lua call that replaces the direct write."""
    guard = meter.budgets
    assert guard is not None
    scope = CallScope(world.org_id, world.user_id, world.customer_id, "chat")
    usage = usage_of(InstantModel().message)
    samples = []

    def once() -> None:
        hold = guard.reserve(scope, 20_000)
        row = ledger_row(world, usage, 7_000)
        entry = ledger_entry(row, meter.local_day(world.org_id, row.created_at))
        began = time.perf_counter()
        assert hold.settle(7_000, ledger=entry)
        samples.append((time.perf_counter() - began) * 1000)

    timed(once, n)
    return stats(samples[WARMUP:])


def drain_throughput(world: World, stream: LedgerStream, n: int) -> dict[str, Any]:
    """Rows per second one drain writes from a backlog (batches of 500, one transaction each)."""
    usage = usage_of(InstantModel().message)
    day = utcnow().date()
    stream.append_many([ledger_entry(ledger_row(world, usage, 7_000), day) for _ in range(n)])
    drain = LedgerDrain(stream=stream, factory=world.factory, mode="thread")  # flushed here
    began = time.perf_counter()
    drain.flush(seconds=600)
    seconds = time.perf_counter() - began
    drain.stream.forget(drain.consumer)
    return {
        "rows": drain.stats.inserted,
        "seconds": round(seconds, 3),
        "rows_per_second": round(drain.stats.inserted / seconds),
        "batches": drain.stats.batches,
    }


# --- where the drain runs ----------------------------------------------------------------

# name → (COUNTERSIGN_LEDGER_DRAIN, gc.freeze() around the timed calls)
PLACEMENTS = {
    "thread": ("thread", False),
    "thread, heap frozen": ("thread", True),
    "process": ("process", False),
    "process, heap frozen": ("process", True),
    "off (no drain in this process)": ("off", False),
}
PAUSE_BETWEEN_BLOCKS = 0.5  # > the drain interval: a block's rows are written before the next


@dataclass
class Placement:
    """One way of running the drain, with its own stream, meter and samples."""

    metered: MeteredLLM
    drain: LedgerDrain
    freeze: bool
    samples: dict[str, list[float]]
    request: LLMRequest = field(default_factory=a_request)


def drain_placements(world: World, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    """The stream-mode call with this process's drain in each place, each on a stream of its
    own: blocks of `--block` calls, one placement after another (rotating who goes first)
    with a pause between blocks so a drain finishes the previous block's rows; a noisy
    neighbour hurts them alike. Per call: the whole call, its reserve and its settle + append
    (`Meter.book`), and a Redis PING after it: the machine's own floor at that moment."""
    places = {name: _placement(world, f"{prefix}{i}:", *how) for i, (name, how) in
              enumerate(PLACEMENTS.items())}  # fmt: skip
    try:
        for place in places.values():
            place.drain.wait_ready()
            for _ in range(WARMUP):
                place.metered.create(place.request)
            for series in place.samples.values():
                series.clear()
        ping = redis.Redis.from_url(REDIS_URL)
        names = list(places)
        gc.collect()
        for block in range(-(-args.n // args.block)):
            for name in names[block % len(names) :] + names[: block % len(names)]:
                time.sleep(PAUSE_BETWEEN_BLOCKS)
                _block(places[name], ping, args.block)
        ping.close()
    finally:
        for place in places.values():
            place.drain.stop()
    return {
        name: {series: stats(values) for series, values in place.samples.items()}
        for name, place in places.items()
    }


def _placement(world: World, prefix: str, mode: str, freeze: bool) -> Placement:
    stream = LedgerStream.from_url(REDIS_URL, key=prefix + "ledger")
    counters = RedisCounters(stream.client, prefix=prefix + "budget:", ledger=stream)
    meter = make_meter(world, counters, ledger=stream)
    samples: dict[str, list[float]] = {"call": [], "reserve": [], "book": [], "ping": []}
    guard = meter.budgets
    assert guard is not None
    guard.reserve = _timing(guard.reserve, samples["reserve"])  # type: ignore[method-assign]
    meter.book = _timing(meter.book, samples["book"])  # type: ignore[method-assign]
    drain = LedgerDrain(stream=stream, factory=world.factory, mode=mode)  # type: ignore[arg-type]
    drain.start()
    return Placement(meter.bind(InstantModel(), attribution(world)), drain, freeze, samples)


def _timing(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def timed_call(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - began) * 1000)

    return timed_call


def _block(place: Placement, ping: redis.Redis, n: int) -> None:
    if place.freeze:
        gc.freeze()
    try:
        for _ in range(n):
            began = time.perf_counter()
            place.metered.create(place.request)
            mid = time.perf_counter()
            ping.ping()
            place.samples["call"].append((mid - began) * 1000)
            place.samples["ping"].append((time.perf_counter() - mid) * 1000)
    finally:
        gc.unfreeze()


# --- modes -------------------------------------------------------------------------------


def postgres_modes(url: str, args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"cs-bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    engine = make_engine(url)
    ledger_engine = make_engine(url, pre_ping=False)  # as bot/services.py builds it
    world = replace(seed(session_factory(engine)), ledger_factory=session_factory(ledger_engine))
    out: dict[str, Any] = {"settings": pg_settings(engine)}
    try:
        out.update(stream_mode(world, prefix, args))
        counters = RedisCounters.from_url(REDIS_URL, prefix=prefix + "budget:")
        meter = make_meter(world, counters)
        progress("postgres+redis, direct ledger: full call")
        out["postgres_redis"] = full_call(meter, world, args.n)
        progress("postgres+redis: pieces")
        out["pieces"] = pieces(meter, world, args.n)
        usage = usage_of(InstantModel().message)
        out["ledger_alternatives"] = ledger_alternatives(meter, world, usage, 7_000, args.n)
        out["round_trips"] = round_trips(engine, client, args.n)
        progress("response cache: misses, then hits")
        store = RedisStore.from_url(REDIS_URL, prefix=prefix)
        cached = make_meter(world, counters, ResponseCache(store, ttl_seconds=600))
        out["cache_miss"] = full_call(cached, world, args.cache_n, vary=True)
        out["cache_hit"] = full_call(cached, world, args.cache_n)
        out["knobs"] = knobs(url, world, counters, args.n)
        progress("postgres fallback: Redis refused, then Redis hung")
        dead = RedisCounters.from_url(DEAD_REDIS, prefix=prefix)
        fallback_meter = make_meter(world, dead)
        out["fallback_refused"] = full_call(fallback_meter, world, args.fallback_n)
        out["fallback_pieces"] = fallback_pieces(fallback_meter, world, args.fallback_n)
        with hung_redis() as hung_url:
            hung = make_meter(world, RedisCounters.from_url(hung_url, prefix=prefix))
            out["fallback_hung"] = stats(timed(_one_call(hung, world), args.hung_n, warmup=1))
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
        engine.dispose()
        ledger_engine.dispose()
    return out


def _one_call(meter: Meter, world: World) -> Callable[[], Any]:
    metered = meter.bind(InstantModel(), attribution(world))
    request = a_request()
    return lambda: metered.create(request)


def fallback_pieces(meter: Meter, world: World, n: int) -> dict[str, Any]:
    """Reserve and settle alone when the guard counts in the database."""
    guard = meter.budgets
    assert guard is not None
    scope = CallScope(world.org_id, world.user_id, world.customer_id, "chat")
    reserve_ms, settle_ms = [], []

    def reserve_then_settle() -> None:
        began = time.perf_counter()
        hold = guard.reserve(scope, 20_000)
        mid = time.perf_counter()
        hold.settle(7_000)
        reserve_ms.append((mid - began) * 1000)
        settle_ms.append((time.perf_counter() - mid) * 1000)

    timed(reserve_then_settle, n, warmup=20)
    return {"reserve": stats(reserve_ms[20:]), "settle": stats(settle_ms[20:])}


def knobs(url: str, world: World, counters: Counters, n: int) -> dict[str, Any]:
    """The full call again with the ledger pool built other ways (the product's is
    unchanged): with pre-ping, and with synchronous_commit off."""
    engines, calls = [], {}
    for name, pre_ping, sync in (
        ("product", False, "on"),
        ("ledger_pre_ping", True, "on"),
        ("ledger_synchronous_commit_off", False, "off"),
    ):
        engine = create_engine(
            url,
            pool_pre_ping=pre_ping,
            connect_args={"options": f"-c synchronous_commit={sync}"},
        )
        engines.append(engine)
        variant = replace(world, ledger_factory=session_factory(engine))
        calls[name] = _one_call(make_meter(variant, counters), variant)
    progress("knobs, interleaved")
    out = interleaved(calls, n)
    for engine in engines:
        engine.dispose()
    return out


@contextmanager
def hung_redis() -> Iterator[str]:
    """A port that accepts connections and never answers (a wedged Redis)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


def embedded_mode(args: argparse.Namespace) -> dict[str, Any]:
    with fresh_sqlite() as url:
        engine = make_engine(url)
        world = seed(session_factory(engine))
        progress("embedded: full call")
        meter = make_meter(world, MemoryCounters())
        result = {
            "embedded": full_call(meter, world, args.n),
            "embedded_pieces": pieces(meter, world, args.n),
        }
        engine.dispose()
    return result


def pg_settings(engine: Engine) -> dict[str, str]:
    names = (
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "commit_delay",
        "shared_buffers",
    )
    with engine.connect() as conn:
        return {n: conn.execute(text(f"SHOW {n}")).scalar_one() for n in names}


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--cache-n", type=int, default=1000)
    parser.add_argument("--fallback-n", type=int, default=300)
    parser.add_argument("--hung-n", type=int, default=5)
    parser.add_argument("--drain-n", type=int, default=20_000)
    parser.add_argument(
        "--drain",
        choices=["thread", "process", "off"],
        default=cost_settings().ledger_drain,
        help="where the headline stream run's drain runs (default: the product's)",
    )
    parser.add_argument("--block", type=int, default=250, help="calls per placement block")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # The fallback logs a warning per call; keep the records, drop the output.
    logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
    before = loadavg()
    with fresh_postgres() as url:
        result: dict[str, Any] = {"machine": machine(), **postgres_modes(url, args)}
    result.update(embedded_mode(args))
    result["load_average"] = {"before": before, "after": loadavg()}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        write_section("Metering", markdown(result, argv))
    return 0


def markdown(result: dict[str, Any], argv: list[str]) -> str:
    m, pg = result["machine"], result["settings"]
    command = " ".join([".venv/bin/python bench/metering.py", *argv]).strip()
    p, fp, e = result["pieces"], result["fallback_pieces"], result["embedded_pieces"]
    k = result["knobs"]
    rows = [
        (
            f"PostgreSQL + Redis, ledger written behind (`stream`, the default), "
            f"drain: `{result['stream_drain']}`",
            result["stream_full"],
        ),
        ("PostgreSQL + Redis, ledger written on the call (`direct`)", result["postgres_redis"]),
        ("… direct, response cache on, every call a miss", result["cache_miss"]),
        ("… direct, response cache on, every call a hit", result["cache_hit"]),
        ("… direct again, interleaved with the two rows below", k["product"]),
        ("… direct, ledger pool with pre-ping", k["ledger_pre_ping"]),
        ("… direct, ledger pool with synchronous_commit = off", k["ledger_synchronous_commit_off"]),
        ("PostgreSQL fallback, Redis refusing connections", result["fallback_refused"]),
        ("PostgreSQL fallback, Redis accepting but silent", result["fallback_hung"]),
        ("embedded: SQLite + in-process counters (always direct)", result["embedded"]),
    ]
    trips = result["round_trips"]
    piece_rows = [
        ("price lookup + estimate + cost", p["price_and_estimate"], e["price_and_estimate"]),
        ("reserve (`guard.reserve`)", p["reserve"], e["reserve"]),
        ("stream: settle + row appended (one Lua call)", result["stream_settle_append"], None),
        ("direct: ledger write (`usage.record` + commit)", p["ledger_write"], e["ledger_write"]),
        (
            "… of which checkout and the statement(s)",
            p["ledger_statements"],
            e["ledger_statements"],
        ),
        ("… of which COMMIT", p["ledger_commit"], e["ledger_commit"]),
        ("direct: settle (`hold.settle`)", p["settle"], e["settle"]),
        ("PostgreSQL fallback: reserve", fp["reserve"], None),
        ("PostgreSQL fallback: settle", fp["settle"], None),
        ("round trip: `SELECT 1` on a pooled connection", trips["postgres_select_1"], None),
        ("round trip: Redis PING", trips["redis_ping"], None),
    ]
    alt = result["ledger_alternatives"]
    alt_rows = [
        ("as `direct` does it (`usage.record`, one statement)", alt["product"]),
        ("… with synchronous_commit off for it", alt["product_synchronous_commit_off"]),
        ("… on the pool with pre-ping", alt["product_with_pre_ping"]),
    ]
    stream, direct = result["stream_full"], result["postgres_redis"]
    met = stream["p50_ms"] <= 1 and stream["p99_ms"] <= 3
    lag, drain = result["stream_lag"], result["drain"]
    load = result["load_average"]
    block, place = result["placement_block"], result["placements"]
    placed = next(iter(result["placements"].values()))["call"]
    return f"""
Machine: {m["platform"]}, {m["cpu_count"]} CPUs, Python {m["python"]}; PostgreSQL
{pg["server_version"]} on 127.0.0.1 (synchronous_commit {pg["synchronous_commit"]}, fsync
{pg["fsync"]}, wal_sync_method {pg["wal_sync_method"]}, commit_delay {pg["commit_delay"]}),
Redis on 127.0.0.1. Load average {load["before"]} before, {load["after"]} after.
Date: {m["date"]}. Command: `{command}`.

`MeteredLLM.create` with `BudgetGuard` on `RedisCounters` (5 budgets checked per call: org and
rep per day, org per month, calls per day and per month), `PriceCatalog.load()`, a fresh
migrated database, `storage.db.make_engine`, and an in-process model that returns a prebuilt
Message instantly: the time is our overhead alone. `stream` (`COUNTERSIGN_LEDGER_WRITE`,
the default with Redis and PostgreSQL): price, estimate, reserve, then the settle and the
ledger row appended to a Redis stream in one Lua call, while the product's drain
(bot/ledger_drain.py; here `{result["stream_drain"]}`, as `COUNTERSIGN_LEDGER_DRAIN` says in
`serve` and `worker`) writes the stream to PostgreSQL behind the calls. `direct`: price,
estimate, reserve, ledger row + three roll-up
upserts (one statement) + commit on the ledger pool without pre-ping, settle.
Sequential calls after {WARMUP} warm-up calls; response cache off unless stated. The knob
rows use ledger pools built in the bench (the product is unchanged) and run interleaved call
by call with a control on the product's, so a noisy neighbour (this VM is shared) hurts
them alike.

| path | n | p50 ms | p95 ms | p99 ms | max ms |
|---|--:|--:|--:|--:|--:|
{_rows(rows)}

Where this process's drain runs (`COUNTERSIGN_LEDGER_DRAIN`): the `stream` call again, each
placement with a stream, counters and drain of its own, in blocks of {block} calls taken in
turn with a pause between blocks ({placed["n"]} calls each), so load from elsewhere on this
shared VM falls on all alike. *Heap frozen*: `gc.freeze()` around each block. *Off*: no
drain here at all (another process's would write the rows): the floor the others are held
to. The PING is a Redis PING sent right after each call: the machine's own p99 at that moment.

| drain | call p50 ms | call p95 ms | call p99 ms | reserve p99 | settle + append p99 | PING p99 |
|---|--:|--:|--:|--:|--:|--:|
{_placement_rows(result["placements"])}

The pieces, timed alone (p50 / p99 ms; PostgreSQL + Redis, then embedded SQLite):

| piece | PostgreSQL + Redis | embedded |
|---|--:|--:|
{_piece_rows(piece_rows)}

The drain (`stream`): how stale the ledger and the roll-ups are, per batch from the first
row's append to the batch's COMMIT, while the {stream["n"]} calls above ran
({lag["batches"]} batches, {result["stream_rows_per_batch"]} rows each on average); and how
fast one drain writes a backlog of {drain["rows"]} rows (batches of 500, one transaction each):

| drain | n | p50 ms | p95 ms | p99 ms | max ms |
|---|--:|--:|--:|--:|--:|
{_rows([("lag per batch (first append → COMMIT)", lag)])}

Throughput: {drain["rows_per_second"]} rows/s ({drain["rows"]} rows in {drain["seconds"]} s,
{drain["batches"]} batches).

The direct ledger write alone, on other pools (the three interleaved call by call):

| ledger write | n | p50 ms | p95 ms | p99 ms | max ms |
|---|--:|--:|--:|--:|--:|
{_rows(alt_rows)}

**Reading.** Target p50 ≤ 1 ms and p99 ≤ 3 ms on PostgreSQL + Redis: {"met" if met else "NOT met"}
with the ledger written behind and the drain `{result["stream_drain"]}` (p50
{stream["p50_ms"]} ms, p99 {stream["p99_ms"]} ms). Where the drain runs is what moves the
p99: {place["thread"]["call"]["p99_ms"]} ms with a drain thread,
{place["process"]["call"]["p99_ms"]} ms with a child process,
{place["off (no drain in this process)"]["call"]["p99_ms"]} ms with none. A drain thread
shares the GIL with the calls: while it parses and writes a batch (CPU-bound for tens of
ms), a call back from Redis waits for the GIL (up to the 5 ms switch interval per
hand-over), which shows in the PING after the call too; a child has an interpreter of its
own and, niced, yields the CPU. Freezing the heap (`gc.freeze()`) moves the p99 either way
within noise, here and in the profiling runs: collections are not the tail. Against that,
the ledger written on the call: p50 {direct["p50_ms"]} ms, p99 {direct["p99_ms"]} ms; its
ledger write alone is {p["ledger_write"]["p50_ms"]} ms p50
(its COMMIT {p["ledger_commit"]["p50_ms"]} ms).
The settle that carries the row costs {result["stream_settle_append"]["p50_ms"]} ms p50
(direct's plain settle: {p["settle"]["p50_ms"]} ms). What it trades: a row reaches the ledger
and the roll-ups (reports, digests) {lag["p50_ms"]} ms after the call at
p50 and {lag["max_ms"]} ms at worst here, not before the call returns, and between the
append and the drain's COMMIT it lives only in Redis (as durable as Redis's persistence
settings). A budget counter seeded from the roll-ups adds the rows still in the stream. A row
Redis does not take is written directly; a row that reaches the database twice is kept once
(`llm_call.call_key`).
"""


def _rows(rows: list[tuple[str, dict[str, Any]]]) -> str:
    return "\n".join(
        f"| {name} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} |"
        for name, s in rows
    )


def _placement_rows(placements: dict[str, dict[str, dict[str, Any]]]) -> str:
    return "\n".join(
        f"| {name} | {p['call']['p50_ms']} | {p['call']['p95_ms']} | {p['call']['p99_ms']} "
        f"| {p['reserve']['p99_ms']} | {p['book']['p99_ms']} | {p['ping']['p99_ms']} |"
        for name, p in placements.items()
    )


def _piece_rows(rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> str:
    def cell(s: dict[str, Any] | None) -> str:
        return f"{s['p50_ms']} / {s['p99_ms']}" if s else "—"

    return "\n".join(f"| {name} | {cell(a)} | {cell(b)} |" for name, a, b in rows)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
