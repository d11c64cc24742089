"""The ledger drain's child process (`python -m bot.ledger_drain_child <socket fd>`), started
by bot/ledger_drain_process.py: read the spec from the parent, drain on a thread until the
parent says stop, the parent dies or SIGTERM comes, then finish the backlog, report, exit.

It ignores Ctrl-C (the parent, in the same process group, stops it) and runs at a lower CPU
priority: its work can wait a batch, the calls it drains behind cannot.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from bot.ledger_drain import LedgerDrain
from bot.ledger_drain_process import READY, ChildSpec
from storage.db import make_engine, session_factory
from storage.limits import LedgerStream

log = logging.getLogger(__name__)

# On the 2-core bench VM (load ~1, calls back to back) the metered call's p99 was 2.0 ms
# with the child niced and 3.3 ms without; with no drain at all, 1.4 ms.
NICENESS = 10
PARENT_POLL_SECONDS = 0.5


class _Parent:
    """The socket to the parent; sends from any thread (log records come from several)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def put_nowait(self, message: object) -> None:
        """Send, or drop once the parent is gone (QueueHandler calls this for records)."""
        with self._lock:
            try:
                self.conn.send(message)
            except OSError:
                pass


def main(fd: int) -> None:
    """Drain until told to stop or orphaned, then finish the backlog and report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    conn = Connection(fd)
    spec: ChildSpec = conn.recv()
    parent = _Parent(conn)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(parent)]  # type: ignore[arg-type]
    root.setLevel(spec.log_level)
    engine = make_engine(spec.database_url)
    drain = LedgerDrain(
        stream=LedgerStream.from_url(spec.redis_url, key=spec.stream_key, group=spec.group),
        factory=session_factory(engine),
        batch=spec.batch,
        interval=spec.interval,
        claim_idle=spec.claim_idle,
        consumer=spec.consumer,
        mode="thread",
    )
    drain.start()
    try:
        parent.put_nowait(READY)
        _until_told_or_orphaned(conn, spec.parent_pid, stop)
    finally:
        drain.stop(flush_seconds=spec.flush_seconds)
        engine.dispose()
    parent.put_nowait(drain.stats)


def _until_told_or_orphaned(conn: Connection, parent_pid: int, stop: threading.Event) -> None:
    """Return on "stop" from the parent, on SIGTERM, or once the parent has died (its end of
    the socket closed, or this process was handed to another parent)."""
    while not stop.is_set():
        try:
            if conn.poll(PARENT_POLL_SECONDS):
                conn.recv()  # the only message after the spec is STOP
                return
        except (EOFError, OSError):
            pass  # the parent's end is closed
        else:
            if os.getppid() == parent_pid:
                continue
        log.warning("the ledger drain's parent %d died: finishing the backlog", parent_pid)
        return


if __name__ == "__main__":
    main(int(sys.argv[1]))
