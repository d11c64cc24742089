"""The response cache on both stores: round trip, scope, what is not cached, outages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.metering import Usage
from agents.metering.response_cache import ResponseCache
from storage.cache import MemoryStore, RedisStore
from tests.agents.metering_fixtures import InstantModel, request


@pytest.fixture(params=["memory", "redis"], name="store")
def _store(request):
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("redis_store")


def test_a_stored_answer_comes_back_whole(store):
    cache = ResponseCache(store, ttl_seconds=60)
    asked = request()
    message = InstantModel(input_tokens=1_234, output_tokens=56).create(asked)
    key = cache.key(7, asked)
    cache.put(key, message, Usage(input_tokens=1_234, output_tokens=56), 3_028)
    hit = cache.get(key)
    assert hit is not None
    assert hit.message == message and hit.cost_micro_usd == 3_028
    assert hit.usage == Usage(input_tokens=1_234, output_tokens=56)


def test_keys_differ_by_org_and_by_anything_that_shapes_the_answer():
    asked = request()
    keys = {
        ResponseCache.key(1, asked),
        ResponseCache.key(2, asked),
        ResponseCache.key(1, request("another question")),
        ResponseCache.key(1, replace(asked, max_tokens=99)),
        ResponseCache.key(1, replace(asked, model="claude-haiku-5-5")),
        ResponseCache.key(1, replace(asked, tools=[{"name": "t", "input_schema": {}}])),
    }
    assert len(keys) == 6
    assert ResponseCache.key(1, asked) == ResponseCache.key(1, request())


def test_an_unfinished_answer_is_not_cached():
    cache = ResponseCache(MemoryStore(), ttl_seconds=60)
    message = InstantModel().create(request())
    cut = message.model_copy(update={"stop_reason": "max_tokens"})
    cache.put("k", cut, Usage(), 1)
    assert cache.get("k") is None


def test_an_unreachable_cache_is_a_miss_not_an_error():
    cache = ResponseCache(RedisStore.from_url("redis://127.0.0.1:1/0"), ttl_seconds=60)
    message = InstantModel().create(request())
    cache.put("k", message, Usage(), 1)  # logged, not raised
    assert cache.get("k") is None
