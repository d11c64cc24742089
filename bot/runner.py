"""Background jobs. Embedded mode runs them on an in-process pool; the job-engine issue adds a
production engine behind the same `defer(task, payload)` call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

log = logging.getLogger(__name__)

Task = Callable[[dict[str, Any]], None]


class JobRunner(Protocol):
    """Hands work off the request thread. `defer` must return fast (it sits before the ack)."""

    def defer(self, task: str, payload: dict[str, Any]) -> None:
        """Queue `task` with a JSON-serialisable payload."""
        ...

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking work; with wait, finish what is queued."""
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
        """Make `task` runnable under `name`."""
        self._tasks[name] = task

    def defer(self, task: str, payload: dict[str, Any]) -> None:
        if task not in self._tasks:
            raise KeyError(f"no task registered as {task!r}")
        future = self._pool.submit(self._run, task, payload)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def every(self, seconds: float, task: str) -> None:
        """Defer `task` every `seconds` until shutdown (embedded mode's scheduler; the job
        engine's periodic tasks replace it in production)."""

        def tick() -> None:
            while not self._stopping.wait(seconds):
                try:
                    self.defer(task, {})
                except RuntimeError:  # the pool shut down between the wait and the defer
                    return

        threading.Thread(target=tick, name=f"countersign-every-{task}", daemon=True).start()

    def _run(self, task: str, payload: dict[str, Any]) -> None:
        try:
            self._tasks[task](payload)
        except Exception:  # a job's failure must be logged, not lost in a Future nobody reads
            log.exception("job %s failed", task)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def idle(self) -> bool:
        """True when no job is queued or running (tests and the demo wait on this)."""
        with self._lock:
            return not self._pending

    def shutdown(self, *, wait: bool) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=wait)
