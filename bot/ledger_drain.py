"""The write-behind ledger's drain: Redis stream → `llm_call` and its roll-ups, in batches.

Every process that serves or works runs one while the ledger is written in `stream` mode
(bot/services.py starts it and stops it, with a final flush, on shutdown), where
COUNTERSIGN_LEDGER_DRAIN says: in a child process of its own (`process`, the default:
bot/ledger_drain_process.py), on a daemon thread (`thread`), or not at all (`off`: another
process must drain). The drains of all processes share one consumer group: each entry goes
to one of them. A batch is one transaction (a multi-row INSERT that skips call keys already
in the ledger, and the roll-ups of the rows really inserted), acknowledged only after its
COMMIT. If a drain dies between COMMIT and acknowledgement, another claims the batch once it
has been idle for `claim_idle` and writes it again: nothing is added twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.ledger_drain_process import ChildSpec, DrainProcess
from storage.cache import StoreUnavailable
from storage.db import retry_on_lost_connection
from storage.limits import Entry, LedgerStream
from storage.repositories.usage_record import entry_row, record_calls
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

CLAIM_IDLE_SECONDS = 30.0  # far longer than any batch write: an entry this idle was orphaned
CLAIM_EVERY_SECONDS = 5.0
RETRY_AFTER_SECONDS = 1.0  # after Redis or the database failed
FINAL_FLUSH_SECONDS = 5.0

Row = tuple[dict[str, Any], date]  # a ledger row's columns and its org-local day
DrainMode = Literal["thread", "process", "off"]  # as agents.metering.settings.LedgerDrainMode


@dataclass
class DrainStats:
    """What a drain has done, for logs and the benchmark."""

    batches: int = 0
    inserted: int = 0
    duplicates: int = 0  # entries whose call key was already in the ledger
    buried: int = 0
    lags_ms: list[int] = field(default_factory=list)  # per batch: COMMIT − oldest append


class LedgerDrain:
    """Takes ledger entries from the stream and writes them, one batch per transaction."""

    def __init__(
        self,
        *,
        stream: LedgerStream,
        factory: sessionmaker[Session],
        batch: int = 500,
        interval: float = 0.2,
        claim_idle: float = CLAIM_IDLE_SECONDS,
        consumer: str | None = None,
        mode: DrainMode = "process",
    ) -> None:
        self.mode = mode
        self.stream = stream
        self.factory = factory
        self.batch = batch
        self.interval = interval
        self.claim_idle = claim_idle
        self.consumer = consumer or _consumer_name()
        self.stats = DrainStats()
        self._last_claim = float("-inf")
        self._retry_own = True  # entries this consumer took may be pending (a failed write)
        self._grouped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: DrainProcess | None = None

    # --- one batch -----------------------------------------------------------------------

    def drain_once(self, *, block_ms: int | None = None) -> int:
        """Take one batch (orphans first, then this consumer's unfinished, then new ones),
        write it, acknowledge it; returns how many entries it handled."""
        entries = self.take(block_ms=block_ms)
        if entries:
            self.write(entries)
            self.stream.ack([entry_id for entry_id, _ in entries])
        return len(entries)

    def take(self, *, block_ms: int | None = None) -> list[Entry]:
        """The next batch for this consumer (it stays pending until `ack`)."""
        if not self._grouped:  # here, not at start: a process may start while Redis is down
            self.stream.ensure_group()
            self._grouped = True
        now = time.monotonic()
        if now - self._last_claim >= CLAIM_EVERY_SECONDS:
            self._last_claim = now
            min_idle = int(self.claim_idle * 1000)
            orphans = self.stream.claim_stale(self.consumer, min_idle_ms=min_idle, count=self.batch)
            if orphans:
                log.warning("ledger drain %s took over %d entries", self.consumer, len(orphans))
                return orphans
        if self._retry_own:
            own = self.stream.own_pending(self.consumer, count=self.batch)
            if own:
                return own
            self._retry_own = False
        return self.stream.read(self.consumer, count=self.batch, block_ms=block_ms)

    def write(self, entries: list[Entry]) -> int:
        """Write a batch in one transaction; returns the rows inserted. Entries that are not
        ledger rows are moved aside; trimmed ones (no fields) are only acknowledged."""
        self._retry_own = True  # until this batch is acknowledged
        good: list[tuple[Entry, Row]] = []
        bad: list[Entry] = []
        for entry_id, fields in entries:
            if not fields:
                log.error("ledger entry %s was trimmed before it was written: row lost", entry_id)
                continue
            try:
                good.append(((entry_id, fields), entry_row(fields)))
            except (KeyError, ValueError) as exc:
                log.error("ledger entry %s is not a ledger row (%s): moved aside", entry_id, exc)
                bad.append((entry_id, fields))
        try:
            inserted = self._commit([row for _, row in good])
        except IntegrityError:
            inserted, refused = self._one_by_one(good)
            bad += refused
        if bad:
            self.stream.bury(bad)
            self.stats.buried += len(bad)
        self._count(entries, len(good) - len(bad), inserted)
        return inserted

    def _commit(self, rows: list[Row]) -> int:
        def once() -> int:
            with UnitOfWork(self.factory) as uow:
                inserted = record_calls(uow.session, rows)
                uow.commit()
                return inserted

        return retry_on_lost_connection(once)

    def _one_by_one(self, good: list[tuple[Entry, Row]]) -> tuple[int, list[Entry]]:
        """A batch the database refused (e.g. a row of an org deleted since): each row in
        its own transaction, so one bad row cannot block the stream; the refused entries are
        returned to be moved aside."""
        inserted, refused = 0, []
        for entry, row in good:
            try:
                inserted += self._commit([row])
            except IntegrityError as exc:
                log.error("ledger entry %s refused by the database: %s", entry[0], exc.orig)
                refused.append(entry)
        return inserted, refused

    def _count(self, entries: list[Entry], rows: int, inserted: int) -> None:
        oldest_ms = min(int(entry_id.split("-")[0]) for entry_id, _ in entries)
        self.stats.lags_ms.append(int(time.time() * 1000) - oldest_ms)
        del self.stats.lags_ms[:-10_000]  # a bounded window
        self.stats.batches += 1
        self.stats.inserted += inserted
        self.stats.duplicates += rows - inserted

    # --- running: a thread, a child process, or nothing -----------------------------------

    def start(self) -> None:
        """Drain continuously until `stop`, as `mode` says."""
        if self.mode == "off":
            log.info("this process does not drain the ledger stream: another process must")
        elif self.mode == "thread":
            self._thread = threading.Thread(target=self._run, name="ledger-drain", daemon=True)
            self._thread.start()
        else:
            self._child = DrainProcess(self._child_spec())
            self._child.start()

    def stop(self, *, flush_seconds: float = FINAL_FLUSH_SECONDS) -> None:
        """Stop draining, then write what is left (for up to `flush_seconds`): the thread's
        final flush is here, a child does its own (and if it could not, it is done here)."""
        if self.mode == "off":
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._child is not None and self._child.stop():
            assert self._child.stats is not None
            self.stats = self._child.stats
        else:
            self.flush(seconds=flush_seconds)
        self.stream.forget(self.consumer)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        """Wait until the drain runs (a child takes a second or so to start): for callers
        that measure or test what it does, not for the product, which starts it long before
        the calls come."""
        return self._child.wait_ready(timeout) if self._child is not None else True

    @property
    def child_pid(self) -> int | None:
        """The process draining for this one (`process` mode)."""
        return self._child.pid if self._child is not None else None

    def _child_spec(self) -> ChildSpec:
        engine = self.factory.kw["bind"]
        if self.stream.url is None:
            raise ValueError("a drain process needs a stream built with LedgerStream.from_url")
        return ChildSpec(
            redis_url=self.stream.url,
            stream_key=self.stream.key,
            group=self.stream.group,
            database_url=engine.url.render_as_string(hide_password=False),
            consumer=self.consumer,
            batch=self.batch,
            interval=self.interval,
            claim_idle=self.claim_idle,
            flush_seconds=FINAL_FLUSH_SECONDS,
            parent_pid=os.getpid(),
            log_level=logging.getLogger().getEffectiveLevel(),
        )

    def flush(self, *, seconds: float = FINAL_FLUSH_SECONDS) -> None:
        """Write batches until the stream has nothing for this consumer (or time is up)."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and self.drain_once(block_ms=None):
                pass
        except (StoreUnavailable, SQLAlchemyError) as exc:
            log.error("final ledger drain failed (%s): the rows stay in the stream", exc)

    def _run(self) -> None:
        block_ms = max(1, int(self.interval * 1000))
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                handled = self.drain_once(block_ms=block_ms)
            except (StoreUnavailable, SQLAlchemyError) as exc:
                log.warning("ledger drain: %s; retrying in %.0f s", exc, RETRY_AFTER_SECONDS)
                self._stop.wait(RETRY_AFTER_SECONDS)
                continue
            except Exception:  # the thread must outlive any one bad batch
                log.exception("ledger drain failed; retrying")
                self._stop.wait(RETRY_AFTER_SECONDS)
                continue
            if 0 < handled < self.batch:  # not behind: gather for one interval (fewer commits)
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))


def _consumer_name() -> str:
    """Unique per drain: host, process and a random part (tests run several per process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
