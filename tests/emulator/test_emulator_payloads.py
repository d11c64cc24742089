from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.emulator import (
    EventSender,
    SlackEmulator,
    app_mention_event,
    block_action,
    dm_message_event,
    sign_request,
    slash_command,
)
from bot.emulator.httpd import BackgroundHTTPServer, QuietHandler

SECRET = "shh-signing-secret"
TOKEN = "xoxb-test"


def test_signature_is_accepted_by_slack_sdk_verifier():
    body = json.dumps({"type": "event_callback", "event": {"text": "héllo"}})

    headers = sign_request(body, SECRET)

    verifier = SignatureVerifier(SECRET)
    ts, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert verifier.is_valid(body.encode(), ts, signature)
    assert not verifier.is_valid(body + " ", ts, signature)
    assert not SignatureVerifier("other-secret").is_valid(body, ts, signature)


def test_signature_for_a_fixed_timestamp_matches_slacks_documented_example():
    # The example from Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect"
        "&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554"
        "%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )

    headers = sign_request(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)

    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }


def test_app_mention_envelope_has_what_bolt_and_dedup_need():
    envelope = app_mention_event(
        "T1", "C1", "U1", "<@U_BOT> hi", "1700000000.000100", thread_ts="1700000000.000050"
    )

    event = envelope["event"]
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev")
    assert envelope["event_time"] == 1700000000
    assert envelope["authorizations"][0]["user_id"] == "U_BOT"
    assert (event["type"], event["channel"], event["thread_ts"]) == (
        "app_mention",
        "C1",
        "1700000000.000050",
    )
    assert event["event_ts"] == event["ts"] == "1700000000.000100"
    section = event["blocks"][0]["elements"][0]["elements"]
    assert section == [{"type": "user", "user_id": "U_BOT"}, {"type": "text", "text": " hi"}]


def test_dm_event_is_a_message_in_an_im_channel():
    envelope = dm_message_event("T1", "D1", "U1", "pipeline?", "1.000100", event_id="EvFIXED")

    assert envelope["event_id"] == "EvFIXED"
    assert envelope["event"]["type"] == "message"
    assert envelope["event"]["channel_type"] == "im"
    assert "thread_ts" not in envelope["event"]


def test_slash_command_body_is_form_encoded_with_a_response_url_on_the_emulator():
    body = slash_command(
        "T1", "C1", "U1", "/ai-cost", "last 7 days", emulator_url="http://127.0.0.1:9/"
    )

    fields = {key: values[0] for key, values in parse_qs(body).items()}
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/ai-cost",
        "last 7 days",
        "U1",
    )
    assert fields["response_url"].startswith("http://127.0.0.1:9/response/")
    assert fields["trigger_id"].count(".") == 2


def test_block_action_body_carries_a_block_actions_payload():
    body = block_action(
        "T1",
        "C1",
        "U1",
        "draft_approve",
        '{"draft_id": 7}',
        "1.000200",
        emulator_url="http://127.0.0.1:9",
    )

    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000200",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["action_id"] == "draft_approve"
    assert payload["actions"][0]["value"] == '{"draft_id": 7}'
    assert payload["message"]["ts"] == "1.000200"
    assert payload["response_url"].startswith("http://127.0.0.1:9/response/")


class _RecordingReceiver(BackgroundHTTPServer):
    def __init__(self) -> None:
        super().__init__(_RecordingHandler, "127.0.0.1", 0)
        self.seen: list[tuple[str, dict[str, str], bytes]] = []


class _RecordingHandler(QuietHandler):
    def do_POST(self) -> None:
        receiver: _RecordingReceiver = self.server.owner  # type: ignore[attr-defined]
        body = self.read_body()
        receiver.seen.append((self.path, dict(self.headers.items()), body))
        valid = SignatureVerifier(SECRET).is_valid(
            body, self.headers["X-Slack-Request-Timestamp"], self.headers["X-Slack-Signature"]
        )
        self.send_bytes(200 if valid else 401, b"", "text/plain")


