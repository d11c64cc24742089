"""A request's model cost has a ceiling: the run stops before the call that would go on past
it, says so, and the ledger shows no call after the stop."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage.models import LLMCall
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import SALES, model_agents, running_stack

EXPENSIVE = {"input_tokens": 8_000, "output_tokens": 500}  # $0.021 at $2 / $10 per M


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ask(stack, text):
    envelope = stack.mention_envelope(text)
    stack.sender.post_event(envelope)
    stack.wait_idle()
    return stack.bot_replies(SALES, envelope["event"]["ts"])


def test_a_run_stops_at_the_request_cost_ceiling(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, max_request_cost_usd=Decimal("0.02"))
    with running_stack(tmp_path, agents=agents) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=EXPENSIVE)
        )
        [reply] = _ask(stack, "what's going on with Halvorsen?")
        with UnitOfWork(stack.services.factory) as uow:
            calls = list(uow.session.scalars(select(LLMCall)))
    anthropic_api.assert_done()  # no second call was made
    assert len(calls) == 1 and calls[0].cost_micro_usd == 21_000
    assert "I stopped early (the cost limit for one request)." in json.dumps(reply.blocks)


def test_under_the_ceiling_the_run_goes_on(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, max_request_cost_usd=Decimal("0.05"))
    with running_stack(tmp_path, agents=agents) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=EXPENSIVE),
            text_reply("Halvorsen Marine is fine."),
        )
        [reply] = _ask(stack, "what's going on with Halvorsen?")
    anthropic_api.assert_done()
    assert "stopped early" not in json.dumps(reply.blocks)
