"""A slash command's answer after the ack: built in the job, sent ephemerally through the
command's response_url (it works in any channel, bot member or not); a failure is answered
with an error id, never a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.blocks import notice

log = logging.getLogger(__name__)

Reply = tuple[str, list[dict[str, Any]]]  # fallback text, blocks


def reply_ephemerally(response_url: str, command: str, build: Callable[[], Reply]) -> None:
    """Send what `build` answers to the person who ran `command`."""
    try:
        text, blocks = build()
    except Exception:  # the job boundary: tell the person, keep the traceback in the log
        error_id = uuid.uuid4().hex[:8]
        log.exception("%s failed (error id %s)", command, error_id)
        text = f"Sorry, something went wrong on my side (error id `{error_id}`)."
        blocks = notice(text)
    response = WebhookClient(response_url).send(text=text, blocks=blocks, response_type="ephemeral")
    if response.status_code != 200:
        log.warning("%s reply refused: %s %s", command, response.status_code, response.body)
