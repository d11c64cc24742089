"""The write-behind ledger's Redis stream: model calls append their ledger row with the budget
settle (one Lua call, one round trip), drains read it back in batches through a consumer group.

Hand-written on redis-py's stream commands because the two halves need Redis itself: the
append must be atomic with the counters' settle, and a consumer group is what lets several
processes drain without double-writing (each entry goes to one consumer; the entries of a
consumer that died are claimed by another with XAUTOCLAIM once idle long enough). An entry
is acknowledged and deleted only after its batch committed in the database.

An entry is one field, the row as JSON: a field per column made redis-py's pure-Python reply
parser the drain's largest cost (about 40 bulk strings per row, 4x the read time of one), and
in a drain thread that parsing held the GIL the calls were waiting for (bench/metering.py).
Entries of a field per column (an older release's, still in the stream) are read as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis
from sqlalchemy.engine import make_url

from storage.cache import StoreUnavailable
from storage.repositories.usage import UsageTotals
from storage.repositories.usage_record import LEDGER_MEASURES, entry_row, measures

log = logging.getLogger(__name__)

STREAM_KEY = "countersign:ledger"
GROUP = "ledger-writers"
# Only a drain that has stopped for hours lets the stream grow this long (about 0.5 KB an
# entry: ~1 GB of Redis memory); past it the oldest rows are trimmed, and that is logged loudly.
MAX_LENGTH = 2_000_000
LOUD_EVERY_SECONDS = 60.0
# A budget seed reads at most this many of the newest entries (~1 s of parsing): more are
# unwritten only while the drains have been down a long time, and that is logged.
SEED_SCAN_LIMIT = 50_000
SCAN_PAGE = 1_000

ROW_FIELD = "row"  # the one field of an entry: the ledger row's fields as a JSON object

Entry = tuple[str, dict[str, str]]  # stream id, ledger fields

# KEYS: budget counters to settle, then the stream. ARGV: the stream's cap, one delta per
# counter, then the row's field/value pairs. A counter that expired is left alone (its
# re-seed from the ledger is exact), as in counters.py's settle.
_SETTLE_AND_APPEND = """
local n = #KEYS - 1
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[1 + i]) end
end
local stream = KEYS[n + 1]
local length = redis.call('XLEN', stream)
local id = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, n + 2))
return {id, length + 1}
"""


def stream_key(database_url: str) -> str:
    """The stream of one database: processes writing the same database share it, and two
    deployments (or test runs) sharing a Redis never write each other's rows."""
    return f"{STREAM_KEY}:{database_tag(database_url)}"


