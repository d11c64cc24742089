"""The route table: one line per Slack surface the bot handles."""

from __future__ import annotations

from slack_bolt import App

from bot.actions import ActionId
from bot.listeners.commands import on_ai_command
from bot.listeners.feedback import on_feedback
from bot.listeners.mentions import on_app_mention, on_direct_message


def register_listeners(app: App) -> None:
    """Attach every listener; manifest.yaml subscribes to exactly these."""
    app.event("app_mention")(on_app_mention)
    app.event("message")(on_direct_message)
    app.command("/ai")(on_ai_command)
    app.action(ActionId.FEEDBACK_UP)(on_feedback)
    app.action(ActionId.FEEDBACK_DOWN)(on_feedback)
