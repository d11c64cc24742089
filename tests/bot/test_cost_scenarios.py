"""Cost control through the real app: prompt caching on the wire, the response cache, a
budget that refuses before any model call, and the per-person chat rate limit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from agents.metering.settings import CostSettings
from storage.models import CallStatus, LLMCall
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import SALES, model_agents, running_stack

USAGE = {"input_tokens": 1_000, "output_tokens": 50, "cache_read_input_tokens": 4_000}


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ledger(stack) -> list[LLMCall]:
    with UnitOfWork(stack.services.factory) as uow:
        return list(uow.session.scalars(select(LLMCall).order_by(LLMCall.id)))


def _ask(stack, text: str, user: str = "U_REP1") -> str:
    envelope = stack.mention_envelope(text, user=user)
    stack.sender.post_event(envelope)
    stack.wait_idle()
    return envelope["event"]["ts"]


def _reply_text(stack, thread_ts: str) -> str:
    return " ".join(m.text for m in stack.bot_replies(SALES, thread_ts))


def test_system_prompt_and_tools_carry_cache_breakpoints(tmp_path, anthropic_api):
    def cached_prefix(request):
        assert request["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert request["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in tool for tool in request["tools"][:-1])

    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(text_reply("Halvorsen is fine.", usage=USAGE, expect=cached_prefix))
        _ask(stack, "what's going on with Halvorsen?")
        [row] = _ledger(stack)
    anthropic_api.assert_done()
    # 4 000 cache reads at $0.10 instead of $2 per MTok: 4000 × 1.9 µUSD saved
    assert row.saved_micro_usd == 7_600
    assert row.cost_micro_usd == 1_000 * 2 + 50 * 10 + 400


def test_an_identical_request_is_answered_from_cache_at_no_cost(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=USAGE),
            text_reply("*Halvorsen Marine* renewal is in negotiation.", usage=USAGE),
        )
        first = _ask(stack, "what's going on with Halvorsen?")
        second = _ask(stack, "what's going on with Halvorsen?")  # no script left: all cached
        rows = _ledger(stack)
        with UnitOfWork(stack.services.factory) as uow:
            totals = uow.usage.totals(stack.org_id, date(2000, 1, 1), date(2100, 1, 1))
        replies = _reply_text(stack, first), _reply_text(stack, second)
    anthropic_api.assert_done()
    assert [r.status for r in rows] == [CallStatus.OK] * 2 + [CallStatus.CACHED] * 2
    paid = [r.cost_micro_usd for r in rows[:2]]
    assert [r.cost_micro_usd for r in rows[2:]] == [0, 0]
    assert [r.saved_micro_usd for r in rows[2:]] == paid  # the cost each hit avoided
    assert rows[2].input_tokens == 1_000  # tokens the hit did not spend, kept for reports
    assert "renewal is in negotiation" in replies[1]
    assert totals.cached_hits == 2 and totals.response_cache_saved_micro_usd == sum(paid)
    assert totals.cost_micro_usd == sum(paid)


def test_a_budget_refuses_before_the_call_and_says_which_and_when(tmp_path, anthropic_api):
    cost = CostSettings(org_daily_budget_usd=0.001)  # less than any call's estimate
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url), cost=cost) as stack:
        thread = _ask(stack, "what's going on with Halvorsen?")
        notes = [m for m in stack.slack.ephemeral_messages(SALES) if m.ephemeral_to == "U_REP1"]
        rows = _ledger(stack)
        replies = stack.bot_replies(SALES, thread)
    anthropic_api.assert_done()  # nothing was scripted and nothing was called
    assert rows == [] and replies == []
    [note] = notes
    assert "the org's daily budget" in note.text and "$0.0010" in note.text
    assert "resets" in note.text and "Nothing was spent" in note.text


def test_the_chat_rate_limit_answers_the_asker_privately(tmp_path):
    with running_stack(tmp_path, cost=CostSettings(chat_per_minute=2)) as stack:
        answered = [_ask(stack, "how is Halvorsen?") for _ in range(2)]
        limited = _ask(stack, "how is Halvorsen?")
        other = _ask(stack, "how is Halvorsen?", user="U_REP2")  # limits are per person
        notes = [m for m in stack.slack.ephemeral_messages(SALES) if m.ephemeral_to == "U_REP1"]
        replied = [bool(stack.bot_replies(SALES, ts)) for ts in [*answered, limited, other]]
    assert replied == [True, True, False, True]
    [note] = notes
    assert "limit of 2 questions per minute" in note.text and "Try again in" in note.text
