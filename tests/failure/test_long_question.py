"""A question longer than COUNTERSIGN_MAX_QUESTION_CHARS is refused before triage and before
any model call, and the asker is told the limit; one at the limit goes through whole."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.emulator import slash_command
from storage.models import LLMCall, Message
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply
from tests.stack import SALES, TEAM, model_agents, running_stack

SLACK_MAX_MESSAGE = 40_000  # the longest text Slack delivers in one message


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _question(length: int) -> str:
    opening = "what's going on with Halvorsen? "
    filler = "Here is more of the email thread I pasted. " * (length // 40 + 1)
    return (opening + filler)[: length - 1] + "?"  # no trailing space: Slack trims those


def _count(stack, model) -> int:
    with UnitOfWork(stack.services.factory) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_40k_character_message_is_refused_before_any_model_call(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        envelope = stack.mention_envelope(_question(SLACK_MAX_MESSAGE))
        status = stack.sender.post_event(envelope)[0]
        stack.wait_idle()
        told = stack.slack.ephemeral_messages(SALES)
        public = stack.bot_replies(SALES, envelope["event"]["ts"])
        ledger_rows, stored_messages = _count(stack, LLMCall), _count(stack, Message)
    assert status == 200
    assert anthropic_api.requests == []  # no triage call, no specialist call
    assert (ledger_rows, stored_messages) == (0, 0)  # nothing spent, nothing kept
    assert public == []  # only the asker is told
    assert len(told) == 1 and told[0].ephemeral_to == "U_REP1"
    assert "up to 8,000 characters" in told[0].text
    assert "40,0" in told[0].text  # its own length, so the rep sees how far over it is


def test_a_question_at_the_limit_reaches_the_model_uncut(tmp_path, anthropic_api):
    question = _question(8_000)

    def whole_question(request):
        assert request["messages"][-1]["content"] == question

    anthropic_api.script(text_reply("Halvorsen is healthy.", expect=whole_question))
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        envelope = stack.mention_envelope(question)
        stack.sender.post_event(envelope)
        stack.wait_idle()
        replies = stack.bot_replies(SALES, envelope["event"]["ts"])
    assert [r.text for r in replies][-1:] and "Halvorsen is healthy." in replies[-1].text


def test_a_too_long_ai_command_is_refused_in_its_ack_and_never_posted(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        body = slash_command(
            TEAM, SALES, "U_REP1", "/ai", _question(20_000), emulator_url=stack.slack.base_url
        )
        status, _, ack_text, _ = stack.sender.post_form(body)
        stack.wait_idle()
        posted = stack.slack.calls_to("chat.postMessage")
    assert status == 200 and "up to 8,000 characters" in ack_text
    assert posted == []  # the question is not put up as a public thread root
    assert anthropic_api.requests == []
