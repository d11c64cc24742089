"""The claim store behind dedup and locks, in-process and on Redis."""

import threading
import time

import pytest

from storage.cache import MemoryStore, RedisStore, StoreUnavailable


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("redis_store")


def test_only_one_of_many_concurrent_claims_wins(store):
    start = threading.Barrier(20)
    wins = []

    def contend(n):
        start.wait()
        if store.claim("delivery", f"worker-{n}", ttl_seconds=30):
            wins.append(n)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert store.get("delivery") == f"worker-{wins[0]}"


def test_a_claim_expires_after_its_ttl(store):
    assert store.claim("short", "a", ttl_seconds=0.2)
    time.sleep(0.35)
    assert store.get("short") is None
    assert store.claim("short", "b", ttl_seconds=5)


def test_a_released_claim_can_be_taken_again(store):
    assert store.claim("k", "a", ttl_seconds=30)
    store.delete("k")
    assert store.claim("k", "b", ttl_seconds=30)


def test_an_unreachable_redis_raises_store_unavailable_quickly():
    dead = RedisStore.from_url("redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        dead.claim("k", "v", ttl_seconds=1)
    assert not dead.ping()
    assert time.monotonic() - started < 5
