"""PostgreSQL "restarts" under traffic: a TCP proxy between the app and the real server drops
every connection and refuses new ones for a while (the real server is shared: never restarted).

During the outage a request fails fast and cleanly: within Slack's 3 s, never a stack trace to
the person, and never a job silently lost after a 200 (a 500 is fine: Slack retries it, and
the dedup claim was given back). Afterwards the same app answers again with no restart: the
pool's pre-ping replaces the dead connections."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.emulator import EventSender, dm_message_event
from storage.migrate import upgrade
from tests.failure.tcp_proxy import TcpProxy
from tests.stack import SALES, TEAM, Stack, running_stack

SLACK_ACK_SECONDS = 3.0  # Slack gives up on an ack after this long, and retries
OUTAGE_SECONDS = 2.0
ASK = "what's going on with Halvorsen?"
NO_INTERNALS = ("Traceback", "psycopg", "OperationalError", "sqlalchemy", 'File "')


@pytest.fixture
def proxied_database(pg_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """A fresh, migrated database on the test server, and its URL through a proxy."""
    server = make_url(pg_url)
    name = f"countersign_restart_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(server.set(database=name).render_as_string(hide_password=False))
    try:
        with TcpProxy((server.host or "127.0.0.1", server.port or 5432)) as proxy:
            proxied = server.set(database=name, host="127.0.0.1", port=proxy.port)
            yield proxied.render_as_string(hide_password=False), proxy
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _said(stack: Stack, channel: str, thread_ts: str | None = None) -> list[str]:
    """What the bot said there, each message's text and blocks as one string."""
    messages = stack.bot_replies(channel, thread_ts) + stack.slack.ephemeral_messages(channel)
    return [m.text + json.dumps(m.blocks) for m in messages]


def _ack_sender(stack: Stack) -> EventSender:
    """Slack's side: a request that is not answered within 3 s raises (a hang fails)."""
    secret = stack.settings.slack.signing_secret
    assert secret is not None
    return EventSender(stack.url, secret.get_secret_value(), timeout=SLACK_ACK_SECONDS)


def _answered(stack: Stack, slack: EventSender) -> str:
    """Ask in #sales; what the bot answered in the thread."""
    envelope = stack.mention_envelope(ASK)
    assert slack.post_event(envelope)[0] == 200
    stack.wait_idle()
    return str(_said(stack, SALES, envelope["event"]["ts"]))


def test_a_mention_during_a_restart_is_a_500_that_slack_retries_and_the_app_recovers(
    tmp_path, proxied_database
):
    url, proxy = proxied_database
    with running_stack(tmp_path, database_url=url) as stack:
        slack = _ack_sender(stack)
        assert "Halvorsen Marine" in _answered(stack, slack)
        proxy.outage()  # every pooled connection is now dead, and the port refuses
        mention = stack.mention_envelope(ASK)
        during = slack.post_event(mention)[0]  # fast: refused connections fail at once
        stack.wait_idle()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        retried = slack.post_event(mention, retry_num=1, retry_reason="http_error")[0]
        stack.wait_idle()
        thread = _said(stack, SALES, mention["event"]["ts"])
        after = _answered(stack, slack)
    # The channel's /ai-channel switch is read before the ack: it fails, the error handler
    # answers 500 and gives the dedup claim back, so Slack's retry is taken and answered once.
    assert (during, retried) == (500, 200)
    assert len(thread) == 1 and "Halvorsen Marine AS" in thread[0]
    assert not any(word in thread[0] for word in NO_INTERNALS)
    assert "Halvorsen Marine" in after  # the same app, no restart: pre-ping reconnected
    assert proxy.accepted > 1


def test_a_dm_acked_during_a_restart_tells_the_person_it_failed(tmp_path, proxied_database):
    url, proxy = proxied_database
    with running_stack(tmp_path, database_url=url) as stack:
        slack = _ack_sender(stack)
        assert "Halvorsen Marine" in _answered(stack, slack)
        proxy.outage()
        dm = dm_message_event(TEAM, "D_REP1", "U_REP1", ASK, f"{time.time():.6f}")
        status = slack.post_event(dm)[0]  # a DM needs no lookup before its ack
        stack.wait_idle()
        proxy.restore()
        told = _said(stack, "D_REP1")
        after = _answered(stack, slack)
    assert status == 200
    assert len(told) == 1 and "something went wrong" in told[0]
    assert not any(word in told[0] for word in NO_INTERNALS)
    assert "Halvorsen Marine" in after
