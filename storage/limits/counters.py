"""Budget counters: reserve amounts against several limits at once, all or nothing.

Hand-written because no library offers a multi-key conditional increment; on Redis it is one
Lua script (atomic across every replica), in-process it is a lock. A counter that is missing
(new window, expired, or Redis restarted) is seeded by the caller from the ledger's roll-ups
plus `unwritten`: the rows still in the write-behind ledger stream, which the roll-ups do not
have yet. So Redis only ever holds a cache of the truth plus the reservations in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, Protocol

import redis

from storage.cache import StoreUnavailable
from storage.limits.ledger_stream import LedgerStream, database_tag
from storage.repositories.usage import UsageTotals

UNLIMITED = -1
SEED_TTL_SECONDS = 900  # a counter is re-seeded from the ledger at least this often


@dataclass(frozen=True)
class Charge:
    """Add `amount` to the counter `key` unless that takes it past `limit` (-1: no limit)."""

    key: str
    amount: int
    limit: int


@dataclass(frozen=True)
class Reserved:
    """The outcome: every counter after the charge, or which one refused and its value."""

    ok: bool
    values: tuple[int, ...] = ()
    refused: int | None = None  # index into the charges
    used: int = 0  # the refusing counter's value before the charge


class Counters(Protocol):
    """Atomic multi-counter reservations."""

    def reserve(self, charges: Sequence[Charge], seed: Callable[[int], int]) -> Reserved:
        """Apply every charge or none; `seed(i)` gives the starting value of a missing key."""
        ...

    def adjust(
        self, deltas: Sequence[tuple[str, int]], *, ledger: Mapping[str, str] | None = None
    ) -> None:
        """Settle or release: add each delta to its counter if the counter still exists;
        with `ledger`, append that ledger row to the write-behind stream in the same atomic
        step (only counters built with a stream can)."""
        ...

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
        """Spend in the ledger stream that the roll-ups do not have yet, summed as
        `UsageRepository.totals` sums them (zero without a stream)."""
        ...


class MemoryCounters:
    """Counters for the embedded single-process mode."""

    def __init__(self, *, seed_ttl: float = SEED_TTL_SECONDS) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, float]] = {}
        self._ttl = seed_ttl

    def reserve(self, charges: Sequence[Charge], seed: Callable[[int], int]) -> Reserved:
        with self._lock:
            now = time.monotonic()
            values = [self._value(c.key, now, partial(seed, i)) for i, c in enumerate(charges)]
            for i, (charge, value) in enumerate(zip(charges, values, strict=True)):
                if charge.limit != UNLIMITED and value + charge.amount > charge.limit:
                    return Reserved(ok=False, refused=i, used=value)
            after = []
            for charge, value in zip(charges, values, strict=True):
                expires = self._values[charge.key][1]
                self._values[charge.key] = (value + charge.amount, expires)
                after.append(value + charge.amount)
            return Reserved(ok=True, values=tuple(after))

    def adjust(
        self, deltas: Sequence[tuple[str, int]], *, ledger: Mapping[str, str] | None = None
    ) -> None:
        if ledger is not None:
            raise ValueError("in-process counters have no ledger stream: write the row directly")
        with self._lock:
            now = time.monotonic()
            for key, delta in deltas:
                entry = self._values.get(key)
                if entry is not None and entry[1] > now:
                    self._values[key] = (entry[0] + delta, entry[1])

    def unwritten(self, org_id: int, start: date, end: date, **scope: Any) -> UsageTotals:  # noqa: ARG002
        return UsageTotals()  # embedded: every row is written on the call

    def _value(self, key: str, now: float, seed: Callable[[], int]) -> int:
        entry = self._values.get(key)
        if entry is None or entry[1] <= now:
            entry = (seed(), now + self._ttl)
            self._values[key] = entry
        return entry[0]


# KEYS: counters. ARGV: ttl, then n amounts, n limits, n seeds ("" = not known yet).
_RESERVE = """
local n = #KEYS
local ttl = tonumber(ARGV[1])
local values, missing = {}, {}
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if not v then
    local seed = ARGV[1 + 2 * n + i]
    if seed == '' then
      table.insert(missing, i)
    else
      redis.call('SET', KEYS[i], seed, 'EX', ttl)
      v = seed
    end
  end
  values[i] = tonumber(v)
