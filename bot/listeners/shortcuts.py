"""Message shortcuts ("Log to CRM", "Draft a reply"): ack at once, the job does the rest."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.runner import JobRunner
from bot.shortcuts import RUN_SHORTCUT, shortcut_payload


def on_message_shortcut(ack: Ack, shortcut: dict[str, Any], runner: JobRunner) -> None:
    """Queue the shortcut's work; a global shortcut with the same id has no message to use."""
    if shortcut.get("type") == "message_action":
        runner.defer(RUN_SHORTCUT, shortcut_payload(shortcut))
    ack()
