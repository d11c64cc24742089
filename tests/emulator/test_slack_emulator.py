from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.emulator import BOT_USER_ID, SlackEmulator

TOKEN = "xoxb-test"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        emulator.add_user("U_ALICE", "alice", "alice@example.com", is_admin=True)
        emulator.add_channel("C_SALES", "sales")
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=emu.api_url)


def test_api_url_is_a_loopback_base_url_ending_with_slash(emu):
    assert emu.api_url.startswith("http://127.0.0.1:")
    assert emu.api_url.endswith("/api/")


def test_reply_in_thread_is_visible_in_thread_and_conversations_replies(emu, client):
    parent = emu.post_user_message("C_SALES", "U_ALICE", "<@U_BOT> how is Acme doing?")

    response = client.chat_postMessage(channel="C_SALES", thread_ts=parent.ts, text="Acme is fine")

    assert response["message"]["thread_ts"] == parent.ts
    assert response["ts"] > parent.ts
    thread = emu.thread("C_SALES", parent.ts)
    assert [(m.user, m.text, m.is_bot) for m in thread] == [
        ("U_ALICE", "<@U_BOT> how is Acme doing?", False),
        (BOT_USER_ID, "Acme is fine", True),
    ]
    replies = client.conversations_replies(channel="C_SALES", ts=parent.ts)
    assert [m["text"] for m in replies["messages"]] == [parent.text, "Acme is fine"]


def test_blocks_and_metadata_survive_the_form_or_json_round_trip(emu, client):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Draft* ready"}}]
    metadata = {"event_type": "draft", "event_payload": {"draft_id": 7}}

    client.chat_postMessage(channel="C_SALES", text="Draft ready", blocks=blocks, metadata=metadata)

    [message] = emu.channel_messages("C_SALES")
    assert message.blocks == blocks
    assert message.metadata == metadata


def test_chat_update_replaces_content_and_marks_edited(emu, client):
    posted = client.chat_postMessage(channel="C_SALES", text="Pending approval")

    client.chat_update(channel="C_SALES", ts=posted["ts"], text="Approved by @alice")

    [message] = emu.channel_messages("C_SALES")
    assert (message.text, message.edited, message.ts) == ("Approved by @alice", True, posted["ts"])


def test_human_messages_cannot_be_updated_by_the_bot(emu, client):
    human = emu.post_user_message("C_SALES", "U_ALICE", "hello")

    with pytest.raises(SlackApiError) as error:
        client.chat_update(channel="C_SALES", ts=human.ts, text="hijacked")

    assert error.value.response["error"] == "cant_update_message"


def test_chat_delete_removes_the_message(emu, client):
    posted = client.chat_postMessage(channel="C_SALES", text="oops")

    client.chat_delete(channel="C_SALES", ts=posted["ts"])

    assert emu.channel_messages("C_SALES") == []


def test_users_info_and_lookup_by_email_read_the_directory(client):
    user = client.users_info(user="U_ALICE")["user"]
    found = client.users_lookupByEmail(email="ALICE@example.com")["user"]

    assert (user["name"], user["tz"], user["is_admin"]) == ("alice", "America/New_York", True)
    assert user["profile"]["email"] == "alice@example.com"
    assert found["id"] == "U_ALICE"
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U_NOBODY")


def test_chat_stream_helper_leaves_the_final_text_on_one_message(emu, client):
    parent = emu.post_user_message("C_SALES", "U_ALICE", "summarise Acme")
    stream = client.chat_stream(
        channel="C_SALES",
        thread_ts=parent.ts,
        recipient_team_id="T0001",
        recipient_user_id="U_ALICE",
        buffer_size=8,
    )

    stream.append(markdown_text="Acme renewed ")
    stream.append(markdown_text="for 2 years")
    stream.stop(markdown_text=".")

    assert [call.method for call in emu.calls] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
    ]
    reply = emu.thread("C_SALES", parent.ts)[-1]
    assert (reply.text, reply.streaming, reply.ts) == (
        "Acme renewed for 2 years.",
        False,
        stream.ts,
    )