end
if #missing > 0 then return {'seed', missing} end
for i = 1, n do
  local limit = tonumber(ARGV[1 + n + i])
  if limit >= 0 and values[i] + tonumber(ARGV[1 + i]) > limit then
    return {'over', i, values[i]}
  end
end
local after = {}
for i = 1, n do after[i] = redis.call('INCRBY', KEYS[i], ARGV[1 + i]) end
return {'ok', after}
"""

# KEYS: counters, ARGV: deltas. A counter that expired is left alone: its re-seed is exact.
_ADJUST = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i]) end
end
return 1
"""


class RedisCounters:
    """Counters on Redis, shared by every process."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "countersign:budget:",
        seed_ttl: int = SEED_TTL_SECONDS,
        ledger: LedgerStream | None = None,
    ) -> None:
        self._prefix = prefix
        self.ledger = ledger
        self._ttl = seed_ttl
        self._reserve = client.register_script(_RESERVE)
        self._adjust = client.register_script(_ADJUST)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "countersign:budget:",
        ledger: LedgerStream | None = None,
    ) -> RedisCounters:
        """Short timeouts: a dead Redis must fail fast so the fallback can answer."""
        client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True
        )
        return cls(client, prefix=prefix, ledger=ledger)

    def reserve(self, charges: Sequence[Charge], seed: Callable[[int], int]) -> Reserved:
        seeds = [""] * len(charges)
        for _ in range(2):
            reply = self._call_reserve(charges, seeds)
            if reply[0] == "ok":
                return Reserved(ok=True, values=tuple(int(v) for v in reply[1]))
            if reply[0] == "over":
                return Reserved(ok=False, refused=int(reply[1]) - 1, used=int(reply[2]))
            for index in reply[1]:  # 'seed': these counters need their ledger totals
                seeds[int(index) - 1] = str(seed(int(index) - 1))
        raise StoreUnavailable("budget counters could not be seeded")

    def adjust(
        self, deltas: Sequence[tuple[str, int]], *, ledger: Mapping[str, str] | None = None
    ) -> None:
        if ledger is not None:
            if self.ledger is None:
                raise ValueError("these counters were built without a ledger stream")
            self.ledger.append(ledger, [(self._prefix + k, d) for k, d in deltas])
            return
        if not deltas:
            return
        try:
            self._adjust(keys=[self._prefix + k for k, _ in deltas], args=[d for _, d in deltas])
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def unwritten(self, org_id: int, start: date, end: date, **scope: Any) -> UsageTotals:
        if self.ledger is None:
            return UsageTotals()  # direct mode: every row is written on the call
        return self.ledger.unwritten(org_id, start, end, **scope)

    def _call_reserve(self, charges: Sequence[Charge], seeds: list[str]) -> list[Any]:
        args: list[Any] = [self._ttl]
        args += [c.amount for c in charges] + [c.limit for c in charges] + seeds
        try:
            reply = self._reserve(keys=[self._prefix + c.key for c in charges], args=args)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return list(reply)


def counters_from_url(
    redis_url: str | None, *, ledger: LedgerStream | None = None, database_url: str | None = None
) -> Counters:
    """Redis when configured (settling with the ledger `ledger` when given), else in-process.
    Keys are per database: deployments or test runs sharing a Redis never share budgets."""
    if not redis_url:
        return MemoryCounters()
    tag = f"{database_tag(database_url)}:" if database_url else ""
    return RedisCounters.from_url(redis_url, ledger=ledger, prefix=f"countersign:budget:{tag}")
