"""`countersign demo`: a scripted conversation with the real app, served over HTTP, against a
local Slack workspace (bot/sandbox.py). It uses SQLite in a temp folder, in-process jobs, and
the offline adapter unless ANTHROPIC_API_KEY is set; the conversation is printed as Slack
would show it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.actions import ActionId
from bot.emulator import PostedMessage, dm_message_event
from bot.emulator.calls import RecordedCall
from bot.sandbox import SALES, TEAM, Sandbox, sandbox
from bot.settings import Settings


def _say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 (the demo's output is the point)


def run_demo(base: Settings, *, timeout: float = 30.0) -> int:
    """Run the script; 0 when every question was answered where it was asked."""
    with (
        tempfile.TemporaryDirectory(prefix="countersign-demo-") as folder,
        sandbox(Path(folder), agents=base.agents) as box,
    ):
        mode = "Claude" if base.agents.uses_model else "offline (no ANTHROPIC_API_KEY)"
        _say(f"Countersign demo — local Slack workspace, SQLite, in-process jobs, model: {mode}\n")
        root = _mention(box, "what's going on with Halvorsen?", timeout=timeout)
        _mention(box, "and who are their contacts?", thread_ts=root, timeout=timeout)
        _say(f"#sales thread\n{'─' * 60}\n{box.slack.transcript(SALES, root)}\n")
        dm = box.slack.add_channel("D_REP2", "Leo Okafor", is_im=True).id
        _dm(box, "U_REP2", dm, "hi", timeout=timeout)
        _dm(box, "U_REP2", dm, "how are things with Atlantic Ferries?", timeout=timeout)
        _say(f"DM with Leo\n{'─' * 60}\n{box.slack.transcript(dm)}\n")
        _approval(box, timeout=timeout)
        _say(f"{len(box.slack.calls_to('chat.postMessage'))} replies posted; demo finished.")
    return 0


def _approval(box: Sandbox, *, timeout: float) -> None:
    """Maya asks for a draft, her own Approve is refused, Jordan (manager) approves, the email
    arrives at the local SMTP mailbox, and the card says it was sent."""
    root = _mention(box, "draft a follow-up to Halvorsen about the renewal", timeout=timeout)
    box.wait_idle(timeout)  # the card follows the answer
    card = _card(box, root)
    _say(f"Drafting thread (before any decision)\n{'─' * 60}")
    _say(f"{box.slack.transcript(SALES, root)}\n")
    box.click("U_REP1", card, ActionId.DRAFT_APPROVE)
    box.wait_idle(timeout)
    refused = box.slack.ephemeral_messages(SALES)[-1].text
    _say(f"Maya clicks Approve on her own email → only she sees:\n  {refused}\n")
    box.click("U_MGR1", card, ActionId.DRAFT_APPROVE)
    mail = box.mailbox.wait_for(1, timeout=timeout)[0]
    box.wait_idle(timeout)
    _say("Jordan (manager) clicks Approve → the local SMTP server receives:")
    _say(f"  To: {mail['To']}\n  Reply-To: {mail['Reply-To']}\n  Subject: {mail['Subject']}\n")
    _say(f"The thread now\n{'─' * 60}\n{box.slack.transcript(SALES, root)}\n")
    if "sent to" not in str(_card(box, root).blocks):
        raise RuntimeError("the draft card does not show the email as sent")


def _card(box: Sandbox, root: str) -> PostedMessage:
    card = box.draft_card(root)
    if card is None:
        raise RuntimeError("no draft card was posted")
    return card


def _mention(box: Sandbox, text: str, *, thread_ts: str | None = None, timeout: float) -> str:
    """Maya @mentions the bot in #sales (in a thread when given); returns the thread root."""
    envelope = box.mention_envelope(text, thread_ts=thread_ts)
    root = thread_ts or envelope["event"]["ts"]
    _deliver(box, envelope, lambda call: call.params.get("thread_ts") == root, timeout)
    return root


def _dm(box: Sandbox, user: str, channel: str, text: str, *, timeout: float) -> None:
    said = box.slack.post_user_message(channel, user, text)
    envelope = dm_message_event(TEAM, channel, user, text, said.ts)
    _deliver(box, envelope, lambda call: call.params.get("channel") == channel, timeout)


def _deliver(
    box: Sandbox,
    envelope: dict[str, Any],
    is_reply: Callable[[RecordedCall], bool],
    timeout: float,
) -> None:
    """Send one signed event and wait for the bot's reply to it."""
    seen = len(box.slack.calls_to("chat.postMessage"))
    status, _headers, body, _elapsed = box.sender.post_event(envelope)
    if status != 200:
        raise RuntimeError(f"the app answered {status}: {body}")

    def new_reply(call: RecordedCall) -> bool:
        replies = box.slack.calls_to("chat.postMessage")
        return call.method == "chat.postMessage" and call in replies[seen:] and is_reply(call)

    box.slack.wait_for(new_reply, timeout=timeout)