def test_event_sender_signs_posts_to_slack_events_and_adds_retry_headers():
    with _RecordingReceiver() as receiver:
        sender = EventSender(receiver.base_url, SECRET)

        status, _headers, _text, elapsed = sender.post_event(
            {"type": "event_callback"}, retry_num=1, retry_reason="http_timeout"
        )

        path, headers, body = receiver.seen[0]
    assert status == 200
    assert elapsed > 0
    assert path == "/slack/events"
    assert (headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    assert json.loads(body) == {"type": "event_callback"}


def test_event_sender_reports_a_rejected_signature_as_status_not_exception():
    with _RecordingReceiver() as receiver:
        sender = EventSender(receiver.base_url + "slack/events", SECRET)

        status, *_ = sender.post_form("a=1", extra_headers={"X-Slack-Signature": "v0=forged"})

    assert status == 401


# --- end to end: a real Bolt app between EventSender and the emulator ----------------------


class _BoltServer(BackgroundHTTPServer):
    def __init__(self, app: App) -> None:
        super().__init__(_BoltHandler, "127.0.0.1", 0)
        self.app = app


class _BoltHandler(QuietHandler):
    def do_POST(self) -> None:
        app: App = self.server.owner.app  # type: ignore[attr-defined]
        request = BoltRequest(body=self.read_body().decode(), headers=dict(self.headers.items()))
        response = app.dispatch(request)
        headers = {k: v[0] for k, v in response.headers.items() if k.lower() != "content-type"}
        self.send_bytes(response.status, response.body.encode(), "application/json", headers)


@pytest.fixture
def workspace() -> Iterator[tuple[SlackEmulator, EventSender]]:
    with SlackEmulator() as emu:
        app = App(
            client=WebClient(token=TOKEN, base_url=emu.api_url),
            signing_secret=SECRET,
            logger=logging.getLogger("test-bolt"),
        )
        _register(app)
        with _BoltServer(app) as server:
            yield emu, EventSender(server.base_url, SECRET)


def _register(app: App) -> None:
    @app.event("app_mention")
    def answer(event: dict[str, Any], say: Any) -> None:
        say(text=f"On it, <@{event['user']}>", thread_ts=event.get("thread_ts") or event["ts"])

    @app.command("/ai-cost")
    def cost(ack: Any, respond: Any) -> None:
        ack()
        respond(text="Spend this month: $12.34")

    @app.action("draft_approve")
    def approve(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        ack()
        respond(
            text=f"Approved {json.loads(body['actions'][0]['value'])['draft_id']}",
            replace_original=True,
        )


def test_bolt_app_answers_a_mention_in_the_thread_through_the_emulator(workspace):
    emu, sender = workspace
    emu.add_user("U1", "alice", "alice@example.com")
    question = emu.post_user_message("C1", "U1", "<@U_BOT> how is Acme?")

    status, _, _, _ = sender.post_event(
        app_mention_event("T0001", "C1", "U1", question.text, question.ts)
    )
    emu.wait_for("chat.postMessage", timeout=5)

    assert status == 200
    assert emu.transcript("C1", question.ts).endswith("countersign:\n      On it, @alice")


def test_bolt_command_and_button_respond_via_recorded_response_urls(workspace):
    emu, sender = workspace

    command = slash_command("T0001", "C1", "U1", "/ai-cost", "", emulator_url=emu.base_url)
    click = block_action(
        "T0001", "C1", "U1", "draft_approve", '{"draft_id": 7}', "1.0", emulator_url=emu.base_url
    )
    statuses = [sender.post_form(command)[0], sender.post_form(click)[0]]
    spend = emu.wait_for(lambda c: c.params.get("text") == "Spend this month: $12.34")
    approved = emu.wait_for(lambda c: c.params.get("text") == "Approved 7")

    assert statuses == [200, 200]
    assert (spend.method, approved.method) == ("response_url", "response_url")
    assert approved.params["replace_original"] is True
    assert spend.params["response_id"] != approved.params["response_id"]
