"""Background jobs: one set of task functions, two engines behind the same calls.

Embedded mode (SQLite) runs them on the in-process pool below; production (PostgreSQL) defers
them into procrastinate and `countersign worker` runs them (bot/procrastinate_runner.py).
Delivery is at-least-once in production, so every task must be idempotent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from bot.observability.request_ids import request_id_bound, stamped, unstamped

log = logging.getLogger(__name__)

Task = Callable[[dict[str, Any]], None]


class JobRunner(Protocol):
    """What listeners see. `defer` must return fast (it sits before the ack)."""

    def defer(self, task: str, payload: dict[str, Any]) -> None:
        """Queue `task` with a JSON-serialisable payload."""
        ...

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking work; with wait, finish what is queued."""
        ...


class TaskRunner(JobRunner, Protocol):
    """What the process wires: task registration, periodic schedules, transactional defer."""

    def register(self, name: str, task: Task) -> None:
        """Make `task` runnable under `name` (registering a name again replaces its body)."""
        ...

    def registered(self, name: str) -> bool:
        """Whether a body is registered under `name`."""
        ...

    def every(self, seconds: float, task: str) -> None:
        """Run `task` once every `seconds`; its payload carries the period's `timestamp`."""
        ...

    def defer_in(self, session: Session, task: str, payload: dict[str, Any]) -> None:
        """Queue `task` as part of the session's transaction: queued if and only if it commits."""
        ...

    def idle(self) -> bool:
        """True when no job is queued or running."""
        ...

    def pending(self) -> dict[str, int]:
        """Jobs waiting (`todo`) and running (`doing`), for the queue-depth metric."""
        ...

    def check_ready(self) -> None:
        """Raise (with a short reason) if jobs cannot be queued right now; for /readyz."""
        ...


class InProcessRunner:
    """A thread pool that runs registered task functions by name."""

    def __init__(self, *, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="countersign-job")
        self._tasks: dict[str, Task] = {}
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def register(self, name: str, task: Task) -> None:
        self._tasks[name] = task

    def registered(self, name: str) -> bool:
        return name in self._tasks

    def defer(self, task: str, payload: dict[str, Any]) -> None:
        self._check(task)
        future = self._pool.submit(self._run, task, stamped(payload))
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def defer_in(self, session: Session, task: str, payload: dict[str, Any]) -> None:
        self._check(task)
        payload = stamped(payload)  # now: the commit may happen on another thread
        after_commit(session, lambda: self.defer(task, payload))

    def every(self, seconds: float, task: str) -> None:
        """Defer `task` every `seconds` until shutdown (embedded mode's scheduler; the job
        engine's periodic tasks replace it in production)."""

        def tick() -> None:
            while not self._stopping.wait(seconds):
                try:
                    self.defer(task, {"timestamp": int(time.time())})
                except RuntimeError:  # the pool shut down between the wait and the defer
                    return

        threading.Thread(target=tick, name=f"countersign-every-{task}", daemon=True).start()

    def _check(self, task: str) -> None:
        if task not in self._tasks:
            raise KeyError(f"no task registered as {task!r}")

    def _run(self, task: str, payload: dict[str, Any]) -> None:
        try:
            run_job(task, self._tasks[task], payload)
        except Exception:  # run_job logged it (a Future nobody reads would have lost it)
            return

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def idle(self) -> bool:
        """True when no job is queued or running (tests and the demo wait on this)."""
        with self._lock:
            return not self._pending

    def pending(self) -> dict[str, int]:
        with self._lock:
            running = sum(1 for future in self._pending if future.running())
            return {"todo": len(self._pending) - running, "doing": running}

    def check_ready(self) -> None:
        if self._stopping.is_set():
            raise RuntimeError("the in-process job runner has shut down")

    def shutdown(self, *, wait: bool) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=wait)


def run_job(name: str, task: Task, payload: dict[str, Any]) -> None:
    """Run a task body under the request id its payload carries (a new one when it has none,
    e.g. a periodic task), so every line the job logs can be traced to what asked for it."""
    request_id, body = unstamped(payload)
    with request_id_bound(request_id):
        try:
            task(body)
        except Exception:  # logged here, where the request id is still known
            log.exception("job %s failed", name)
            raise


_AFTER_COMMIT = "countersign.after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's current transaction commits; drop it if it does not."""
    session.connection()  # begin the transaction now, so its commit is the one we wait for
    actions: list[Callable[[], None]] | None = session.info.get(_AFTER_COMMIT)
    if actions is None:
        actions = session.info[_AFTER_COMMIT] = []
        event.listen(session, "after_commit", _run_actions)
        event.listen(session, "after_transaction_end", _drop_actions)
    actions.append(action)


def _run_actions(session: Session) -> None:
    actions = session.info.get(_AFTER_COMMIT, [])
    while actions:
        action = actions.pop(0)
        try:
            action()
        except Exception:  # the rows are committed; the caller's commit must not look failed
            log.exception("a job queued for after the commit could not be queued")


def _drop_actions(session: Session, transaction: SessionTransaction) -> None:
    # Runs after after_commit on a commit; on a rollback or close it forgets the jobs.
    if transaction.parent is None:
        session.info.get(_AFTER_COMMIT, []).clear()
