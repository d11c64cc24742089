"""Signed requests into the served app, replies observed at the Slack emulator."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.emulator import dm_message_event, sign_request
from storage.models import AuditEvent, LLMCall, Message, MessageRole
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, Stack, running_stack


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path) as running:
        yield running


def _count_user_turns(stack: Stack) -> int:
    with UnitOfWork(stack.services.factory) as uow:
        return uow.session.scalar(
            select(func.count()).select_from(Message).where(Message.role == MessageRole.USER)
        )


def test_mention_is_acked_and_answered_once_in_its_thread(stack):
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    status, _, body, _ = stack.sender.post_event(envelope)
    assert (status, body) == (200, "")
    stack.wait_idle()
    replies = stack.bot_replies(SALES, envelope["event"]["ts"])
    assert len(replies) == 1
    assert "Halvorsen Marine" in replies[0].text or "Halvorsen Marine" in json.dumps(
        replies[0].blocks
    )
    assert "Offline mode" in json.dumps(replies[0].blocks)


def test_bad_signature_is_401_and_nothing_runs(stack):
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    status, *_ = stack.sender.post_event(envelope, extra_headers={"X-Slack-Signature": "v0=bad"})
    assert status == 401
    stack.wait_idle()
    assert stack.slack.calls_to("chat.postMessage") == []


def test_timestamp_older_than_five_minutes_is_401(stack):
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    body = json.dumps(envelope)
    stale = sign_request(body, "test-signing-secret", timestamp=int(time.time()) - 301)
    status, *_ = stack.sender.post(body, "application/json", extra_headers=stale)
    assert status == 401


def test_url_verification_is_answered_with_the_challenge(stack):
    body = {"token": "x", "challenge": "c-123", "type": "url_verification"}
    status, _, text, _ = stack.sender.post_event(body)
    assert status == 200
    assert "c-123" in text


def test_malformed_json_is_400_when_signed_and_401_when_not(stack):
    status, _, text, _ = stack.sender.post("{not json", "application/json")
    assert status == 400
    assert "JSON" in text
    status, *_ = stack.sender.post(
        "{not json", "application/json", extra_headers={"X-Slack-Signature": "v0=bad"}
    )
    assert status == 401


def test_dm_is_answered_in_the_dm(stack):
    channel = stack.slack.add_channel("D_REP1", "Maya Chen", is_im=True).id
    said = stack.slack.post_user_message(channel, "U_REP1", "hi")
    status, *_ = stack.sender.post_event(dm_message_event(TEAM, channel, "U_REP1", "hi", said.ts))
    assert status == 200
    stack.wait_idle()
    replies = stack.bot_replies(channel)
    assert len(replies) == 1
    assert "Countersign" in replies[0].text or "Countersign" in json.dumps(replies[0].blocks)


def test_bot_messages_in_a_dm_are_ignored(stack):
    envelope = dm_message_event(TEAM, "D_X", "U_REP1", "hello", "1.1")
    envelope["event"]["bot_id"] = "B_OTHER"
    assert stack.sender.post_event(envelope)[0] == 200
    stack.wait_idle()
    assert stack.slack.calls_to("chat.postMessage") == []


def _deliver_four_times(stack: Stack, monkeypatch) -> dict:
    """Deliver once, twice concurrently as retries, once more; exactly one job may be queued."""
    queued = []
    real_defer = stack.services.runner.defer
    monkeypatch.setattr(
        stack.services.runner, "defer", lambda task, p: (queued.append(task), real_defer(task, p))
    )
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    first = stack.sender.post_event(envelope)
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(
            pool.map(
                lambda n: stack.sender.post_event(
                    envelope, retry_num=n, retry_reason="http_timeout"
                ),
                [1, 2],
            )
        )
    last = stack.sender.post_event(envelope, retry_num=3, retry_reason="http_timeout")
    assert [r[0] for r in [first, *concurrent, last]] == [200, 200, 200, 200]
    stack.wait_idle()
    assert queued == ["answer_question"], "the dedup layer let a duplicate through"
    return envelope


def test_same_event_four_times_gives_one_reply_and_one_triage_embedded(stack, monkeypatch):
    envelope = _deliver_four_times(stack, monkeypatch)
    assert len(stack.bot_replies(SALES, envelope["event"]["ts"])) == 1
    assert _count_user_turns(stack) == 1


@pytest.mark.redis
@pytest.mark.postgres
def test_same_event_four_times_gives_one_reply_on_postgres_and_redis(
    tmp_path, pg_url, pg_factory, redis_url, monkeypatch
):
    with running_stack(tmp_path, database_url=pg_url, redis_url=redis_url) as stack:
        envelope = _deliver_four_times(stack, monkeypatch)
        assert len(stack.bot_replies(SALES, envelope["event"]["ts"])) == 1
        assert _count_user_turns(stack) == 1


def test_a_retry_that_is_the_only_copy_is_processed(stack):
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    status, *_ = stack.sender.post_event(envelope, retry_num=1, retry_reason="http_timeout")
    assert status == 200
    stack.wait_idle()
    assert len(stack.bot_replies(SALES, envelope["event"]["ts"])) == 1


def test_a_delivery_whose_queueing_failed_is_accepted_on_retry(stack, monkeypatch):
    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    real_defer = stack.services.runner.defer
    calls = {"n": 0}

    def flaky_defer(task, payload):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("queue down")
        real_defer(task, payload)

    monkeypatch.setattr(stack.services.runner, "defer", flaky_defer)
    first, *_ = stack.sender.post_event(envelope)
    assert first >= 500  # Slack will retry
    retry, *_ = stack.sender.post_event(envelope, retry_num=1, retry_reason="http_error")
    assert retry == 200
    stack.wait_idle()
    assert len(stack.bot_replies(SALES, envelope["event"]["ts"])) == 1


def test_follow_up_in_thread_reuses_the_conversation_without_reading_slack(stack):
    first = stack.mention_envelope("what's going on with Halvorsen?")
    stack.sender.post_event(first)
    stack.wait_idle()
    root = first["event"]["ts"]
    follow = stack.mention_envelope("and their contacts?", thread_ts=root)
    stack.sender.post_event(follow)
    stack.wait_idle()
    replies = stack.bot_replies(SALES, root)
    assert len(replies) == 2
    assert "Ingrid Halvorsen" in json.dumps(replies[1].blocks)
    assert stack.slack.calls_to("conversations.replies") == []
    assert stack.slack.calls_to("conversations.history") == []


def test_feedback_click_is_recorded_in_the_audit_log(stack):
    from bot.emulator import block_action

    envelope = stack.mention_envelope("what's going on with Halvorsen?")
    stack.sender.post_event(envelope)
    stack.wait_idle()
    reply = stack.bot_replies(SALES, envelope["event"]["ts"])[0]
    button = reply.blocks[-1]["elements"][0]
    body = block_action(
        TEAM,
        SALES,
        "U_REP1",
        button["action_id"],
        button["value"],
        reply.ts,
        emulator_url=stack.slack.base_url,
    )
    assert stack.sender.post_form(body)[0] == 200
    stack.wait_idle()
    with UnitOfWork(stack.services.factory) as uow:
        events = list(uow.session.scalars(select(AuditEvent)))
    assert [e.action for e in events] == ["feedback.up"]
    assert stack.slack.ephemeral_messages(SALES)


def test_offline_answers_write_no_ledger_rows(stack):
    stack.sender.post_event(stack.mention_envelope("what's going on with Halvorsen?"))
    stack.wait_idle()
    with UnitOfWork(stack.services.factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(LLMCall)) == 0


def test_with_redis_down_deliveries_still_answer_once(tmp_path, monkeypatch):
    # Dedup fails open when Redis is unreachable; the turn claim in the database still holds.
    with running_stack(tmp_path, redis_url="redis://127.0.0.1:1/0") as stack:
        envelope = stack.mention_envelope("what's going on with Halvorsen?")
        statuses = [stack.sender.post_event(envelope, retry_num=n)[0] for n in (None, 1, 2)]
        stack.wait_idle()
        assert statuses == [200, 200, 200]
        assert len(stack.bot_replies(SALES, envelope["event"]["ts"])) == 1


def test_ai_command_acks_at_once_and_answers_in_a_new_thread(stack):
    from bot.emulator import slash_command

    body = slash_command(
        TEAM,
        SALES,
        "U_REP2",
        "/ai",
        "how are things with Atlantic Ferries?",
        emulator_url=stack.slack.base_url,
    )
    status, _, text, _ = stack.sender.post_form(body)
    assert status == 200
    assert "On it" in text
    stack.wait_idle()
    root = stack.bot_replies(SALES)[0]
    assert "<@U_REP2> asked" in root.text
    answer = stack.bot_replies(SALES, root.ts)[-1]
    assert answer.thread_ts == root.ts
    assert "Atlantic Ferries" in json.dumps(answer.blocks)


def test_empty_ai_command_gets_the_usage_line(stack):
    from bot.emulator import slash_command

    body = slash_command(TEAM, SALES, "U_REP2", "/ai", "", emulator_url=stack.slack.base_url)
    status, _, text, _ = stack.sender.post_form(body)
    assert status == 200 and "/ai what's going on with Halvorsen?" in text
    stack.wait_idle()
    assert stack.slack.calls_to("chat.postMessage") == []
