"""Analytics end to end: a mention in #sales → triage → the analytics specialist → real tool
calls on the seeded demo CRM → the answer in the thread and a chart PNG uploaded under it
(files_upload_v2 to the Slack emulator). Once with the scripted model, once offline."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from agents.tools.analytics_common import bucket, month_start, quarter_start
from storage.models import LLMCall
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import SALES, model_agents, running_stack

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEMO_OPEN_PIPELINE = "567000.00"  # the demo CRM's nine open deals


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ask(stack, text):
    envelope = stack.mention_envelope(text)
    stack.sender.post_event(envelope)
    stack.wait_idle()
    root = envelope["event"]["ts"]
    return root, stack.bot_replies(SALES, root)


def _words(message) -> str:
    return f"{message.text} {json.dumps(message.blocks)}"


def _thread_files(stack, root):
    return [f for f in stack.slack.files if (f.channel, f.thread_ts) == (SALES, root)]


def _tool_results(request) -> list[dict]:
    return [
        json.loads(block["content"])
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]


def test_the_model_reads_the_pipeline_and_revenue_and_both_charts_land_in_the_thread(
    tmp_path, anthropic_api
):
    def analytics_tools_offered(request):
        names = {tool["name"] for tool in request["tools"]}
        assert {"pipeline_by_stage", "revenue_by_period", "win_rate"} <= names
        assert "analytics specialist" in json.dumps(request["system"])

    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("route", {"specialist": "analytics", "reason": "book-wide numbers"}),
            tool_reply("pipeline_by_stage", {}, expect=analytics_tools_offered),
            tool_reply("revenue_by_period", {"period": "month", "periods": 6}),
            text_reply("*Open pipeline: $567,000* across 9 deals; revenue is in the chart."),
        )
        root, replies = _ask(stack, "could you give me the lay of the land?")
        files = _thread_files(stack, root)
        with UnitOfWork(stack.services.factory) as uow:
            agents = [
                row.agent for row in uow.session.scalars(select(LLMCall).order_by(LLMCall.id))
            ]
    anthropic_api.assert_done()
    assert agents == ["triage", "analytics", "analytics", "analytics"]
    pipeline, revenue = _tool_results(anthropic_api.message_requests[-1])
    assert pipeline["_meta"]["open_value"] == DEMO_OPEN_PIPELINE
    assert len(revenue["periods"]) == 6
    assert "Open pipeline: $567,000" in _words(replies[0])
    assert [f.title for f in files] == ["Open pipeline by stage", "Revenue by month (booked)"]
    assert all(f.content.startswith(PNG_SIGNATURE) for f in files)


def test_a_bad_tool_input_goes_back_to_the_model_as_an_error_it_can_fix(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("route", {"specialist": "analytics", "reason": "numbers"}),
            tool_reply("win_rate", {"window": "next_week"}),
            tool_reply("win_rate", {"window": "this_quarter"}),
            text_reply("Win rate this quarter is in the numbers above."),
        )
        _ask(stack, "could you give me the lay of the land?")
    anthropic_api.assert_done()
    retry = anthropic_api.message_requests[2]["messages"][-1]["content"][0]
    assert retry["is_error"] is True and "window" in retry["content"]


def test_offline_pipeline_answer_and_chart(tmp_path):
    with running_stack(tmp_path) as stack:
        root, replies = _ask(stack, "how's the pipeline?")
        files = _thread_files(stack, root)
    text = _words(replies[0])
    assert "Open pipeline: $567,000* across 9 deals" in text
    assert "Proposal: 3 deals, $226,500 (39.9%)" in text and "Offline mode" in text
    assert [f.title for f in files] == ["Open pipeline by stage"]
    assert files[0].content.startswith(PNG_SIGNATURE)


def test_offline_revenue_by_month_covers_six_months_up_to_this_one(tmp_path):
    with running_stack(tmp_path) as stack:
        root, replies = _ask(stack, "revenue by month")
        files = _thread_files(stack, root)
    now = utcnow()
    first, this = bucket(month_start(now, 5), "month"), bucket(month_start(now), "month")
    assert f"Booked revenue, {first.label} – {this.label}" in _words(replies[0])
    assert f"{this.label} (to date)" in _words(replies[0])
    assert [f.title for f in files] == ["Revenue by month (booked)"]


def test_offline_win_rate_this_quarter_names_the_quarter(tmp_path):
    with running_stack(tmp_path) as stack:
        root, replies = _ask(stack, "win rate this quarter")
        files = _thread_files(stack, root)
    quarter = bucket(quarter_start(utcnow()), "quarter").label
    text = _words(replies[0])
    assert re.search(
        rf"(Win rate, {quarter} to date: [\d.]+%|No deals closed {quarter} to date)", text
    )
    assert files == []  # one overall rate needs no picture


def test_offline_top_customers_ranks_the_demo_accounts(tmp_path):
    with running_stack(tmp_path) as stack:
        root, replies = _ask(stack, "top customers")
        files = _thread_files(stack, root)
    text = _words(replies[0])
    assert "1. Seabright Shipyard: $46,800 (1 order" in text
    assert "2. Halvorsen Marine: $37,900" in text
    assert [f.title.split(",")[0] for f in files] == ["Top customers"]
