"""App Home: approvers see what waits for them; reps see their pending drafts."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.draft_jobs import PUBLISH_HOME
from bot.runner import JobRunner


def on_app_home_opened(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], runner: JobRunner
) -> None:
    """Publish a fresh home tab whenever someone opens it."""
    if event.get("tab", "home") == "home":
        runner.defer(PUBLISH_HOME, {"team_id": body["team_id"], "user": event["user"]})
    ack()
