"""The ledger drain in a child process (COUNTERSIGN_LEDGER_DRAIN=process), on real PostgreSQL
and Redis: the child writes what calls append, stop() has it finish the backlog, a child
that dies is replaced, and a parent that dies takes its child with it while another drain
claims what the child left pending."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from bot.ledger_drain import LedgerDrain
from storage.db import make_engine, session_factory
from storage.limits import Backlog, LedgerStream, RedisCounters
from storage.models import CallStatus, LLMCall
from storage.repositories.usage_record import ledger_entry
from tests.agents.metering_fixtures import (
    NOW,
    InstantModel,
    attribution,
    guard,
    ledger_spend,
    make_world,
    meter,
    request,
)

ROOT = Path(__file__).resolve().parents[2]
DEAD_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"  # refused at once


@pytest.fixture
def stream(redis_url):
    key = f"cs-test:{uuid.uuid4().hex[:8]}:ledger"
    stream = LedgerStream.from_url(redis_url, key=key)
    yield stream
    stream.client.delete(key, f"{key}:dead")
    stream.client.close()


def _streamed_meter(world, stream):
    counters = RedisCounters(stream.client, prefix=stream.key + ":budget:", ledger=stream)
    m = meter(world, guard(world, counters))
    m.ledger = stream
    return m


def _rows(world, n: int) -> list[dict[str, str]]:
    """n ledger entries as a call would append them."""
    return [
        ledger_entry(
            LLMCall(
                created_at=NOW,
                org_id=world.org_id,
                user_id=world.rep_id,
                agent="customer",
                request_type="chat",
                model="claude-sonnet-5-5",
                input_tokens=100,
                output_tokens=10,
                cost_micro_usd=300,
                saved_micro_usd=0,
                status=CallStatus.OK,
                call_key=uuid.uuid4().hex,
            ),
            NOW.date(),
        )
        for _ in range(n)
    ]


def test_a_drain_process_writes_the_calls_rows_and_reports_its_stats(pg_factory, stream):
    world = make_world(pg_factory)
    m = _streamed_meter(world, stream)
    drain = LedgerDrain(stream=stream, factory=pg_factory, mode="process", interval=0.05)
    drain.start()
    try:
        assert drain.wait_ready()
        assert drain.child_pid is not None and drain.child_pid != os.getpid()
        metered = m.bind(InstantModel(), attribution(world))
        metered.create(request())
        _wait_for(lambda: ledger_spend(world)[0] == 1)  # the child wrote it
        for i in range(30):
            metered.create(request(f"question {i}"))
    finally:
        drain.stop()
    assert ledger_spend(world) == (31, metered.total_cost_micro_usd)
    assert drain.stats.inserted == 31  # the child's stats, sent back at stop
    assert stream.backlog().length == 0


def test_stop_has_the_child_write_the_whole_backlog_before_it_returns(pg_factory, stream):
    world = make_world(pg_factory)
    drain = LedgerDrain(stream=stream, factory=pg_factory, mode="process", batch=50)
    stream.append_many(_rows(world, 400))
    drain.start()
    assert stream.backlog().length > 0  # the child is still starting: nothing written yet
    child = drain.child_pid
    drain.stop()
    assert ledger_spend(world) == (400, 400 * 300)
    assert stream.backlog() == Backlog(0, 0, None)
    assert child is not None and _exited(child)


def test_a_drain_process_that_dies_is_replaced(pg_factory, stream):
    world = make_world(pg_factory)
    drain = LedgerDrain(stream=stream, factory=pg_factory, mode="process", interval=0.05)
    drain.start()
    try:
        first = drain.child_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: drain.child_pid not in (None, first), seconds=30)
        stream.append_many(_rows(world, 25))
        _wait_for(lambda: ledger_spend(world)[0] == 25, seconds=30)  # the new child wrote them
    finally:
        drain.stop()
    assert stream.backlog().length == 0


def test_a_child_sent_sigterm_writes_the_backlog_and_exits(pg_factory, stream):
    world = make_world(pg_factory)
    drain = LedgerDrain(stream=stream, factory=pg_factory, mode="process", interval=0.4)
    drain.start()
    try:
        assert drain.wait_ready()
        child = drain.child_pid
        assert child is not None
        stream.append_many(_rows(world, 300))
        os.kill(child, signal.SIGTERM)  # a service manager stopping the whole group
        _wait_for(lambda: _exited(child), seconds=30)
        assert ledger_spend(world) == (300, 300 * 300)
    finally:
        drain.stop()
    assert stream.backlog().length == 0


def test_a_parent_that_dies_ends_its_child_and_another_drain_claims_what_it_held(
    pg_factory, stream, redis_url
):
    """The child cannot reach the database, so the batch it took stays pending under its
    name; its parent is killed; the child notices and exits; a drain elsewhere takes the
    batch over (XAUTOCLAIM) and writes it."""
    world = make_world(pg_factory)
    stream.append_many(_rows(world, 40))
    parent = _parent_with_a_drain(redis_url, stream.key, DEAD_DATABASE)
    try:
        child = int(parent.stdout.readline())
        _wait_for(lambda: stream.backlog().pending == 40, seconds=30)  # taken, not written
        parent.kill()
        parent.wait()
        _wait_for(lambda: _exited(child), seconds=30)
    finally:
        parent.kill()
        parent.wait()

    survivor = LedgerDrain(stream=stream, factory=pg_factory, mode="thread", claim_idle=0)
    while survivor.drain_once():
        pass
    assert ledger_spend(world) == (40, 40 * 300)
    assert stream.backlog() == Backlog(0, 0, None)


def test_the_childs_log_records_reach_the_parents_loggers(pg_factory, stream, caplog):
    world = make_world(pg_factory)
    caplog.set_level(logging.WARNING)
    dead = session_factory(make_engine(DEAD_DATABASE))
    drain = LedgerDrain(stream=stream, factory=dead, mode="process", interval=0.05)
    drain.start()
    try:
        stream.append_many(_rows(world, 1))  # the child takes it and cannot write it
        _wait_for(lambda: any(_from_the_child(r, drain) for r in caplog.records), seconds=30)
    finally:
        drain.stop()


def _from_the_child(record: logging.LogRecord, drain: LedgerDrain) -> bool:
    return (
        record.name == "bot.ledger_drain"
        and record.process == drain.child_pid
        and "ledger drain:" in record.getMessage()
    )


def test_an_off_drain_leaves_the_stream_to_other_processes(pg_factory, stream):
    world = make_world(pg_factory)
    drain = LedgerDrain(stream=stream, factory=pg_factory, mode="off")
    drain.start()
    stream.append_many(_rows(world, 5))
    drain.stop()
    assert ledger_spend(world) == (0, 0) and stream.backlog().length == 5


def _parent_with_a_drain(redis_url: str, key: str, database_url: str) -> subprocess.Popen[str]:
    """Another process with a process-mode drain; prints its child's pid, then waits."""
    script = textwrap.dedent(
        f"""
        import time
        from bot.ledger_drain import LedgerDrain
        from storage.db import make_engine, session_factory
        from storage.limits import LedgerStream

        stream = LedgerStream.from_url({redis_url!r}, key={key!r})
        factory = session_factory(make_engine({database_url!r}))
        drain = LedgerDrain(stream=stream, factory=factory, mode="process", interval=0.05)
        drain.start()
        print(drain.child_pid, flush=True)
        time.sleep(600)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def _exited(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_for(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