def test_appending_to_a_stopped_stream_fails_like_slack(client):
    started = client.chat_startStream(channel="C_SALES", thread_ts="1.0", markdown_text="hi")
    client.chat_stopStream(channel="C_SALES", ts=started["ts"])

    with pytest.raises(SlackApiError, match="message_not_in_streaming_state"):
        client.chat_appendStream(channel="C_SALES", ts=started["ts"], markdown_text="late")


def test_files_upload_v2_uploads_and_shares_into_the_thread(emu, client):
    parent = emu.post_user_message("C_SALES", "U_ALICE", "export please")

    response = client.files_upload_v2(
        channel="C_SALES",
        thread_ts=parent.ts,
        content=b"deal,amount\nAcme,1000\n",
        filename="pipeline.csv",
        title="Pipeline",
        initial_comment="Here you go",
    )

    [file] = emu.files
    assert (file.name, file.title, file.size, file.channel) == (
        "pipeline.csv",
        "Pipeline",
        22,
        "C_SALES",
    )
    assert file.content == b"deal,amount\nAcme,1000\n"
    assert response["file"]["id"] == file.id
    assert emu.calls_to("file_upload")[0].params == {"file_id": file.id, "size": 22}
    share = emu.thread("C_SALES", parent.ts)[-1]
    assert (share.text, share.files[0]["title"]) == ("Here you go", "Pipeline")


def test_rate_limited_call_is_retried_after_retry_after_by_the_sdk_handler(emu):
    client = WebClient(
        token=TOKEN,
        base_url=emu.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.fail_next("chat.postMessage", retry_after=0)

    response = client.chat_postMessage(channel="C_SALES", text="eventually")

    assert response["ok"]
    assert [call.status for call in emu.calls_to("chat.postMessage")] == [429, 200]
    assert len(emu.channel_messages("C_SALES")) == 1


def test_rate_limit_reaches_the_caller_with_retry_after_when_not_retried(emu, client):
    emu.fail_next("chat.update", retry_after=7)

    with pytest.raises(SlackApiError) as error:
        client.chat_update(channel="C_SALES", ts="1.0", text="x")

    assert error.value.response.status_code == 429
    assert error.value.response.headers["Retry-After"] == "7"
    assert error.value.response["error"] == "ratelimited"


def test_injected_failure_can_be_any_slack_error_and_runs_out(emu, client):
    emu.fail_next("chat.postMessage", error="channel_not_found", status=200, times=2)

    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="C_SALES", text="x")
    assert client.chat_postMessage(channel="C_SALES", text="x")["ok"]


def test_tokens_are_checked_against_the_configured_workspace():
    with SlackEmulator(tokens={"xoxb-demo": "T_DEMO"}) as emulator:
        good = WebClient(token="xoxb-demo", base_url=emulator.api_url)
        assert good.auth_test()["team_id"] == "T_DEMO"
        with pytest.raises(SlackApiError, match="invalid_auth"):
            WebClient(token="xoxb-other", base_url=emulator.api_url).auth_test()
        with pytest.raises(SlackApiError, match="not_authed"):
            WebClient(base_url=emulator.api_url).auth_test()


def test_token_may_come_as_a_form_param_and_auth_test_accepts_get(emu):
    request = urllib.request.Request(f"{emu.api_url}auth.test?token={TOKEN}", method="GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())

    assert body["ok"] and body["user_id"] == BOT_USER_ID
    assert emu.calls[-1].token == TOKEN
    assert "token" not in emu.calls[-1].params


def test_unknown_method_is_http_200_with_unknown_method_error(emu):
    request = urllib.request.Request(
        f"{emu.api_url}nope.nothing", data=b"a=1", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        status, content_type, body = (
            response.status,
            response.headers["Content-Type"],
            response.read(),
        )

    assert status == 200
    assert content_type == "application/json; charset=utf-8"
    assert json.loads(body) == {"ok": False, "error": "unknown_method"}


def test_ephemeral_messages_stay_out_of_the_channel_history(emu, client):
    response = client.chat_postEphemeral(channel="C_SALES", user="U_ALICE", text="only you")

    [ephemeral] = emu.ephemeral_messages("C_SALES")
    assert (ephemeral.ts, ephemeral.ephemeral_to) == (response["message_ts"], "U_ALICE")
    assert emu.channel_messages("C_SALES") == []


def test_permalink_points_at_the_message(client):
    posted = client.chat_postMessage(channel="C_SALES", text="link me")

    link = client.chat_getPermalink(channel="C_SALES", message_ts=posted["ts"])["permalink"]

    assert link.endswith(f"/archives/C_SALES/p{posted['ts'].replace('.', '')}")


def test_conversations_open_returns_the_same_dm_every_time(client):
    first = client.conversations_open(users="U_ALICE")["channel"]
    second = client.conversations_open(users=["U_ALICE"])["channel"]

    assert first["id"].startswith("D")
    assert first["id"] == second["id"]
    assert client.conversations_info(channel=first["id"])["channel"]["is_im"] is True


def test_views_update_with_a_stale_hash_conflicts(client):
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Edit"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": [{"type": "divider"}]}
    )

    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert updated["view"]["blocks"] == [{"type": "divider"}]