def database_tag(database_url: str) -> str:
    """A short name for one database (no password in it), to keep Redis keys apart."""
    where = make_url(database_url).render_as_string(hide_password=True)
    return hashlib.sha256(where.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Backlog:
    """How far the drains are behind: entries not yet written, of which taken by a drain."""

    length: int
    pending: int
    oldest_ms: int | None  # age of the oldest entry still in the stream


class LedgerStream:
    """One Redis stream of ledger rows and its consumer group."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str = STREAM_KEY,
        group: str = GROUP,
        max_length: int = MAX_LENGTH,
        url: str | None = None,
    ) -> None:
        self.client = client
        self.url = url  # how to reach the same Redis from another process (a drain's child)
        self.key = key
        self.group = group
        self.max_length = max_length
        self._append = client.register_script(_SETTLE_AND_APPEND)
        self._last_loud = 0.0

    @classmethod
    def from_url(cls, url: str, *, key: str = STREAM_KEY, group: str = GROUP) -> LedgerStream:
        """Short timeouts, as the counters': a dead Redis must fail fast so the row can be
        written directly instead. A drain's blocking read stays under them."""
        client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True
        )
        return cls(client, key=key, group=group, url=url)

    # --- the call's side ---------------------------------------------------------------

    def append(self, entry: Mapping[str, str], counters: Sequence[tuple[str, int]] = ()) -> str:
        """Add each delta to its counter (if it still exists) and append the row, atomically;
        returns the entry's id. Raises StoreUnavailable if Redis does not answer."""
        args: list[Any] = [self.max_length, *(d for _, d in counters), ROW_FIELD, _packed(entry)]
        try:
            entry_id, length = self._append(keys=[*(k for k, _ in counters), self.key], args=args)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        if int(length) * 2 >= self.max_length:
            self._lagging(int(length))
        return str(entry_id)

    def append_many(self, entries: Sequence[Mapping[str, str]]) -> None:
        """Append rows without settling anything, in one round trip (a backlog for tests and
        the benchmark; calls use `append`)."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for entry in entries:
                    fields: dict[Any, Any] = {ROW_FIELD: _packed(entry)}
                    pipe.xadd(self.key, fields, maxlen=self.max_length, approximate=True)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _lagging(self, length: int) -> None:
        """Say so, loudly but once a minute per process: the drains are not keeping up."""
        now = time.monotonic()
        if now - self._last_loud < LOUD_EVERY_SECONDS:
            return
        self._last_loud = now
        if length >= self.max_length:
            log.error(
                "ledger stream %s is at its cap of %d rows: the drains are not keeping up and "
                "the OLDEST UNWRITTEN LEDGER ROWS ARE BEING DROPPED; start `countersign worker` "
                "or check the database",
                self.key,
                self.max_length,
            )
        else:
            log.warning(
                "ledger stream %s holds %d unwritten rows (cap %d): the drains are lagging",
                self.key,
                length,
                self.max_length,
            )

    # --- the drain's side --------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist."""
        try:
            self.client.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreUnavailable(str(exc)) from exc
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def read(self, consumer: str, *, count: int, block_ms: int | None = None) -> list[Entry]:
        """New entries for `consumer` (waiting up to `block_ms` for the first one)."""
        return self._read_group(consumer, ">", count, block_ms)

    def own_pending(self, consumer: str, *, count: int) -> list[Entry]:
        """Entries `consumer` took earlier and has not acknowledged (a failed write)."""
        return self._read_group(consumer, "0", count, None)

    def claim_stale(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries another consumer took and left idle `min_idle_ms` (it died)."""
        try:
            reply = self.client.xautoclaim(
                self.key, self.group, consumer, min_idle_time=min_idle_ms, count=count
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [(str(i), _unpack(fields)) for i, fields in reply[1] if fields]

    def ack(self, ids: Sequence[str]) -> None:
        """Written: acknowledge and delete, in one round trip."""
        if not ids:
            return
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.xack(self.key, self.group, *ids)
                pipe.xdel(self.key, *ids)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def bury(self, entries: Sequence[Entry]) -> None:
        """Move entries that cannot be read as ledger rows aside (`<key>:dead`), so they
        neither block the drain nor vanish."""
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for _, fields in entries:
                    dead: dict[Any, Any] = dict(fields) or {"empty": ""}
                    pipe.xadd(f"{self.key}:dead", dead)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        self.ack([entry_id for entry_id, _ in entries])

    def forget(self, consumer: str) -> None:
        """Drop a consumer that holds nothing (a process shutting down cleanly)."""
        try:
            pending = self.client.xpending_range(
                self.key, self.group, min="-", max="+", count=1, consumername=consumer
            )
            if not pending:
                self.client.xgroup_delconsumer(self.key, self.group, consumer)
        except redis.RedisError as exc:
            log.warning("could not drop ledger consumer %s: %s", consumer, exc)

    def backlog(self) -> Backlog:
        """Entries in the stream, those taken but not acknowledged, and the oldest's age."""
        try:
            length = int(self.client.xlen(self.key))
            first = self.client.xrange(self.key, count=1)
            now_ms = int(time.time() * 1000)
            pending = self._pending_count()
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        oldest = now_ms - int(str(first[0][0]).split("-")[0]) if first else None
        return Backlog(length, pending, oldest)

    def unwritten(
        self,
        org_id: int,
        start: date,
        end: date,
        *,
        user_id: int | None = None,
        customer_id: int | None = None,
        request_type: str | None = None,
    ) -> UsageTotals:
        """Sums, as `UsageRepository.totals` makes them from the roll-ups, of the rows of
        `org_id` on the org-local days [start, end) that are in the stream: appended, not yet
        written by a drain (or written and not yet acknowledged). A budget counter seeded
        from the roll-ups adds these."""
        scope: dict[str, int | str | None] = {
            "user_id": user_id,
            "customer_id": customer_id,
            "request_type": request_type,
        }
        wanted = {column: value for column, value in scope.items() if value is not None}
        sums = [0] * 11  # one per roll-up measure
        for fields in self._newest(SEED_SCAN_LIMIT):
            try:
                row, day = entry_row(fields)
            except (KeyError, ValueError):
                continue  # not a ledger row: the drain moves it aside
            if row["org_id"] != org_id or not start <= day < end:
                continue
            if any(row[column] != value for column, value in wanted.items()):
                continue
            counted = measures(row["status"], *(row[m] for m in LEDGER_MEASURES))
            sums = [a + b for a, b in zip(sums, counted, strict=True)]
        return _as_totals(sums)

    def _newest(self, limit: int) -> Iterator[dict[str, str]]:
        """Entries newest first, at most `limit`, read a page at a time."""
        top, read = "+", 0
        try:
            while read < limit:
                page: Any = self.client.xrevrange(
                    self.key, max=top, min="-", count=min(SCAN_PAGE, limit - read)
                )
                if not page:
                    return
                for _, fields in page:
                    yield _unpack(fields)
                read += len(page)
                top = f"({str(page[-1][0])}"  # exclusive: older than the last one read
            if int(self.client.xlen(self.key)) > limit:
                log.error(
                    "a budget seed counted only the newest %d ledger rows of %s that the "
                    "drains have not written: budgets may count low until they catch up",
                    limit,
                    self.key,
                )
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _pending_count(self) -> int:
        """Entries taken by drains and not acknowledged (0 before any drain made the group)."""
        try:
            return int(self.client.xpending(self.key, self.group)["pending"])
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return 0

    def _read_group(
        self, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[Entry]:
        try:
            reply: Any = self.client.xreadgroup(
                self.group, consumer, {self.key: start}, count=count, block=block_ms
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise StoreUnavailable(str(exc)) from exc
            self.ensure_group()  # the stream was deleted (a Redis flush): start again
            return []
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        # An entry trimmed away while pending comes back without fields: {} (the drain acks it).
        return [(str(i), _unpack(fields)) for _, entries in reply or [] for i, fields in entries]


def _as_totals(sums: list[int]) -> UsageTotals:
    """Roll-up measures (ROLLUP_MEASURES order) as UsageTotals: one cache-write sum."""
    requests, errors, hits, inputs, outputs, write_5m, write_1h, read, cost, saved, prompt = sums
    return UsageTotals(
        requests=requests,
        errors=errors,
        cached_hits=hits,
        input_tokens=inputs,
        output_tokens=outputs,
        cache_write_tokens=write_5m + write_1h,
        cache_read_tokens=read,
        cost_micro_usd=cost,
        response_cache_saved_micro_usd=saved,
        prompt_cache_saved_micro_usd=prompt,
    )


def _packed(entry: Mapping[str, str]) -> str:
    """The value of an entry's one field: the row as compact JSON."""
    return json.dumps(entry, separators=(",", ":"))


def _unpack(fields: Mapping[str, str] | None) -> dict[str, str]:
    """The row's fields back; an entry that is not a packed row (an older release's field per
    column, or garbage) is returned as stored, for the drain to write or move aside."""
    stored = dict(fields or {})
    packed = stored.get(ROW_FIELD)
    if packed is None or len(stored) != 1:
        return stored
    try:
        row = json.loads(packed)
    except ValueError:
        return stored
    if not isinstance(row, dict) or not all(isinstance(v, str) for v in row.values()):
        return stored
    return row
