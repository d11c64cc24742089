"""Shared bench parts: machine facts, an open-loop HTTP load generator, stats, RESULTS.md."""

from __future__ import annotations

import http.client
import os
import platform
import re
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("RESULTS.md")

# A request ready to send: (path, body, headers). Built by the caller's factory, which is
# handed the request's sequence number and signs the body just before it goes out.
Request = tuple[str, bytes, dict[str, str]]
RequestFactory = Callable[[int], Request]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass(frozen=True)
class LoadSpec:
    """One open-loop run: `rate` requests/s for `warmup + seconds`, the warm-up discarded."""

    host: str
    port: int
    rate: float
    seconds: float
    warmup: float
    threads: int = 32
    timeout: float = 10.0


@dataclass(frozen=True)
class Sample:
    """One request: when it was due, sent and fully read (perf_counter seconds), and status.

    perf_counter is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so
    another process can line these times up with its own (bench/load.py does)."""

    due: float
    sent: float
    done: float
    status: int  # 0: no HTTP answer (connection error or timeout)
    seq: int = -1  # the request's sequence number, as given to the factory


def run_load(spec: LoadSpec, factory: RequestFactory) -> list[dict[str, float]]:
    """Send on a fixed schedule whatever the answers (no coordinated omission); measured samples.

    Each pool thread keeps one keep-alive connection. Returns plain dicts so the result
    pickles cheaply back from a generator subprocess.
    """
    local = threading.local()
    total = round(spec.rate * (spec.warmup + spec.seconds))
    start = time.perf_counter() + 0.1

    def one(seq: int, due: float) -> Sample:
        path, body, headers = factory(seq)
        return replace(_send(local, spec, path, body, headers, due), seq=seq)

    with ThreadPoolExecutor(max_workers=spec.threads, thread_name_prefix="load") as pool:
        futures = []
        for seq in range(total):
            due = start + seq / spec.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            futures.append(pool.submit(one, seq, due))
        samples = [f.result() for f in futures]
    cutoff = start + spec.warmup
    return [vars(s) for s in samples if s.due >= cutoff]


def _send(
    local: threading.local,
    spec: LoadSpec,
    path: str,
    body: bytes,
    headers: dict[str, str],
    due: float,
) -> Sample:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection(spec.host, spec.port, timeout=spec.timeout)
    sent = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        local.conn = None
        status = 0
    return Sample(due=due, sent=sent, done=time.perf_counter(), status=status)


def summarize(samples: list[dict[str, float]], rate: float) -> dict[str, Any]:
    """n, errors, p50/p99/max latency (send → response read), achieved rate, send lag."""
    if not samples:
        return {"n": 0, "errors": 0, "target_rps": rate}
    latencies = sorted((s["done"] - s["sent"]) * 1000 for s in samples)
    lags = sorted((s["sent"] - s["due"]) * 1000 for s in samples)
    span = max(s["done"] for s in samples) - min(s["sent"] for s in samples)
    statuses: dict[str, int] = {}
    for s in samples:
        if s["status"] != 200:
            statuses[str(int(s["status"]))] = statuses.get(str(int(s["status"])), 0) + 1
    return {
        "n": len(samples),
        "errors": sum(statuses.values()),
        "non_200": statuses,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2),
        "target_rps": rate,
        "achieved_rps": round(len(samples) / span, 1) if span > 0 else None,
        "send_lag_p99_ms": round(percentile(lags, 99), 2),
    }


def percentile(ordered: list[float], pct: float) -> float:
    """Linear-interpolated percentile of an already sorted list."""
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


def write_section(heading: str, text: str, path: Path = RESULTS) -> None:
    """Replace `## heading` in RESULTS.md (or append it), keeping every other section."""
    section = f"## {heading}\n\n{text.strip()}\n"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: section + "\n", current, count=1).rstrip() + "\n"
    else:
        updated = current.rstrip() + "\n\n" + section
    path.write_text(updated, encoding="utf-8")


ADMIN_URL = os.environ.get(
    "COUNTERSIGN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def scratch_database(prefix: str = "countersign_bench", *, keep: bool = False) -> Iterator[str]:
    """A new, empty database on the test server (its URL), dropped afterwards unless `keep`."""
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