def test_views_publish_sets_the_users_home_tab(emu, client):
    client.views_publish(user_id="U_ALICE", view={"type": "home", "blocks": [{"type": "divider"}]})

    assert emu.home_view("U_ALICE")["blocks"] == [{"type": "divider"}]


def test_reactions_and_assistant_thread_state_are_kept(emu, client):
    parent = emu.post_user_message("C_SALES", "U_ALICE", "hi")
    client.reactions_add(channel="C_SALES", timestamp=parent.ts, name="eyes")
    client.assistant_threads_setStatus(
        channel_id="C_SALES", thread_ts=parent.ts, status="is thinking…"
    )
    client.assistant_threads_setTitle(channel_id="C_SALES", thread_ts=parent.ts, title="Acme")
    client.assistant_threads_setSuggestedPrompts(
        channel_id="C_SALES",
        thread_ts=parent.ts,
        prompts=[{"title": "Pipeline", "message": "show"}],
    )

    assert emu.thread("C_SALES", parent.ts)[0].reactions == ["eyes"]
    state = emu.assistant_thread("C_SALES", parent.ts)
    assert (state["status"], state["title"]) == ("is thinking…", "Acme")
    assert state["prompts"] == [{"title": "Pipeline", "message": "show"}]
    with pytest.raises(SlackApiError, match="already_reacted"):
        client.reactions_add(channel="C_SALES", timestamp=parent.ts, name="eyes")


def test_too_many_blocks_are_rejected_as_slack_would(client):
    blocks = [{"type": "divider"}] * 51

    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C_SALES", text="long", blocks=blocks)


def test_wait_for_returns_a_call_made_from_another_thread(emu, client):
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C_SALES", text="later")).start()

    call = emu.wait_for(lambda c: c.method == "chat.postMessage", timeout=2)

    assert call.params["text"] == "later"


def test_wait_for_after_ignores_calls_made_before_the_mark(emu, client):
    client.chat_postMessage(channel="C_SALES", text="old")
    mark = len(emu.calls)
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C_SALES", text="new")).start()

    call = emu.wait_for("chat.postMessage", timeout=2, after=mark)

    assert call.params["text"] == "new"


def test_wait_for_times_out_listing_the_calls_seen(emu, client):
    client.auth_test()

    with pytest.raises(TimeoutError, match=r"chat\.postMessage|auth\.test") as error:
        emu.wait_for("chat.postMessage", timeout=0.1)

    assert "auth.test [200 ok]" in str(error.value)


def test_delay_holds_the_answer_back(emu, client):
    emu.delay("auth.test", 0.2)

    started = time.perf_counter()
    client.auth_test()

    assert time.perf_counter() - started >= 0.2


def test_reset_forgets_calls_but_keeps_messages(emu, client):
    client.chat_postMessage(channel="C_SALES", text="kept")

    emu.reset()

    assert emu.calls == []
    assert [m.text for m in emu.channel_messages("C_SALES")] == ["kept"]


def test_transcript_renders_the_thread_for_humans(emu, client):
    parent = emu.post_user_message("C_SALES", "U_ALICE", "<@U_BOT> status?")
    client.chat_postMessage(channel="C_SALES", thread_ts=parent.ts, text="All good, <@U_ALICE>")

    assert emu.transcript("C_SALES", parent.ts) == (
        "alice:\n  @countersign status?\n    countersign:\n      All good, @alice"
    )
