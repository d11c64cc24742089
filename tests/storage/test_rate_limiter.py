"""The exact sliding-window rate limiter, in-process and on Redis."""

import threading
import time
import uuid

import pytest
import redis

from storage.cache import StoreUnavailable
from storage.limits import (
    MemoryRateLimiter,
    RateDecision,
    RedisRateLimiter,
    rate_limiter_from_url,
)


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"cs-test-rl:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def timed(request):
    """A limiter and a way to let time pass: a fake clock in memory, real sleep on Redis."""
    if request.param == "memory":
        clock = FakeClock()
        return MemoryRateLimiter(clock=clock), clock.advance
    prefix = request.getfixturevalue("redis_prefix")
    return RedisRateLimiter.from_url(request.getfixturevalue("redis_url"), prefix=prefix), (
        time.sleep
    )


def test_exactly_limit_hits_are_allowed_then_the_next_is_refused(timed):
    limiter, _ = timed
    decisions = [limiter.hit("u1", limit=3, window_seconds=30) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 3]
    assert all(d.limit == 3 for d in decisions)
    assert all(d.retry_after_seconds == 0 for d in decisions[:3])
    assert 29 < decisions[3].retry_after_seconds <= 30


def test_a_refused_hit_is_not_recorded_and_retry_after_is_when_one_slot_frees(timed):
    limiter, wait = timed
    window = 0.6
    assert limiter.hit("u1", limit=3, window_seconds=window).allowed
    wait(0.3)
    assert limiter.hit("u1", limit=3, window_seconds=window).allowed
    assert limiter.hit("u1", limit=3, window_seconds=window).allowed
    refused = limiter.hit("u1", limit=3, window_seconds=window)
    assert not refused.allowed
    assert 0 < refused.retry_after_seconds <= 0.3 + 1e-6

    wait(refused.retry_after_seconds + 0.01)
    after = limiter.hit("u1", limit=3, window_seconds=window)
    assert after.allowed and after.count == 3
    assert not limiter.hit("u1", limit=3, window_seconds=window).allowed


def test_keys_are_limited_independently(timed):
    limiter, _ = timed
    assert limiter.hit("alice", limit=1, window_seconds=30).allowed
    assert not limiter.hit("alice", limit=1, window_seconds=30).allowed
    bob = limiter.hit("bob", limit=1, window_seconds=30)
    assert bob.allowed and bob.count == 1


def test_every_event_expires_once_the_whole_window_has_passed(timed):
    limiter, wait = timed
    for _ in range(2):
        limiter.hit("u1", limit=2, window_seconds=0.3)
    wait(0.35)
    assert [limiter.hit("u1", limit=2, window_seconds=0.3).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_the_window_boundary_is_exact_to_the_instant():
    clock = FakeClock(now=0.0)
    limiter = MemoryRateLimiter(clock=clock)
    for at in (0.0, 1.0, 2.0):
        clock.now = at
        assert limiter.hit("k", limit=3, window_seconds=10).allowed

    clock.now = 4.5
    refused = limiter.hit("k", limit=3, window_seconds=10)
    assert refused == RateDecision(allowed=False, count=3, limit=3, retry_after_seconds=5.5)

    clock.now = 10.0 - 1e-9
    assert not limiter.hit("k", limit=3, window_seconds=10).allowed
    clock.now = 10.0  # the event at 0.0 is now exactly one window old: it has left
    assert limiter.hit("k", limit=3, window_seconds=10) == RateDecision(True, 3, 3, 0.0)
    clock.now = 10.5
    assert limiter.hit("k", limit=3, window_seconds=10).retry_after_seconds == pytest.approx(0.5)


def test_forgetting_idle_keys_keeps_the_ones_still_in_their_window():
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    assert limiter.hit("live", limit=1, window_seconds=100).allowed
    for n in range(2100):  # enough hits to trigger the periodic sweep twice
        limiter.hit(f"idle-{n}", limit=1, window_seconds=0.001)
        clock.advance(0.01)
    assert not limiter.hit("live", limit=1, window_seconds=100).allowed
    assert limiter.hit("idle-0", limit=1, window_seconds=0.001).allowed


@pytest.mark.parametrize("limit, window", [(0, 1.0), (-1, 1.0), (1, 0.0), (1, -5.0)])
def test_a_meaningless_limit_or_window_is_rejected(limit, window):
    with pytest.raises(ValueError):
        MemoryRateLimiter().hit("k", limit=limit, window_seconds=window)


def _hammer(limiter_for, *, threads=8, hits=10, limit=25):
    start = threading.Barrier(threads)
    allowed = []

    def worker(n):
        limiter = limiter_for(n)
        start.wait()
        for _ in range(hits):
            if limiter.hit("shared", limit=limit, window_seconds=30).allowed:
                allowed.append(n)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return allowed


def test_concurrent_hits_in_memory_allow_exactly_the_limit():
    limiter = MemoryRateLimiter()
    assert len(_hammer(lambda n: limiter)) == 25


@pytest.mark.redis
def test_concurrent_hits_from_separate_clients_allow_exactly_the_limit(redis_url, redis_prefix):
    # Two limiters with their own connections stand in for two replicas.
    limiters = [RedisRateLimiter.from_url(redis_url, prefix=redis_prefix) for _ in range(2)]
    assert len(_hammer(lambda n: limiters[n % 2])) == 25

    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}shared"
    assert client.zcard(key) == 25  # every event kept its own member
    assert 0 < client.pttl(key) <= 30_000  # and the key goes away with its window
    client.close()


def test_an_unreachable_redis_raises_store_unavailable_quickly():
    dead = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        dead.hit("k", limit=1, window_seconds=1)
    assert time.monotonic() - started < 5


def test_the_factory_picks_redis_only_when_configured():
    assert isinstance(rate_limiter_from_url(None), MemoryRateLimiter)
    assert isinstance(rate_limiter_from_url(""), MemoryRateLimiter)
    assert isinstance(rate_limiter_from_url("redis://127.0.0.1:1/0"), RedisRateLimiter)
