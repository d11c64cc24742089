"""JSON logs at INFO: a request id on what a request and its jobs log, no secrets, and none of
what people wrote (the question, the answer, job payloads)."""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from agents.privacy.logs import install_log_redaction
from agents.privacy.settings import PrivacySettings
from agents.settings import AgentSettings
from bot.observability.bolt_middleware import request_id_middleware
from bot.observability.logs import log_handler
from bot.observability.request_ids import current_request_id, request_id_bound
from bot.observability.settings import ObservabilitySettings
from bot.procrastinate_runner import ProcrastinateRunner
from bot.runner import InProcessRunner
from bot.settings import JobSettings
from storage.db import make_engine
from tests.bot.job_fixtures import job_database
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply
from tests.stack import running_stack

QUESTION_WORDS = "zephyr-lantern-4417"
ANSWER_WORDS = "quartz-heron-2290"


@contextmanager
def json_logs(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What production writes (COUNTERSIGN_LOG_FORMAT=json at INFO), captured."""
    handler = log_handler(ObservabilitySettings(log_format="json"))
    buffer = io.StringIO()
    handler.setStream(buffer)
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def _records(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]  # every line is JSON


def test_a_mention_logs_json_lines_with_its_request_id_and_nothing_it_must_not(tmp_path):
    api_key = "sk-ant-test-" + secrets.token_hex(12)
    with FakeAnthropicAPI() as api:
        agents = AgentSettings(
            anthropic_api_key=SecretStr(api_key),
            anthropic_base_url=api.base_url,
            max_retries=0,
            timeout_seconds=10,
        )
        with running_stack(tmp_path, agents=agents) as stack, json_logs() as buffer:
            api.script(text_reply(f"Halvorsen: renewal on track ({ANSWER_WORDS})."))
            envelope = stack.mention_envelope(f"how is Halvorsen doing? {QUESTION_WORDS}")
            status, headers, *_ = stack.sender.post_event(envelope)
            stack.wait_idle()
            slack = stack.settings.slack
            must_not_appear = [
                QUESTION_WORDS,
                ANSWER_WORDS,
                api_key,
                slack.bot_token.get_secret_value(),
                slack.signing_secret.get_secret_value(),
            ]
        api.assert_done()
    assert status == 200
    text = buffer.getvalue()
    assert [word for word in must_not_appear if word in text] == []
    records = _records(buffer)
    request_id = headers["X-Request-Id"]
    [access] = [r for r in records if r["logger"] == "countersign.access"]
    assert access["request_id"] == request_id
    assert (access["route"], access["status"], access["slack_kind"]) == (
        "/slack/events",
        "200",
        "event",
    )
    assert {"time", "level", "message"} <= access.keys()
    # The answer was worked out on a job thread: what it logged carries the same id.
    from_the_job = [r for r in records if r is not access and r.get("request_id") == request_id]
    assert from_the_job, records


def test_a_request_id_sent_by_a_proxy_is_kept(tmp_path):
    with running_stack(tmp_path) as stack:
        envelope = stack.mention_envelope("hello")
        _, headers, *_ = stack.sender.post_event(
            envelope, extra_headers={"X-Request-Id": "lb-7f3a"}
        )
        _, forged, *_ = stack.sender.post_event(
            stack.mention_envelope("hi"), extra_headers={"X-Request-Id": "bad id {}"}
        )
        stack.wait_idle()
    assert headers["X-Request-Id"] == "lb-7f3a"
    assert forged["X-Request-Id"] not in ("bad id {}", "") and " " not in forged["X-Request-Id"]


def test_an_in_process_job_runs_under_the_id_of_the_request_that_queued_it():
    runner = InProcessRunner(workers=2)
    seen: list[tuple[str | None, dict]] = []
    done = threading.Semaphore(0)

    def record(payload: dict) -> None:
        seen.append((current_request_id(), payload))
        done.release()

    runner.register("record", record)
    with request_id_bound("req-in-process"):
        runner.defer("record", {"text": "hello"})
    runner.defer("record", {"text": "periodic"})  # nothing asked for it: an id of its own
    assert done.acquire(timeout=5) and done.acquire(timeout=5)
    runner.shutdown(wait=True)
    by_text = {payload["text"]: (rid, payload) for rid, payload in seen}
    assert by_text["hello"] == ("req-in-process", {"text": "hello"})  # our key is gone
    own_id, payload = by_text["periodic"]
    assert own_id not in (None, "req-in-process") and payload == {"text": "periodic"}
    assert current_request_id() is None  # nothing leaks to the caller's thread


@pytest.mark.postgres
def test_a_worker_runs_a_job_under_its_request_id_and_logs_no_payload(pg_url):
    with job_database() as url:
        engine = make_engine(url)
        runner = ProcrastinateRunner(engine=engine, database_url=url, settings=JobSettings())
        seen: list[tuple[str | None, dict]] = []

        def record(payload: dict) -> None:
            seen.append((current_request_id(), payload))
            logging.getLogger("tests.job").info("job body ran")

        runner.register("record", record)
        engine_logger = logging.getLogger("procrastinate")
        quieted = engine_logger.level
        engine_logger.setLevel(logging.INFO)  # the worst case: its INFO lines let through
        try:
            with json_logs() as buffer:
                with request_id_bound("req-worker"):
                    runner.defer("record", {"text": QUESTION_WORDS})
                runner.run_worker(concurrency=1, name="test", wait=False)
        finally:
            engine_logger.setLevel(quieted)
            engine.dispose()
    assert seen == [("req-worker", {"text": QUESTION_WORDS})]
    records = _records(buffer)
    assert QUESTION_WORDS not in buffer.getvalue()
    engine_lines = [r["message"] for r in records if r["logger"].startswith("procrastinate")]
    assert any("Deferred 1 job" in m for m in engine_lines)
    assert any(m.startswith("Starting job record[") for m in engine_lines)
    [body] = [r for r in records if r["logger"] == "tests.job"]
    assert body["request_id"] == "req-worker"


def test_a_redacted_traceback_stays_redacted_in_json():
    redactor = PrivacySettings().model_redactor()
    assert redactor is not None
    handler = log_handler(ObservabilitySettings(log_format="json"))
    buffer = io.StringIO()
    handler.setStream(buffer)
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    install_log_redaction(redactor, logger=log)  # as the CLI does, after the handler is set
    try:
        raise ValueError("no mailbox for dana.whitfield@halvorsen.example")
    except ValueError:
        log.exception("sending failed")
    finally:
        log.removeHandler(handler)
    [record] = _records(buffer)
    assert "dana.whitfield@halvorsen.example" not in buffer.getvalue()
    assert "ValueError" in record["exc_info"] and "<EMAIL" in record["exc_info"]


def test_text_lines_show_the_request_id_or_a_dash():
    handler = log_handler(ObservabilitySettings(log_format="text"))
    buffer = io.StringIO()
    handler.setStream(buffer)
    log = logging.getLogger("tests.text")
    log.addHandler(handler)
    try:
        log.warning("outside")
        with request_id_bound("req-text"):
            log.warning("inside")
    finally:
        log.removeHandler(handler)
    outside, inside = buffer.getvalue().splitlines()
    assert outside.endswith("tests.text [-] outside")
    assert inside.endswith("tests.text [req-text] inside")


def test_a_socket_mode_delivery_gets_a_request_id_and_an_http_one_keeps_its_own():
    assert request_id_middleware(next_=current_request_id) not in (None, "")
    with request_id_bound("req-http"):
        assert request_id_middleware(next_=current_request_id) == "req-http"
    assert current_request_id() is None
