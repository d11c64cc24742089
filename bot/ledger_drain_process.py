"""The ledger drain in a child process of its own (COUNTERSIGN_LEDGER_DRAIN=process): the
parent's side. The child's is bot/ledger_drain_child.py.

Why a process: a drain thread shares the interpreter with the calls it drains behind, and
while it parses and writes a batch it holds the GIL the calls need to get back from Redis;
that was the metering p99 (bench/metering.py). The child is a fresh interpreter
(`python -m bot.ledger_drain_child`: it imports the drain and nothing else of the app, ~80 MB
and draining 0.7 s after its start; multiprocessing's spawn would import the parent's main
script, i.e. the whole app: ~125 MB and 2 s), builds its own Redis client and database
engine from URLs, and runs an ordinary thread-mode `LedgerDrain` under the parent's consumer
name, so a child that replaces a dead one first retries the batch that one left pending.

Parent and child talk over one socket (`multiprocessing.connection`, pickled messages): the
parent sends the spec, later "stop"; the child sends "ready", its log records (handled by the
parent's loggers, so they look like the parent's own) and, when it has finished the backlog,
its stats. A parent that dies closes the socket and the child finishes the backlog and exits:
no drain outlives its process.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.ledger_drain import DrainStats

log = logging.getLogger(__name__)

STOP = "stop"  # parent → child, after the spec
READY = "ready"  # child → parent, once it drains; its stats follow when it stops
START_GRACE_SECONDS = 20.0  # a child asked to stop while it still starts: time to start
RESTART_AFTER_SECONDS = 1.0  # doubled while children keep dying young, up to the cap
RESTART_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class ChildSpec:
    """What a child needs to drain: the stores as URLs (the database's with its password: it
    goes through the socket, never onto a command line or into a log)."""

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
        self._lock = threading.Lock()  # stop() and a restart never overlap
        self._stopping = threading.Event()
        self._child: _Child | None = None
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._child.popen.pid if self._child is not None else None

    def start(self) -> None:
        """Start the child, and a thread that starts another if it dies."""
        with self._lock:
            self._child = _Child(self.spec)
        self._watcher = threading.Thread(target=self._watch, name="ledger-drain-watch", daemon=True)
        self._watcher.start()

    def wait_ready(self, timeout: float = START_GRACE_SECONDS) -> bool:
        """Wait until the child drains; False if it did not within `timeout`."""
        child = self._child
        return child is not None and child.ready.wait(timeout)

    def stop(self) -> bool:
        """Ask the child to write the backlog and exit, and wait for it; True if it did
        (False: it had died or did not finish in time, and was ended)."""
        with self._lock:
            if self._stopping.is_set():
                return self.stats is not None  # stopped already
            self._stopping.set()
            child = self._child
        if child is not None:
            self.stats = child.finish(self.spec.flush_seconds + START_GRACE_SECONDS)
        if self._watcher is not None:
            self._watcher.join()
        return self.stats is not None

    def _watch(self) -> None:
        """Wait for the child to exit. One that crashed or was killed is replaced (after a
        pause that doubles while they die young, so one that cannot start does not spin);
        one that finished cleanly was told to (SIGTERM: a service manager stopping
        everything) and is not."""
        pause = RESTART_AFTER_SECONDS
        while True:
            child = self._child
            assert child is not None
            code = child.popen.wait()
            with self._lock:
                if self._stopping.is_set():
                    return
                child.close()
                if code == 0:
                    log.warning("ledger drain process %d was stopped: none here now", child.pid)
                    return
                log.error("ledger drain process %d exited (%s); starting another", child.pid, code)
            if time.monotonic() - child.started_at > RESTART_CAP_SECONDS:
                pause = RESTART_AFTER_SECONDS  # it had been running: not a crash loop
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, RESTART_CAP_SECONDS)
            with self._lock:
                if self._stopping.is_set():
                    return
                self._child = _Child(self.spec)


class _Child:
    """One child process, its socket, and a thread reading what it sends."""

    def __init__(self, spec: ChildSpec) -> None:
        ours, theirs = socket.socketpair()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot.ledger_drain_child", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.pid = self.popen.pid
        self.started_at = time.monotonic()
        self.conn = Connection(ours.detach())
        self.ready = threading.Event()
        self.stats: DrainStats | None = None
        self._gone = threading.Event()  # the child closed its end: exited
        self._send(spec)
        threading.Thread(target=self._read, name="ledger-drain-read", daemon=True).start()
        log.info("ledger drain runs in process %d", self.pid)

    def finish(self, timeout: float) -> DrainStats | None:
        """Tell it to stop; wait for it to write the backlog and exit (ended if it has not
        within `timeout`); its stats if it finished."""
        self._send(STOP)
        self._gone.wait(timeout)
        try:
            self.popen.wait(timeout=START_GRACE_SECONDS if self._gone.is_set() else 0)
        except subprocess.TimeoutExpired:
            log.error("ledger drain process %d did not stop: ending it", self.pid)
            self.popen.kill()
            self.popen.wait()
        self.close()
        return self.stats

    def close(self) -> None:
        """Release the socket (the reader thread then ends)."""
        self.conn.close()

    def _send(self, message: object) -> None:
        try:
            self.conn.send(message)
        except OSError:
            pass  # it has died: the watcher or stop() deals with that

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, logging.LogRecord):
                logger = logging.getLogger(message.name)
                if logger.isEnabledFor(message.levelno):
                    logger.handle(message)  # through the parent's handlers and format
            elif message == READY:
                self.ready.set()
            else:
                self.stats = message
        self._gone.set()
