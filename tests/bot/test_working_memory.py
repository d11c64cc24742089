"""Working memory: a thread's next run is told what the last ones looked at (so a follow-up
starts from the account already found), in Redis or in-process, and a store that does not
answer costs the memory, never the answer."""

from __future__ import annotations

import pytest

from agents.memory import Seen, WorkingMemory, describe
from storage.cache.store import MemoryStore, StoreUnavailable
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import model_agents, running_stack


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def test_a_follow_up_run_is_told_what_the_thread_already_looked_at(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        first = stack.mention_envelope("what's going on with Halvorsen?")
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}),
            text_reply("Halvorsen Marine is in good shape."),
            text_reply("Their contacts are in the CRM."),
        )
        stack.sender.post_event(first)
        stack.wait_idle()
        ts = first["event"]["ts"]
        stack.sender.post_event(stack.mention_envelope("and their contacts?", thread_ts=ts))
        stack.wait_idle()
        systems = [r["system"] for r in anthropic_api.message_requests]
    text = lambda system: " ".join(b["text"] for b in system)  # noqa: E731 (cache_control blocks)
    assert "Earlier in this thread" not in text(systems[0])
    follow_up = text(systems[-1])
    assert 'search_customers {"query": "Halvorsen"}' in follow_up
    assert "customer(s) found" in follow_up


class _Down(MemoryStore):
    def get(self, key):
        raise StoreUnavailable("down")

    def set(self, key, value, *, ttl_seconds):
        raise StoreUnavailable("down")


def test_a_store_that_does_not_answer_means_no_memory_not_a_failure():
    memory = WorkingMemory(_Down(), ttl_seconds=60)
    memory.remember(1, [Seen("get_customer", {"customer_id": 3}, "Halvorsen Marine")])
    assert memory.recall(1) == []


def test_memory_keeps_the_newest_items_without_repeats(redis_store):
    memory = WorkingMemory(redis_store, ttl_seconds=60)
    a = Seen("get_customer", {"customer_id": 3}, "Halvorsen Marine")
    b = Seen("list_invoices", {"customer_id": 3}, "2 invoices")
    memory.remember(7, [a])
    memory.remember(7, [b, a])
    assert memory.recall(7) == [a, b]
    assert describe(memory.recall(8)) == ""
