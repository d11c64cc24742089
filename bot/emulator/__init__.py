"""A local Slack workspace: Web API server, signed event delivery, transcript rendering.

Used by `countersign demo` and by the tests; nothing here talks to slack.com.
"""

from bot.emulator.calls import RecordedCall
from bot.emulator.payloads import (
    app_home_opened_event,
    assistant_thread_started_event,
    home_block_action,
    message_action,
    view_submission,
)
from bot.emulator.render import render_message, render_thread
from bot.emulator.server import SlackEmulator
from bot.emulator.signing import (
    EventSender,
    app_mention_event,
    block_action,
    dm_message_event,
    sign_request,
    slash_command,
)
from bot.emulator.workspace import BOT_ID, BOT_USER_ID, PostedMessage, UploadedFile

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "EventSender",
    "PostedMessage",
    "RecordedCall",
    "SlackEmulator",
    "UploadedFile",
    "app_home_opened_event",
    "app_mention_event",
    "assistant_thread_started_event",
    "block_action",
    "home_block_action",
    "message_action",
    "dm_message_event",
    "render_message",
    "render_thread",
    "sign_request",
    "slash_command",
    "view_submission",
]
