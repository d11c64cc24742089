"""Where the bot speaks: user and channel allowlists, `/ai-channel` switches, the specialists a
channel allows, follow-ups in the bot's threads, and the admin channel — through the served
app and the workspace emulator."""

from __future__ import annotations

from urllib.parse import parse_qs

from sqlalchemy import select

from bot.access import NOT_HERE, NOT_YOU, OFF_HERE, ask_of
from bot.emulator import BOT_USER_ID, dm_message_event, slash_command
from bot.emulator.workspace_events import channel_message_event
from bot.settings import AccessSettings
from storage.models import Conversation
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, running_stack


def ai_channel(stack, user: str, text: str = "", channel: str = SALES) -> str:
    """Run `/ai-channel text` as `user` in `channel`: the ephemeral reply's text."""
    body = slash_command(
        TEAM, channel, user, "/ai-channel", text, emulator_url=stack.slack.base_url
    )
    response_id = parse_qs(body)["response_url"][0].rsplit("/", 1)[1]
    status, *_ = stack.sender.post_form(body)
    assert status == 200
    stack.wait_idle()
    [reply] = [
        c.params
        for c in stack.slack.calls_to("response_url")
        if c.params["response_id"] == response_id
    ]
    return reply["text"]


def ask(stack, text: str, *, user: str = "U_REP1", thread_ts: str | None = None) -> str:
    """@mention the bot in #sales; the mention's ts."""
    envelope = stack.mention_envelope(text, user=user, thread_ts=thread_ts)
    stack.sender.post_event(envelope)
    stack.wait_idle()
    return envelope["event"]["ts"]


def whispers(stack, user: str) -> list[str]:
    return [m.text for m in stack.slack.ephemeral_messages(SALES) if m.ephemeral_to == user]


def test_a_person_outside_the_user_allowlist_is_told_and_not_answered(tmp_path):
    access = AccessSettings(allowed_users="U_REP1, U_ADMIN1")
    with running_stack(tmp_path, access=access) as stack:
        ask(stack, "how is Halvorsen doing?", user="U_REP2")
        assert stack.bot_replies(SALES) == []
        assert any(NOT_YOU in text for text in whispers(stack, "U_REP2"))

        ts = ask(stack, "how is Halvorsen doing?", user="U_REP1")
        assert stack.bot_replies(SALES, ts)


def test_a_channel_outside_the_channel_allowlist_is_refused_and_dms_still_work(tmp_path):
    with running_stack(tmp_path, access=AccessSettings(allowed_channels="C_OTHER")) as stack:
        ask(stack, "how is Halvorsen doing?")
        assert stack.bot_replies(SALES) == []
        assert any(NOT_HERE in text for text in whispers(stack, "U_REP1"))

        dm = stack.slack.add_channel("D_REP1", "Maya Chen", is_im=True).id
        said = stack.slack.post_user_message(dm, "U_REP1", "how is Halvorsen doing?")
        stack.sender.post_event(dm_message_event(TEAM, dm, "U_REP1", said.text, said.ts))
        stack.wait_idle()
        assert stack.bot_replies(dm)


def test_an_admin_switches_the_channel_off_and_on_and_reps_cannot(tmp_path):
    with running_stack(tmp_path) as stack:
        assert "Only admins" in ai_channel(stack, "U_REP1", "off")
        assert "is off" in ai_channel(stack, "U_ADMIN1", "off")

        ask(stack, "how is Halvorsen doing?")
        assert stack.bot_replies(SALES) == []
        assert any(OFF_HERE in text for text in whispers(stack, "U_REP1"))
        refused = slash_command(
            TEAM, SALES, "U_REP1", "/ai", "x", emulator_url=stack.slack.base_url
        )
        assert stack.sender.post_form(refused)[2] == OFF_HERE  # the ack says it, to them only

        assert "is on" in ai_channel(stack, "U_ADMIN1", "on")
        ts = ask(stack, "how is Halvorsen doing?")
        assert stack.bot_replies(SALES, ts)


def test_a_channel_limited_to_the_customer_specialist_never_routes_elsewhere(tmp_path):
    with running_stack(tmp_path) as stack:
        ts = ask(stack, "show me the open invoices of Halvorsen")
        assert _agent(stack, ts) == "orders"

        shown = ai_channel(stack, "U_ADMIN1", "specialists customer")
        assert "Specialists: customer" in shown
        assert "Unknown specialist(s): wizard" in ai_channel(
            stack, "U_ADMIN1", "specialists wizard"
        )

        ts = ask(stack, "show me the open invoices of Halvorsen")
        assert _agent(stack, ts) == "customer"
        assert "Specialists: all" in ai_channel(stack, "U_ADMIN1", "specialists all")


def test_replies_in_the_bots_threads_are_answered_unless_follow_ups_are_off(tmp_path):
    with running_stack(tmp_path) as stack:
        root = ask(stack, "how is Halvorsen doing?")
        answered = len(stack.bot_replies(SALES, root))

        _reply(stack, root, "and what about their invoices?")
        assert len(stack.bot_replies(SALES, root)) == answered + 1

        _reply(stack, root, f"<@{BOT_USER_ID}> this one is a mention")  # app_mention answers it
        assert len(stack.bot_replies(SALES, root)) == answered + 1

        stranger = stack.slack.post_user_message(SALES, "U_REP2", "a thread the bot is not in")
        _reply(stack, stranger.ts, "anyone?")
        assert stack.bot_replies(SALES, stranger.ts) == []

        assert "without a new @mention: off" in ai_channel(stack, "U_ADMIN1", "follow-ups off")
        _reply(stack, root, "and their deals?")
        assert len(stack.bot_replies(SALES, root)) == answered + 1


def test_the_admin_channel_receives_the_orgs_digest_and_alerts(tmp_path):
    with running_stack(tmp_path) as stack:
        assert "posted here" in ai_channel(stack, "U_ADMIN1", "admin", channel="C_OPS")
        assert stack.services.admin_channel(stack.org_id) == "C_OPS"


def _reply(stack, root: str, text: str) -> None:
    said = stack.slack.post_user_message(SALES, "U_REP1", text, thread_ts=root)
    stack.sender.post_event(channel_message_event(TEAM, SALES, "U_REP1", text, said.ts, root))
    stack.wait_idle()


def _agent(stack, thread_ts: str) -> str | None:
    with UnitOfWork(stack.services.factory) as uow:
        return uow.session.scalar(
            select(Conversation.active_agent).where(Conversation.thread_ts == thread_ts)
        )


def test_only_thread_replies_in_channels_count_as_asks():
    def event(**fields):
        base = {"type": "message", "user": "U_REP1", "channel": SALES, "ts": "2.0"}
        return {"type": "event_callback", "team_id": TEAM, "event": base | fields}

    assert ask_of(event()) is None  # a top-level message: nobody's question, no lookup
    assert ask_of(event(thread_ts="2.0")) is None  # a thread's own root
    assert ask_of(event(thread_ts="1.0")).kind == "follow_up"
    assert ask_of(event(channel_type="im")).kind == "dm"
    assert ask_of(event(bot_id="B1", thread_ts="1.0")) is None
