"""Production jobs on procrastinate (PostgreSQL). Any process defers; `countersign worker` runs.

A job is one row in procrastinate's table, inserted on a connection we hand over: the caller's
SQLAlchemy session (so the job commits or rolls back with the rows it belongs to) or one from
the engine's pool. Workers send heartbeats; a periodic task puts the running jobs of a worker
that stopped beating (SIGKILL, OOM, a lost host) back in the queue, so delivery is
at-least-once and every task must be idempotent. Periodic tasks are deferred by every worker
but recorded once per (task, period) by a unique row, so each period runs once overall."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import procrastinate
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session

from bot.observability.request_ids import stamped
from bot.runner import Task, run_job
from bot.settings import JobSettings

log = logging.getLogger(__name__)

RETRY_STALLED = "retry_stalled_jobs"
# The worker's own pool serves fetching, finishing, heartbeats and LISTEN, never task bodies
# (they use the app's engine); it grows on demand up to this.
_WORKER_POOL_MAX = 20


class ProcrastinateRunner:
    """Registers task bodies by name, defers them as procrastinate jobs, and runs a worker."""

    def __init__(self, *, engine: Engine, database_url: str, settings: JobSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._bodies: dict[str, Task] = {}
        # Deferring always runs on a connection we pass in, so this connector never opens a pool.
        self._deferrer = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=libpq_url(database_url), min_size=1, max_size=_WORKER_POOL_MAX
            )
        )
        self._add_stalled_job_retry()

    def register(self, name: str, task: Task) -> None:
        if name not in self._bodies:
            self.app.task(name=name)(_job_function(name, self._bodies))
        self._bodies[name] = task

    def registered(self, name: str) -> bool:
        return name in self._bodies

    def every(self, seconds: float, task: str) -> None:
        """Deferred by the workers' periodic deferrer, aligned to the clock (see `cron_for`)."""
        self._check(task)
        self.app.periodic(cron=cron_for(seconds), periodic_id=task, task_kwargs={"payload": {}})(
            self.app.tasks[task]
        )

    def defer(self, task: str, payload: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            self._defer_on(conn, task, payload)

    def defer_in(self, session: Session, task: str, payload: dict[str, Any]) -> None:
        self._defer_on(session.connection(), task, payload)

    def idle(self) -> bool:
        with self._engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs"
                    " WHERE status IN ('todo', 'doing'))"
                )
            ).scalar_one()
        return not waiting

    def pending(self) -> dict[str, int]:
        """One short query: the queue as every process sees it (alike on web and workers)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status::text, count(*) FROM procrastinate_jobs"
                    " WHERE status IN ('todo', 'doing') GROUP BY status"
                )
            ).all()
        counts = {"todo": 0, "doing": 0}
        counts.update({str(status): int(count) for status, count in rows})
        return counts

    def check_ready(self) -> None:
        """The job table answers (deferring needs nothing else)."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM procrastinate_jobs LIMIT 1"))

    def shutdown(self, *, wait: bool) -> None:
        """Nothing runs in this object outside `run_worker`; the engine is the caller's."""

    def run_worker(self, *, concurrency: int, name: str, wait: bool = True) -> None:
        """Run jobs and defer periodic tasks until SIGINT/SIGTERM (which let running jobs
        finish), or with wait=False until the queue is empty."""
        asyncio.run(self._work(concurrency=concurrency, name=name, wait=wait))

    async def _work(self, *, concurrency: int, name: str, wait: bool) -> None:
        # Our task bodies are synchronous and run on the loop's default executor, which holds
        # min(32, CPUs + 4) threads: without this, --concurrency 12 would run 6 at a time.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="countersign-job")
        )
        async with self.app.open_async():
            await self.app.run_worker_async(
                name=name,
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=self._settings.heartbeat_seconds,
                stalled_worker_timeout=self._settings.stalled_seconds,
                # Payloads hold what people wrote; failed jobs stay for inspection.
                delete_jobs="successful",
            )

    def _defer_on(self, conn: Connection, task: str, payload: dict[str, Any]) -> None:
        self._check(task)
        if conn.dialect.name != "postgresql":
            raise ValueError("procrastinate jobs live in PostgreSQL; this session is not")
        driver_connection = conn.connection.driver_connection
        deferrer = self._deferrer.configure_task(task, connection=driver_connection)
        deferrer.defer(payload=stamped(payload))

    def _check(self, task: str) -> None:
        if task not in self._bodies:
            raise KeyError(f"no task registered as {task!r}")

    def _add_stalled_job_retry(self) -> None:
        seconds_since_heartbeat = self._settings.stalled_seconds

        async def retry_stalled_jobs(
            context: procrastinate.JobContext,
            timestamp: int,  # noqa: ARG001 (procrastinate passes each period's; unused here)
        ) -> None:
            manager = context.app.job_manager
            for job in await manager.get_stalled_jobs(
                seconds_since_heartbeat=seconds_since_heartbeat
            ):
                log.warning("%s was running on a dead worker: queued again", job.call_string)
                await manager.retry_job(job)

        # One check at a time (`lock`), and never a backlog of checks (`queueing_lock`).
        task = self.app.task(
            name=RETRY_STALLED, pass_context=True, lock=RETRY_STALLED, queueing_lock=RETRY_STALLED
        )(retry_stalled_jobs)
        self.app.periodic(cron=cron_for(self._settings.stalled_check_seconds))(task)


def _job_function(name: str, bodies: dict[str, Task]) -> Callable[..., None]:
    """What procrastinate calls: keyword arguments back to our `fn(payload)`."""

    def run(payload: dict[str, Any], timestamp: int | None = None) -> None:
        full = payload if timestamp is None else {**payload, "timestamp": timestamp}
        run_job(name, bodies[name], full)

    return run


def cron_for(seconds: float) -> str:
    """A cron line firing every `seconds`, on the clock's boundaries (so every worker agrees on
    the periods). The period must divide a minute, an hour or a day."""
    whole = int(seconds)
    if whole == seconds and whole >= 1:
        minutes, hours = whole // 60, whole // 3600
        if whole < 60 and 60 % whole == 0:
            return f"* * * * * */{whole}"
        if whole % 60 == 0 and minutes < 60 and 60 % minutes == 0:
            return f"*/{minutes} * * * *"
        if whole % 3600 == 0 and 24 % hours == 0:
            return f"0 */{hours} * * *"
    raise ValueError(f"a period of {seconds:g} s must divide a minute, an hour or a day")


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (no `+psycopg` driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
