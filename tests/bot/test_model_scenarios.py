"""With a model configured: the official SDK against the local Messages API fake."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from storage.models import CallStatus, LLMCall
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import Fail, FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import SALES, model_agents, running_stack

USAGE_1 = {
    "input_tokens": 1_210,
    "output_tokens": 64,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
USAGE_2 = {
    "input_tokens": 1_530,
    "output_tokens": 41,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 1_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 100},
}
USAGE_3 = {
    "input_tokens": 2_987,
    "output_tokens": 233,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1_300,
}


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ledger(stack) -> list[LLMCall]:
    with UnitOfWork(stack.services.factory) as uow:
        return list(uow.session.scalars(select(LLMCall).order_by(LLMCall.id)))


def _halvorsen_id(stack) -> int:
    with UnitOfWork(stack.services.factory) as uow:
        return next(c.id for c in uow.crm.all_customers(stack.org_id) if "Halvorsen" in c.name)


def test_ledger_rows_carry_the_reported_tokens_and_exact_cost(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        customer_id = _halvorsen_id(stack)
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=USAGE_1),
            tool_reply("get_customer", {"customer_id": customer_id}, usage=USAGE_2),
            text_reply("*Halvorsen Marine* renewal is in negotiation.", usage=USAGE_3),
        )
        stack.sender.post_event(stack.mention_envelope("what's going on with Halvorsen?"))
        stack.wait_idle()
        rows = _ledger(stack)
    anthropic_api.assert_done()
    assert [(r.input_tokens, r.output_tokens) for r in rows] == [
        (1210, 64),
        (1530, 41),
        (2987, 233),
    ]
    second = rows[1]
    assert (second.cache_write_5m_tokens, second.cache_write_1h_tokens) == (200, 100)
    assert second.cache_read_tokens == 1_000
    # claude-sonnet-5-5 now: 2 in, 10 out, 2.50 5m-write, 4 1h-write, 0.10 read (µUSD/token)
    assert rows[0].cost_micro_usd == 1210 * 2 + 64 * 10
    assert second.cost_micro_usd == 1530 * 2 + 41 * 10 + 200 * 2.5 + 100 * 4 + 1000 * 0.1
    assert rows[2].cost_micro_usd == 2987 * 2 + 233 * 10 + 130
    assert {r.agent for r in rows} == {"customer"}
    assert all(r.status == CallStatus.OK and r.org_id == stack.org_id for r in rows)
    assert rows[1].customer_id is None and rows[2].customer_id == customer_id
    assert rows[2].prompt_version == "customer@1" and rows[2].route == "customer"


def test_the_reply_shows_model_tokens_and_cost(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(text_reply("Hello! Ask me about a customer.", usage=USAGE_1))
        envelope = stack.mention_envelope("thanks")
        stack.sender.post_event(envelope)
        stack.wait_idle()
        reply = stack.bot_replies(SALES, envelope["event"]["ts"])[0]
    context = json.dumps(reply.blocks)
    assert "claude-sonnet-5-5" in context and "1,274 tokens" in context and "$0.0031" in context


def test_an_unsure_request_is_routed_by_one_forced_tool_call(tmp_path, anthropic_api):
    def forced_route(request):
        assert request["tool_choice"] == {"type": "tool", "name": "route"}
        assert request["model"] == "claude-haiku-5-5"

    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply(
                "route",
                {"specialist": "help", "reason": "asks about the bot"},
                usage=USAGE_1,
                expect=forced_route,
            ),
            text_reply("I can look up customers for you.", usage=USAGE_1),
        )
        stack.sender.post_event(stack.mention_envelope("could you explain your features"))
        stack.wait_idle()
        rows = _ledger(stack)
    anthropic_api.assert_done()
    assert [(r.agent, r.model) for r in rows] == [
        ("triage", "claude-haiku-5-5"),
        ("help", "claude-sonnet-5-5"),
    ]
    assert rows[0].cost_micro_usd == round(1210 * 0.10 + 64 * 0.50)


def test_model_outage_gives_an_offline_answer_an_honest_notice_and_an_error_row(
    tmp_path, anthropic_api
):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(Fail(status=529))
        envelope = stack.mention_envelope("what's going on with Halvorsen?")
        stack.sender.post_event(envelope)
        stack.wait_idle()
        reply = stack.bot_replies(SALES, envelope["event"]["ts"])[0]
        rows = _ledger(stack)
    blocks = json.dumps(reply.blocks)
    assert "unavailable right now (overloaded)" in blocks
    assert "Halvorsen Marine" in blocks and "Offline mode" in blocks
    assert [(r.status, r.cost_micro_usd, r.error) for r in rows] == [
        (CallStatus.ERROR, 0, "overloaded")
    ]


def test_an_unpriced_model_is_refused_before_any_call(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, specialist_model="claude-imaginary-9")
    with running_stack(tmp_path, agents=agents) as stack:
        envelope = stack.mention_envelope("what's going on with Halvorsen?")
        stack.sender.post_event(envelope)
        stack.wait_idle()
        reply = stack.bot_replies(SALES, envelope["event"]["ts"])[0]
        rows = _ledger(stack)
    assert anthropic_api.requests == []
    assert rows == []
    assert "went wrong" in reply.text


def test_a_thread_follow_up_sends_the_stored_history_to_the_model(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            text_reply("Halvorsen is healthy.", usage=USAGE_1),
            text_reply("Ingrid Halvorsen runs operations.", usage=USAGE_1),
        )
        first = stack.mention_envelope("what's going on with Halvorsen?")
        stack.sender.post_event(first)
        stack.wait_idle()
        root = first["event"]["ts"]
        stack.sender.post_event(stack.mention_envelope("who should I call there?", thread_ts=root))
        stack.wait_idle()
    second = anthropic_api.message_requests[-1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[0]["content"] == "what's going on with Halvorsen?"
    assert second[1]["content"] == "Halvorsen is healthy."
