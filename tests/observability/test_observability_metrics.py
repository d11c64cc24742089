"""/metrics of the served app, scraped over HTTP after real traffic: requests and acks, model
calls with their tokens and cost, budget refusals, and the job queue."""

from __future__ import annotations

import io
import threading

import pytest
from sqlalchemy import select

from agents.metering.settings import CostSettings
from bot.emulator import slash_command
from bot.emulator.signing import EventSender
from bot.observability.wsgi import slack_kind
from bot.procrastinate_runner import ProcrastinateRunner
from bot.settings import JobSettings
from storage.db import make_engine
from storage.models import LLMCall
from storage.uow import UnitOfWork
from tests.bot.job_fixtures import job_database
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.observability.scrape import get, scrape, total, value
from tests.stack import TEAM, model_agents, running_stack

SEARCH_USAGE = {"input_tokens": 1_210, "output_tokens": 64}
ANSWER_USAGE = {
    "input_tokens": 2_987,
    "output_tokens": 233,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 1_300,
}


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _ledger(stack) -> list[LLMCall]:
    with UnitOfWork(stack.services.factory) as uow:
        return list(uow.session.scalars(select(LLMCall)))


def test_a_mention_is_counted_as_a_request_an_ack_and_metered_model_calls(tmp_path, anthropic_api):
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}, usage=SEARCH_USAGE),
            text_reply("*Halvorsen Marine* renewal is in negotiation.", usage=ANSWER_USAGE),
        )
        status, *_ = stack.sender.post_event(stack.mention_envelope("how is Halvorsen doing?"))
        stack.wait_idle()
        samples = scrape(stack.url)
        rows = _ledger(stack)
    anthropic_api.assert_done()
    assert status == 200
    events = {"route": "/slack/events"}
    assert value(samples, "countersign_http_requests_total", **events, method="POST", status="200")
    assert value(samples, "countersign_http_request_duration_seconds_count", **events) == 1
    assert value(samples, "countersign_http_request_duration_seconds_bucket", **events, le="3.0")
    assert value(samples, "countersign_slack_deliveries_total", kind="event", acked="true") == 1
    assert value(samples, "countersign_slack_ack_duration_seconds_count", kind="event") == 1
    assert len(rows) == 2
    model = rows[0].model
    assert value(
        samples, "countersign_model_calls_total", model=model, agent="customer", status="ok"
    ) == len(rows)
    tokens = {"model": model}
    assert value(samples, "countersign_model_tokens_total", **tokens, kind="input") == 1_210 + 2_987
    assert value(samples, "countersign_model_tokens_total", **tokens, kind="output") == 64 + 233
    assert value(samples, "countersign_model_tokens_total", **tokens, kind="cache_read") == 1_300
    assert value(samples, "countersign_model_tokens_total", **tokens, kind="cache_write") == 300
    cost = value(samples, "countersign_model_cost_micro_usd_total", model=model)
    assert cost == sum(r.cost_micro_usd for r in rows) > 0
    assert value(samples, "countersign_model_call_duration_seconds_count", model=model) == 2
    assert value(samples, "countersign_job_queue_depth", status="todo") == 0
    assert value(samples, "countersign_job_queue_depth", status="doing") == 0
    assert total(samples, "process_resident_memory_bytes") > 0


def test_a_budget_refusal_is_counted_by_the_kind_of_budget(tmp_path, anthropic_api):
    cost = CostSettings(org_daily_budget_usd=0.001)  # less than any call's estimate
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url), cost=cost) as stack:
        stack.sender.post_event(stack.mention_envelope("how is Halvorsen doing?"))
        stack.wait_idle()
        samples = scrape(stack.url)
    anthropic_api.assert_done()  # refused before any call
    org_day = {"scope": "org", "period": "day", "metric": "cost"}
    assert value(samples, "countersign_budget_blocks_total", **org_day) == 1
    assert total(samples, "countersign_model_calls_total") == 0


def test_commands_and_refused_deliveries_are_told_apart(tmp_path):
    with running_stack(tmp_path) as stack:
        command = slash_command(
            TEAM, "C_SALES", "U_ADMIN1", "/ai-cost", "", emulator_url=stack.slack.base_url
        )
        command_status, *_ = stack.sender.post_form(command)
        forged = EventSender(stack.url, "not-the-signing-secret")
        forged_status, *_ = forged.post_event(stack.mention_envelope("hello"))
        stack.wait_idle()
        samples = scrape(stack.url)
    assert (command_status, forged_status) == (200, 401)
    assert value(samples, "countersign_slack_deliveries_total", kind="command", acked="true") == 1
    assert value(samples, "countersign_slack_deliveries_total", kind="event", acked="false") == 1
    assert (
        value(
            samples,
            "countersign_http_requests_total",
            route="/slack/events",
            method="POST",
            status="401",
        )
        == 1
    )


def test_unknown_paths_share_one_label(tmp_path):
    with running_stack(tmp_path) as stack:
        statuses = [get(stack.url + path)[0] for path in ("/wp-login.php", "/.env", "/admin")]
        samples = scrape(stack.url)
    assert statuses == [404] * 3
    other = {"route": "other", "method": "GET", "status": "404"}
    assert value(samples, "countersign_http_requests_total", **other) == 3
    assert not any(dict(labels).get("route") == "/admin" for (_name, labels) in samples)


def test_slack_kind_reads_the_form_and_leaves_the_body_for_the_app():
    def environ(body: bytes, content_type: str) -> dict:
        return {
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }

    form = "application/x-www-form-urlencoded"
    interactive = environ(b"payload=%7B%22type%22%3A%22block_actions%22%7D", form)
    assert slack_kind(interactive) == "action"
    assert interactive["wsgi.input"].read() == b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    # A command whose text mentions "payload=" is still a command: the text is encoded.
    command = environ(b"token=x&command=%2Fai&text=payload%3D1", form)
    assert slack_kind(command) == "command"
    assert slack_kind(environ(b'{"type": "event_callback"}', "application/json")) == "event"
    assert slack_kind(environ(b"", form)) == "other"


def test_the_queue_depth_shows_jobs_waiting_and_running_in_process(tmp_path):
    release = threading.Event()
    with running_stack(tmp_path) as stack:  # four job threads
        runner = stack.services.runner
        runner.register("hold", lambda _payload: release.wait(10))
        for _ in range(6):
            runner.defer("hold", {})
        try:
            samples = _scrape_when(stack.url, lambda s: _depth(s, "doing") == 4)
        finally:
            release.set()
        stack.wait_idle()
        after = scrape(stack.url)
    assert (_depth(samples, "todo"), _depth(samples, "doing")) == (2, 4)
    assert (_depth(after, "todo"), _depth(after, "doing")) == (0, 0)


def _depth(samples, status: str) -> float:
    return value(samples, "countersign_job_queue_depth", status=status)


def _scrape_when(url, ready, attempts: int = 200):
    """Scrape until the pool has picked its jobs up (thread start-up is not instant)."""
    for _ in range(attempts):
        samples = scrape(url)
        if ready(samples):
            return samples
        threading.Event().wait(0.02)
    return samples


@pytest.mark.postgres
def test_the_queue_depth_counts_jobs_waiting_in_postgres(pg_url):
    with job_database() as url:
        engine = make_engine(url)
        try:
            runner = ProcrastinateRunner(engine=engine, database_url=url, settings=JobSettings())
            runner.register("later", lambda _payload: None)
            assert runner.pending() == {"todo": 0, "doing": 0}
            for n in range(3):
                runner.defer("later", {"n": n})
            assert runner.pending() == {"todo": 3, "doing": 0}
        finally:
            engine.dispose()
