"""The ledger drain in a child process of its own (COUNTERSIGN_LEDGER_DRAIN=process).

Why a process: a drain thread shares the interpreter with the calls it drains behind, and
while it parses a batch it holds the GIL the calls need to get back from Redis; that was the
metering p99 (bench/metering.py). The child is started with `spawn` (no copy of the parent's
threads, locks or connections), builds its own Redis client and database engine from URLs,
and runs an ordinary thread-mode `LedgerDrain` under the parent's consumer name, so a child
that replaces a dead one first retries the batch that one left pending.

The parent and the child share one pipe: the parent sends "stop", the child finishes the
backlog and answers with its stats. A parent that dies closes the pipe (and the child's
parent id changes); the child then also finishes the backlog and exits, so no drain outlives
its process. The child ignores Ctrl-C (the parent, in the same process group, stops it),
treats SIGTERM as "stop", and runs at a lower CPU priority. Its log records go to the
parent's handlers through a queue.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from storage.db import make_engine, session_factory
from storage.limits import LedgerStream

if TYPE_CHECKING:
    from bot.ledger_drain import DrainStats

log = logging.getLogger(__name__)

STOP = "stop"  # parent → child
READY = "ready"  # child → parent, once it drains; its stats follow when it stops
# The child yields the CPU to the process it drains for: its work can wait (a batch later),
# the calls cannot. On the 2-core bench VM (load ~1, calls back to back) the metered call's
# p99 was 2.0 ms with the child niced and 3.3 ms without; with no drain at all, 1.4 ms.
NICENESS = 10
START_GRACE_SECONDS = 20.0  # a child asked to stop while it still imports: time to start
RESTART_AFTER_SECONDS = 1.0
PARENT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ChildSpec:
    """What a child needs to drain, picklable: the stores as URLs (the database's with its
    password: it goes through the pipe, never onto a command line or into a log)."""

    redis_url: str
    stream_key: str
    group: str
    database_url: str
    consumer: str
    batch: int
    interval: float
    claim_idle: float
    flush_seconds: float
    parent_pid: int
    log_level: int


class DrainProcess:
    """The parent's handle on its drain child: start it, replace it if it dies, stop it."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.stats: DrainStats | None = None  # the child's, once it stopped cleanly
        self._context = multiprocessing.get_context("spawn")
        self._logs: Any = self._context.Queue()
        self._listener = logging.handlers.QueueListener(self._logs, _ToParentLoggers())
        self._lock = threading.Lock()  # stop() and a restart never overlap
        self._stopping = threading.Event()
        self._process: Any = None
        self._conn: Connection | None = None
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child, and a thread that starts another if it dies."""
        self._listener.start()
        with self._lock:
            self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="ledger-drain-watch", daemon=True)
        self._watcher.start()

    def wait_ready(self, timeout: float = START_GRACE_SECONDS) -> bool:
        """Wait until the child drains (it takes a second or so to start); False if it did
        not within `timeout`."""
        with self._lock:
            conn = self._conn
        try:
            return conn is not None and conn.poll(timeout) and conn.recv() == READY
        except (EOFError, OSError):
            return False

    def stop(self) -> bool:
        """Ask the child to write the backlog and exit, and wait for it; True if it did
        (False: it had died or did not finish in time, and was ended)."""
        with self._lock:
            if self._stopping.is_set():
                return self.stats is not None  # stopped already
            self._stopping.set()
            process, conn = self._process, self._conn
        finished = process is not None and conn is not None and self._finish(process, conn)
        if self._watcher is not None:
            self._watcher.join()
        self._listener.stop()
        self._logs.close()
        return finished

    def _spawn(self) -> None:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=run_child,
            args=(self.spec, child_end, self._logs),
            name="countersign-ledger-drain",
            daemon=True,  # if the parent exits without stop(), multiprocessing ends it (SIGTERM)
        )
        process.start()
        child_end.close()  # the child's copy stays open: its EOF is the parent's death
        self._process, self._conn = process, parent_end
        log.info("ledger drain runs in process %d", process.pid)

    def _watch(self) -> None:
        """Wait for the child to exit. One that crashed or was killed is replaced (after a
        pause, so a child that cannot start does not spin); one that finished cleanly was
        told to (SIGTERM: a service manager stopping everything) and is not."""
        while True:
            wait([self._process.sentinel])
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process.join()
                if self._conn is not None:
                    self._conn.close()
                pid, code = self._process.pid, self._process.exitcode
                if code == 0:
                    log.warning("ledger drain process %d was stopped: no drain here now", pid)
                    return
                log.error("ledger drain process %d exited (code %s); starting another", pid, code)
            if self._stopping.wait(RESTART_AFTER_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._spawn()

    def _finish(self, process: Any, conn: Connection) -> bool:
        try:
            conn.send(STOP)
            while conn.poll(self.spec.flush_seconds + START_GRACE_SECONDS):
                message = conn.recv()
                if message != READY:
                    self.stats = message
                    break
        except (EOFError, OSError):
            pass  # it had died: the caller writes what it left
        process.join(timeout=START_GRACE_SECONDS)
        if process.is_alive():
            log.error("ledger drain process %d did not stop: ending it", process.pid)
            process.kill()
            process.join()
        conn.close()
        return self.stats is not None


class _ToParentLoggers(logging.Handler):
    """Hands a child's record to the parent's logger of the same name (and its handlers)."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


# --- the child -------------------------------------------------------------------------------


def run_child(spec: ChildSpec, conn: Connection, logs: Any) -> None:
    """The child's main: drain on a thread until told to stop or orphaned, then finish the
    backlog and report."""
    from bot.ledger_drain import LedgerDrain  # here: bot.ledger_drain imports this module

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _log_to_parent(logs, spec.log_level)
    engine = make_engine(spec.database_url)
    stream = LedgerStream.from_url(spec.redis_url, key=spec.stream_key, group=spec.group)
    drain = LedgerDrain(
        stream=stream,
        factory=session_factory(engine),
        batch=spec.batch,
        interval=spec.interval,
        claim_idle=spec.claim_idle,
        consumer=spec.consumer,
        mode="thread",
    )
    drain.start()
    try:
        _tell(conn, READY)
        _until_told_or_orphaned(conn, spec.parent_pid, stop)
    finally:
        drain.stop(flush_seconds=spec.flush_seconds)
        engine.dispose()
    _tell(conn, drain.stats)


def _tell(conn: Connection, message: object) -> None:
    try:
        conn.send(message)
    except OSError:
        pass  # the parent is gone: it hears nothing more


def _until_told_or_orphaned(conn: Connection, parent_pid: int, stop: threading.Event) -> None:
    """Return on "stop" from the parent, on SIGTERM, or once the parent has died (its end of
    the pipe closed, or this process was handed to another parent)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("the ledger drain's parent %d died: finishing the backlog", parent_pid)
            return
        try:
            if conn.poll(PARENT_POLL_SECONDS):
                conn.recv()  # the only message is STOP
                return
        except (EOFError, OSError):
            log.warning("the ledger drain's parent %d died: finishing the backlog", parent_pid)
            return


def _log_to_parent(logs: Any, level: int) -> None:
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
