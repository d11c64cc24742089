"""Anthropic failing: 429, 529, 500, a client timeout, a stream cut mid-way. The SDK retries
(and only the SDK: requests at the fake = 1 + max_retries), the drafting request still ends
in a template draft card with an honest notice, the ledger has one row per HTTP attempt,
and the budget is charged exactly what the ledger says (the hold was given back)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from agents.metering.budgets import BudgetExceeded
from agents.metering.rules import CallScope
from agents.metering.settings import CostSettings
from agents.settings import AgentSettings
from storage.models import CallStatus, LLMCall
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import (
    CutStream,
    ErrorMidStream,
    Fail,
    FakeAnthropicAPI,
    Hang,
    Step,
    text_reply,
)
from tests.stack import SALES, running_stack

RETRIES = 2
TIMEOUT = 0.5  # seconds per attempt; a Hang outlasts it
DOLLAR = 1_000_000
ONLY_AN_ORG_BUDGET = CostSettings(
    org_daily_budget_usd=1, user_daily_budget_usd=-1, monthly_quota_usd=-1
)
DRAFT_ASK = "draft a follow-up email to Halvorsen about the renewal"
HALF_A_DRAFT = "Hi Ingrid, thanks for the call about the renewal. " * 4


@dataclass(frozen=True)
class Outage:
    steps: tuple[Step, ...]
    reason: str  # what the notice and the ledger rows say


OUTAGES = {
    "429": Outage((Fail(429),) * (1 + RETRIES), "rate limited"),
    "529": Outage((Fail(529),) * (1 + RETRIES), "overloaded"),
    "500": Outage((Fail(500),) * (1 + RETRIES), "server error"),
    "timeout": Outage((Hang(seconds=TIMEOUT * 3),) * (1 + RETRIES), "timed out"),
    # A stream that broke after its 200 cannot be retried by the SDK: one attempt.
    "stream cut": Outage((CutStream(after_events=6, reply=text_reply(HALF_A_DRAFT)),), ""),
    "overloaded mid-stream": Outage(
        (ErrorMidStream(after_events=6, reply=text_reply(HALF_A_DRAFT)),), "overloaded"
    ),
}


def _agents(base_url: str) -> AgentSettings:
    return AgentSettings(
        anthropic_api_key=SecretStr("test-key"),
        anthropic_base_url=base_url,
        max_retries=RETRIES,
        timeout_seconds=TIMEOUT,
    )


def _ledger(stack) -> list[LLMCall]:
    with UnitOfWork(stack.services.factory) as uow:
        return list(uow.session.scalars(select(LLMCall).order_by(LLMCall.id)))


def _assert_charged_exactly(stack, rows: list[LLMCall]) -> None:
    """The org's day counter holds the ledger's total and nothing more: every hold was
    settled or given back once (a leaked or doubled one would leave less room)."""
    spent = sum(r.cost_micro_usd for r in rows)
    user_id = rows[0].user_id
    scope = CallScope(stack.org_id, user_id, None, "chat")
    stack.services.budgets.reserve(scope, DOLLAR - spent).release()
    with pytest.raises(BudgetExceeded):
        stack.services.budgets.reserve(scope, DOLLAR - spent + 1)


@pytest.mark.parametrize("kind", OUTAGES)
def test_an_outage_gives_bounded_retries_a_template_draft_and_an_honest_notice(tmp_path, kind):
    outage = OUTAGES[kind]
    with FakeAnthropicAPI() as anthropic_api:
        anthropic_api.script(*outage.steps)
        with running_stack(
            tmp_path, agents=_agents(anthropic_api.base_url), cost=ONLY_AN_ORG_BUDGET
        ) as stack:
            envelope = stack.mention_envelope(DRAFT_ASK)
            stack.sender.post_event(envelope)
            stack.wait_idle(timeout=30)
            thread = stack.bot_replies(SALES, envelope["event"]["ts"])
            card = stack.draft_card(envelope["event"]["ts"])
            rows = _ledger(stack)
            _assert_charged_exactly(stack, rows)
    retries = [r.headers["x-stainless-retry-count"] for r in anthropic_api.requests]
    assert retries == [str(n) for n in range(len(outage.steps))]
    assert card is not None and "Halvorsen" in json.dumps(card.blocks)
    said = json.dumps([m.blocks for m in thread]) + " ".join(m.text for m in thread)
    assert f"unavailable right now ({outage.reason or 'stream cut'})" in said
    assert "went wrong" not in said
    if not outage.reason or "mid-stream" in kind:  # half an answer was streamed first
        assert "interrupted; the answer below replaces this" in said
    assert [(r.status, r.cost_micro_usd) for r in rows] == [(CallStatus.ERROR, 0)] * len(
        outage.steps
    )
    assert {r.error for r in rows} == {outage.reason or "stream cut"}


def test_a_retry_that_succeeds_keeps_one_error_row_and_charges_only_the_answer(tmp_path):
    with FakeAnthropicAPI() as anthropic_api:
        anthropic_api.script(Fail(529), text_reply("Halvorsen Marine is in good shape."))
        with running_stack(
            tmp_path, agents=_agents(anthropic_api.base_url), cost=ONLY_AN_ORG_BUDGET
        ) as stack:
            envelope = stack.mention_envelope("what's going on with Halvorsen?")
            stack.sender.post_event(envelope)
            stack.wait_idle(timeout=30)
            thread = stack.bot_replies(SALES, envelope["event"]["ts"])
            rows = _ledger(stack)
            _assert_charged_exactly(stack, rows)
    assert len(anthropic_api.requests) == 2
    assert [(r.status, r.error) for r in rows] == [
        (CallStatus.ERROR, "overloaded"),
        (CallStatus.OK, None),
    ]
    assert rows[0].cost_micro_usd == 0 < rows[1].cost_micro_usd
    assert "in good shape" in " ".join(m.text for m in thread)


def test_on_postgres_and_redis_every_attempt_reaches_the_ledger_through_the_stream(
    tmp_path, pg_url, pg_factory, redis_url
):
    with FakeAnthropicAPI() as anthropic_api:
        anthropic_api.script(*OUTAGES["529"].steps)
        agents = _agents(anthropic_api.base_url)
        with running_stack(
            tmp_path, agents=agents, database_url=pg_url, redis_url=redis_url
        ) as stack:
            assert stack.services.ledger_drain is not None  # rows ride the Redis stream
            envelope = stack.mention_envelope(DRAFT_ASK)
            stack.sender.post_event(envelope)
            stack.wait_idle(timeout=30)
            card = stack.draft_card(envelope["event"]["ts"])
    # Closing the stack drains what the stream still held.
    with UnitOfWork(pg_factory) as uow:
        rows = list(uow.session.scalars(select(LLMCall).order_by(LLMCall.id)))
    assert card is not None
    assert [(r.status, r.error, r.cost_micro_usd) for r in rows] == [
        (CallStatus.ERROR, "overloaded", 0)
    ] * (1 + RETRIES)
    assert len({r.call_key for r in rows}) == len(rows)
