"""`/ai-suggest`: queue the job and ack at once; the job answers ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.runner import JobRunner
from bot.suggest_command import SUGGEST_COMMAND, suggest_payload


def on_ai_suggest_command(ack: Ack, command: dict[str, Any], runner: JobRunner) -> None:
    """Nothing slow before the ack: who the person is and every query run in the job."""
    runner.defer(SUGGEST_COMMAND, suggest_payload(command))
    ack()
