"""Acceptance (issue 6): on PostgreSQL, three `countersign worker` processes, one killed with
SIGKILL in the middle of a task. Every periodic job runs once per period, the killed worker's
task is finished by another worker, a real app task runs, and nothing runs twice.

The workers run the probe tasks of tests/bot/job_probe.py (a 2 s periodic tick and a task that
holds its worker until released) beside the app's own tasks and schedule. Each runs one job at
a time, so the killed worker was running the held task and nothing else. Waits have deadlines
(a missed one fails with the workers' logs); nothing asserts how long anything took."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from bot.jobs import RECORD_FEEDBACK
from bot.procrastinate_runner import ProcrastinateRunner
from bot.settings import JobSettings
from storage.db import make_engine
from tests.bot.job_fixtures import job_database
from tests.bot.job_probe import PERIOD_SECONDS, SLOW, TABLES, TICK

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture
def jobs_url(pg_url):
    with job_database() as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            for ddl in TABLES:
                conn.execute(text(ddl))
        engine.dispose()
        yield url


@pytest.fixture
def engine(jobs_url):
    engine = make_engine(jobs_url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_three_workers_one_killed_mid_task_lose_nothing_and_repeat_nothing(
    jobs_url, engine, tmp_path
):
    workers = Workers.start(jobs_url, tmp_path, count=3)
    victim_pid = None
    try:
        workers.wait_for(lambda: _scalar(engine, "SELECT count(*) FROM procrastinate_workers") == 3)
        workers.wait_for(lambda: len(_tick_periods(engine)) >= 2)
        _defer_from_a_web_process(engine, jobs_url)
        [(_key, victim_pid)] = workers.wait_for(lambda: _runs(engine, "slow_started"))
        workers.kill(victim_pid)
        killed_at = time.time()
        _execute(engine, "INSERT INTO probe_release (key) VALUES ('held')")
        workers.wait_for(lambda: _runs(engine, "slow_done"))
        workers.wait_for(lambda: sum(p > killed_at for p in _tick_periods(engine)) >= 3)
        workers.wait_for(lambda: _feedback_rows(engine) >= 1)
    finally:
        exit_codes = workers.stop()

    survivors = workers.pids() - {victim_pid}
    started, done = _runs(engine, "slow_started"), _runs(engine, "slow_done")
    assert [pid for _k, pid in started][0] == victim_pid
    assert len(started) == 2 and len(done) == 1 and done[0][1] in survivors  # finished once
    assert exit_codes == dict.fromkeys(survivors, 0)  # SIGTERM: running jobs finish, then exit

    ticks = Counter(_tick_periods(engine))
    waiting = _waiting_tick_periods(engine)  # deferred, not run before the workers stopped
    assert [p for p, runs in ticks.items() if runs > 1] == []  # no period ran twice
    assert not set(ticks) & set(waiting)
    periods = sorted([*ticks, *waiting])
    assert periods == list(range(periods[0], periods[-1] + 1, PERIOD_SECONDS))  # none missed
    assert any(p < killed_at for p in ticks) and sum(p > killed_at for p in ticks) >= 3

    assert _feedback_rows(engine) == 1  # a real app task, run once
    assert _unfinished_jobs(engine) == []  # nothing stuck running, nothing failed


def _defer_from_a_web_process(engine, url: str) -> None:
    """Defer as `countersign serve` would: into PostgreSQL, never running anything here."""
    web = ProcrastinateRunner(engine=engine, database_url=url, settings=JobSettings())
    for name in (SLOW, RECORD_FEEDBACK):
        web.register(name, _not_here)
    web.defer(SLOW, {"key": "held"})
    web.defer(
        RECORD_FEEDBACK,
        {
            "team_id": "T_PROBE",
            "user": "U_PROBE",
            "channel": None,
            "rating": "up",
            "subject_type": "conversation",
            "subject_id": "1",
        },
    )


def _not_here(_payload: dict[str, Any]) -> None:
    raise AssertionError("the deferring process must not run jobs")


@dataclass
class Workers:
    """`countersign worker` processes, each logging to a file in `folder`."""

    folder: Path
    processes: list[subprocess.Popen[bytes]]

    @classmethod
    def start(cls, url: str, folder: Path, *, count: int) -> Workers:
        command = [
            *_countersign(),
            "worker",
            "--concurrency",
            "1",
            "--tasks",
            "tests.bot.job_probe",
        ]
        processes = [
            subprocess.Popen(
                command,
                env=_worker_env(url),
                cwd=folder,  # no stray .env
                stdout=(folder / f"worker-{n}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for n in range(count)
        ]
        return cls(folder, processes)

    def pids(self) -> set[int]:
        return {p.pid for p in self.processes}

    def kill(self, pid: int) -> None:
        victim = next(p for p in self.processes if p.pid == pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

    def wait_for(self, condition: Callable[[], T], timeout: float = 45) -> T:
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            crashed = [p.pid for p in self.processes if p.poll() not in (None, -signal.SIGKILL)]
            if crashed or time.monotonic() > deadline:
                pytest.fail(f"gave up waiting (exited: {crashed}); logs:\n{self.logs()}")
            time.sleep(0.1)
        return result

    def stop(self) -> dict[int, int | None]:
        """SIGTERM to every live worker; their exit codes (None: had to be killed)."""
        live = [p for p in self.processes if p.poll() is None]
        for process in live:
            process.send_signal(signal.SIGTERM)
        return {process.pid: _exit_code(process) for process in live}

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )


def _exit_code(process: subprocess.Popen[bytes]) -> int | None:
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def _countersign() -> list[str]:
    """The installed console script (bot.cli:main), or the same entry point through -m."""
    script = Path(sys.executable).with_name("countersign")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def _worker_env(url: str) -> dict[str, str]:
    ours = ("COUNTERSIGN_", "SLACK_", "ANTHROPIC_", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-probe",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing here talks to Slack
        "COUNTERSIGN_JOBS_HEARTBEAT_SECONDS": "1",
        "COUNTERSIGN_JOBS_STALLED_SECONDS": "6",
        "COUNTERSIGN_JOBS_STALLED_CHECK_SECONDS": "2",
        "COUNTERSIGN_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(REPO),
    }


def _runs(engine, kind: str) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT key, pid FROM probe_run WHERE kind = :kind ORDER BY id"), {"kind": kind}
        )
        return [(key, pid) for key, pid in rows]


def _tick_periods(engine) -> list[int]:
    return [int(key) for key, _pid in _runs(engine, "tick")]


def _waiting_tick_periods(engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (args->>'timestamp')::bigint FROM procrastinate_jobs"
                " WHERE task_name = :task AND status = 'todo'"
            ),
            {"task": TICK},
        )
        return [int(period) for (period,) in rows]


def _feedback_rows(engine) -> int:
    return _scalar(engine, "SELECT count(*) FROM audit_event WHERE action = 'feedback.up'")


def _unfinished_jobs(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT task_name, status::text FROM procrastinate_jobs"
                " WHERE status IN ('doing', 'failed')"
            )
        )
        return [(task, status) for task, status in rows]


def _scalar(engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def _execute(engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))
