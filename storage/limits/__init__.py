"""Rate limits and budget counters behind one interface each: Redis shared by replicas, or
in-process."""

from storage.limits.counters import (
    UNLIMITED,
    Charge,
    Counters,
    MemoryCounters,
    RedisCounters,
    Reserved,
    counters_from_url,
)
from storage.limits.ledger_stream import Backlog, Entry, LedgerStream, stream_key
from storage.limits.ratelimit import (
    MemoryRateLimiter,
    RateDecision,
    RateLimiter,
    RedisRateLimiter,
    rate_limiter_from_url,
)

__all__ = [
    "UNLIMITED",
    "Backlog",
    "Entry",
    "LedgerStream",
    "Charge",
    "Counters",
    "MemoryCounters",
    "RedisCounters",
    "Reserved",
    "counters_from_url",
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "rate_limiter_from_url",
    "stream_key",
]
