"""App Home: approvers see what waits for them; reps see their pending drafts. The Messages
tab (the agent view's DM) gets the person's prompts and, the first time, a welcome."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.agent_view import GREET_MESSAGES_TAB
from bot.draft_jobs import PUBLISH_HOME
from bot.runner import JobRunner


def on_app_home_opened(
    ack: Ack, body: dict[str, Any], event: dict[str, Any], runner: JobRunner
) -> None:
    """Publish a fresh home tab whenever someone opens it; greet on the Messages tab."""
    tab = event.get("tab", "home")
    if tab == "home":
        runner.defer(PUBLISH_HOME, {"team_id": body["team_id"], "user": event["user"]})
    elif tab == "messages" and event.get("channel"):
        runner.defer(
            GREET_MESSAGES_TAB,
            {
                "team_id": body["team_id"],
                "user": event["user"],
                "channel": event["channel"],
                "delivery_id": body.get("event_id", ""),
            },
        )
    ack()
