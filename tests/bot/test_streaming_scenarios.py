"""Answers stream into their thread: the SDK streams from the Messages API fake (SSE) and the
bot streams into the Slack emulator (chat.startStream / appendStream / stopStream); where
streaming is refused, a placeholder is updated instead. Streamed text is sanitised."""

from __future__ import annotations

import json

import pytest

from bot.reply_stream import SafeChunker
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import SALES, model_agents, running_stack

LONG_ANSWER = (
    "*Halvorsen Marine* is in good shape: the renewal is in negotiation, the last order was "
    "three weeks ago and there are no overdue invoices. Next step: confirm the renewal terms "
    "with their procurement lead before Friday, and offer the service bundle they asked about."
)


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ask(stack, text):
    envelope = stack.mention_envelope(text)
    assert stack.sender.post_event(envelope)[0] == 200
    stack.wait_idle()
    return stack.bot_replies(SALES, envelope["event"]["ts"])


def _calls(stack, method):
    return [c.params for c in stack.slack.calls_to(method)]


def test_an_answer_streams_into_its_thread_and_ends_with_cost_and_feedback(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}),
            text_reply(LONG_ANSWER),
        )
        replies = _ask(stack, "what's going on with Halvorsen?")
        starts, appends = _calls(stack, "chat.startStream"), _calls(stack, "chat.appendStream")
        stops = _calls(stack, "chat.stopStream")
        posted = _calls(stack, "chat.postMessage")
        streamed_requests = [r.get("stream") for r in anthropic_api.message_requests]
    assert streamed_requests == [True, True]  # both specialist turns streamed from the model
    assert len(starts) == 1 and len(stops) == 1 and len(appends) >= 1
    assert starts[0]["recipient_user_id"] == "U_REP1" and starts[0]["thread_ts"]
    [answer] = replies
    assert " ".join(answer.text.split()) == " ".join(LONG_ANSWER.split())
    footer = json.dumps(answer.blocks)
    assert "claude-sonnet-5-5" in footer and "feedback_up" in footer
    assert posted == []  # nothing was posted the old way


def test_where_streaming_is_refused_a_placeholder_is_updated(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        stack.slack.fail_next("chat.startStream", error="not_allowed", status=200, times=5)
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}), text_reply(LONG_ANSWER)
        )
        replies = _ask(stack, "what's going on with Halvorsen?")
        updates = _calls(stack, "chat.update")
    [answer] = replies
    assert answer.edited and updates
    text = " ".join(b["text"]["text"] for b in answer.blocks if b["type"] == "section")
    assert " ".join(text.split()) == " ".join(LONG_ANSWER.split())
    assert "claude-sonnet-5-5" in json.dumps(answer.blocks)


def test_streamed_text_pings_nobody(tmp_path, anthropic_api):
    risky = "Heads up <!channel> and <!here|here>: the renewal slipped. " * 3
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}), text_reply(risky)
        )
        [answer] = _ask(stack, "what's going on with Halvorsen?")
    assert "<!channel>" not in answer.text and "<!here" not in answer.text
    assert "`@channel`" in answer.text and "`@here`" in answer.text


def test_streaming_can_be_turned_off(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, stream_replies=False)
    with running_stack(tmp_path, agents=agents) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}), text_reply(LONG_ANSWER)
        )
        _ask(stack, "what's going on with Halvorsen?")
        starts = _calls(stack, "chat.startStream")
        streamed_requests = [r.get("stream") for r in anthropic_api.message_requests]
    assert starts == [] and not any(streamed_requests)


@pytest.mark.parametrize(
    ("deltas", "shown_before_rest"),
    [
        (["Heads up <!chan", "nel> now ", "please"], "Heads up `@channel` now "),
        (["see <https://x.io|the ", "doc> ok "], "see the doc (https://x.io) ok "),
        (["no-spaces-yet"], ""),
    ],
)
def test_the_chunker_never_splits_a_ping_or_a_link(deltas, shown_before_rest):
    chunker = SafeChunker()
    shown = "".join(chunker.feed(d) for d in deltas)
    assert shown == shown_before_rest
    assert "<" not in shown + chunker.rest() or deltas == ["no-spaces-yet"]


def test_streamed_placeholders_are_restored_and_the_model_never_sees_the_address(
    tmp_path, anthropic_api
):
    reply = "Sure — I will write to <EMAIL_1> about the renewal, and copy nobody else in. Done."
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}), text_reply(reply)
        )
        [answer] = _ask(stack, "what's going on with Halvorsen? reach ingrid.berg@halvorsen.no")
        sent = json.dumps(anthropic_api.message_requests)
    assert "ingrid.berg@halvorsen.no" not in sent and "<EMAIL_1>" in sent
    assert "write to ingrid.berg@halvorsen.no about the renewal" in answer.text
    assert "<EMAIL_1>" not in answer.text
