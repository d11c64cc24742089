"""Probe tasks for the worker crash test (`countersign worker --tasks tests.bot.job_probe`).

Every run is a row in `probe_run`, with no unique key, so a period run twice or a task run twice
to completion shows up as two rows. `probe_slow` records its start, then holds its worker until
the test writes a `probe_release` row, so the test can kill the worker in the middle of it."""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import Engine, text

from bot.services import Services

TICK = "probe_tick"
SLOW = "probe_slow"
PERIOD_SECONDS = 2
TABLES = (
    "CREATE TABLE probe_run (id serial PRIMARY KEY, kind text NOT NULL, key text NOT NULL,"
    " pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
    "CREATE TABLE probe_release (key text PRIMARY KEY)",
)


def register_jobs(services: Services) -> None:
    engine = services.engine
    services.runner.register(TICK, lambda p: record(engine, "tick", str(p["timestamp"])))
    services.runner.register(SLOW, lambda p: slow(engine, p))
    services.runner.every(PERIOD_SECONDS, TICK)


def record(engine: Engine, kind: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO probe_run (kind, key, pid) VALUES (:kind, :key, :pid)"),
            {"kind": kind, "key": key, "pid": os.getpid()},
        )


def slow(engine: Engine, payload: dict[str, Any]) -> None:
    key = payload["key"]
    record(engine, "slow_started", key)
    deadline = time.monotonic() + 60
    while not _released(engine, key):
        if time.monotonic() > deadline:
            raise TimeoutError(f"probe {key} was never released")
        time.sleep(0.05)
    record(engine, "slow_done", key)


def _released(engine: Engine, key: str) -> bool:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM probe_release WHERE key = :k"), {"k": key})
        return found.first() is not None
