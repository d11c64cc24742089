"""Exact sliding-window rate limits: "at most N events in any W seconds" per key.

Fixed windows let a burst of 2N through across a boundary, and token buckets only
approximate; a sliding log of event times is exact, and at our volumes (a few events per
user per minute) keeping every timestamp is cheap. Redis holds the log when replicas must
share it; the embedded single-process mode keeps it in memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from storage.cache import StoreUnavailable


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one `hit`.

    `count` is the number of events in the window after this call (this one included when
    allowed). `retry_after_seconds` is 0 when allowed, else the time until the oldest event
    leaves the window: a retry then is allowed unless others took the freed slot first.
    """

    allowed: bool
    count: int
    limit: int
    retry_after_seconds: float


class RateLimiter(Protocol):
    """Per-key exact sliding window; check and record are one atomic step."""

    def hit(self, key: str, *, limit: int, window_seconds: float) -> RateDecision:
        """Drop events older than the window; record this one and allow it if fewer than
        `limit` remain, else refuse it without recording."""
        ...


def _check(limit: int, window_seconds: float) -> None:
    """Reject arguments that would make every decision meaningless."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if not window_seconds > 0:
        raise ValueError(f"window_seconds must be positive, not {window_seconds}")


class MemoryRateLimiter:
    """In-process RateLimiter for the embedded mode and tests (one process only)."""

    _SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: dict[str, tuple[deque[float], float]] = {}
        self._hits = 0

    def hit(self, key: str, *, limit: int, window_seconds: float) -> RateDecision:
        _check(limit, window_seconds)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            entry = self._events.get(key)
            events: deque[float] = entry[0] if entry else deque()
            self._events[key] = (events, window_seconds)
            while events and events[0] <= now - window_seconds:
                events.popleft()
            if len(events) < limit:
                events.append(now)
                return RateDecision(True, len(events), limit, 0.0)
            retry = events[0] + window_seconds - now
            return RateDecision(False, len(events), limit, retry)

    def _sweep(self, now: float) -> None:
        """Now and then forget keys whose every event has left its window, so a
        long-running process does not keep one deque per user it ever saw."""
        self._hits += 1
        if self._hits % self._SWEEP_EVERY:
            return
        stale = [k for k, (ev, w) in self._events.items() if not ev or ev[-1] <= now - w]
        for key in stale:
            del self._events[key]


# One round trip, atomic across processes. Redis's own clock (TIME) decides "now", so
# replicas with skewed clocks agree; the member carries a random suffix so two events in
# the same microsecond are both counted. Scores are integer microseconds (< 2^53: exact).
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now), t[1] .. '.' .. t[2] .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, count + 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, count, tonumber(oldest[2]) + window - now}
"""


class RedisRateLimiter:
    """RateLimiter on Redis: one sorted set of event times per key, one Lua script."""

    def __init__(self, client: redis.Redis, *, prefix: str = "countersign:rl:") -> None:
        self._prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "countersign:rl:") -> RedisRateLimiter:
        """A limiter on the Redis at `url`, with short timeouts so a dead Redis fails fast."""
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, prefix=prefix)

    def hit(self, key: str, *, limit: int, window_seconds: float) -> RateDecision:
        _check(limit, window_seconds)
        window_us = max(1, round(window_seconds * 1_000_000))
        try:
            allowed, count, retry_us = self._script(
                keys=[self._prefix + key], args=[limit, window_us, secrets.token_hex(8)]
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return RateDecision(bool(allowed), int(count), limit, max(0, int(retry_us)) / 1_000_000)


def rate_limiter_from_url(redis_url: str | None, *, prefix: str = "countersign:rl:") -> RateLimiter:
    """Redis when configured (limits shared by every replica), else in-process."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url, prefix=prefix)
    return MemoryRateLimiter()
