"""`/ai-cost`: queue the job and ack at once; the job answers ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.cost_jobs import COST_COMMAND, cost_payload
from bot.runner import JobRunner


def on_ai_cost_command(ack: Ack, command: dict[str, Any], runner: JobRunner) -> None:
    """Nothing slow before the ack: parsing, the admin check and every query run in the job."""
    runner.defer(COST_COMMAND, cost_payload(command))
    ack()
