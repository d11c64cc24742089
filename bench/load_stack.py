"""bench/load.py's processes: web and worker processes started from the Procfile's own command
lines, the Anthropic fake beside them, and what they use while the load runs (RSS, CPU,
database connections, the job queue, model calls in flight)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honcho.environ import parse_procfile
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PROCFILE = ROOT / "Procfile"
BIN = Path(sys.executable).parent  # the venv's bin: where `countersign` is installed
# Settings the app reads from the environment: none may leak in from the shell running the bench.
_APP_PREFIXES = ("COUNTERSIGN_", "SLACK_", "ANTHROPIC_", "DATABASE_URL", "REDIS_URL")


def procfile_command(kind: str, port: int) -> tuple[dict[str, str], list[str]]:
    """The Procfile's line for `kind` ("web", "worker") with $PORT filled in, as the
    `NAME=value` assignments in front of it and the argv."""
    command = parse_procfile(PROCFILE.read_text(encoding="utf-8")).processes[kind]
    words = shlex.split(command.replace("$PORT", str(port)))
    env = {}
    while words and "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, [str(BIN / words[0]), *words[1:]]


def app_env(settings: dict[str, str]) -> dict[str, str]:
    """The shell's environment without any app setting, plus `settings`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_APP_PREFIXES)}
    return {**base, **settings}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Proc:
    """One process this bench started (and alone may stop, by its pid)."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Processes:
    """Starts processes with their output in `logs`, stops them all on exit."""

    logs: Path
    env: dict[str, str]
    running: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> Proc:
        log = (self.logs / f"{name}.log").open("wb")
        full_env = {**self.env, **(env or {})}
        popen = subprocess.Popen(argv, cwd=self.logs, env=full_env, stdout=log, stderr=log)
        proc = Proc(name, popen, port)
        self.running.append(proc)
        return proc

    def alive(self) -> list[str]:
        return [p.name for p in self.running if p.popen.poll() is None]

    def stop(self, names: list[str] | None = None, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM (workers finish their running jobs), then SIGKILL after `timeout`; exit codes."""
        chosen = [p for p in self.running if names is None or p.name in names]
        for proc in chosen:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in chosen:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        return {p.name: p.popen.returncode for p in chosen}


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:g} s")
        time.sleep(0.25)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (None once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the app's processes spawn a ledger drain child each)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(current := todo.pop())
        todo.extend(parents.get(current, []))
    return found


def rss_mb(pids: list[int]) -> float | None:
    """Resident set size of the processes, summed (None when none is left)."""
    total, seen = 0, False
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        seen = True
        total += next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS")), 0)
    return round(total / 1024, 1) if seen else None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far, summed."""
    ticks = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Once a second: RSS of each process, and every `every` ticks the job queue, the database's
    connections and the model calls in flight. `tick` runs on each pass (the answer matcher)."""

    def __init__(
        self,
        procs: list[Proc],
        *,
        database_url: str,
        model_url: str,
        tick: Callable[[], int],
        every: int = 2,
    ) -> None:
        super().__init__(name="load-sampler", daemon=True)
        self.procs, self.model_url, self.tick, self.every = procs, model_url, tick, every
        self.engine = create_engine(database_url, pool_size=1, max_overflow=0)
        self.database = database_url.rsplit("/", 1)[1]
        # MB per second: the process alone, and with its children (ledger drain, its tracker)
        self.rss: dict[str, list[float]] = {p.name: [] for p in procs}
        self.rss_tree: dict[str, list[float]] = {p.name: [] for p in procs}
        self.timeline: list[dict[str, float]] = []
        self._halt = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        passes = 0
        while not self._halt.wait(1.0):
            for proc in self.procs:
                if (mb := rss_mb([proc.pid])) is not None:
                    self.rss[proc.name].append(mb)
                if (mb := rss_mb(tree(proc.pid))) is not None:
                    self.rss_tree[proc.name].append(mb)
            answered = self.tick()
            passes += 1
            if passes % self.every == 0:
                self.timeline.append({"t": round(time.monotonic() - self.started_at, 1),
                                      "answered": answered, **self._probe()})  # fmt: skip

    def _probe(self) -> dict[str, float]:
        sql = text(
            "SELECT (SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'),"
            " (SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'),"
            " (SELECT count(*) FROM pg_stat_activity WHERE datname = :db)"
        )
        try:
            with self.engine.connect() as conn:
                todo, doing, connections = conn.execute(sql, {"db": self.database}).one()
            in_flight = get_json(f"{self.model_url}/stats")["in_flight"]
        except Exception as exc:  # a probe must never end the run; the gap shows in the timeline
            print(f"sampler: {exc}", file=sys.stderr)
            return {}
        return {"todo": todo, "doing": doing, "pg_connections": connections,
                "model_in_flight": in_flight}  # fmt: skip

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self.engine.dispose()

    def peak(self, key: str) -> float:
        return max((row[key] for row in self.timeline if key in row), default=0)
