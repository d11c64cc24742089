"""The route table: one line per Slack surface the bot handles."""

from __future__ import annotations

from slack_bolt import App

from bot.actions import ActionId, ViewId
from bot.listeners.agent_view import on_assistant_thread_started
from bot.listeners.commands import on_ai_channel_command, on_ai_command
from bot.listeners.cost import on_ai_cost_command
from bot.listeners.drafts import DRAFT_BUTTONS, DRAFT_VIEWS, on_draft_button
from bot.listeners.feedback import on_feedback
from bot.listeners.home import on_app_home_opened
from bot.listeners.lifecycle import on_app_uninstalled, on_tokens_revoked
from bot.listeners.mentions import on_app_mention, on_message
from bot.listeners.shortcuts import on_message_shortcut
from bot.listeners.suggest import on_ai_suggest_command
from bot.listeners.suggestions import SUGGESTION_ACTIONS, on_dismiss_submitted, on_suggestion_action
from bot.shortcuts import ShortcutId


def register_listeners(app: App) -> None:
    """Attach every listener; manifest.yaml subscribes to exactly these."""
    app.event("app_mention")(on_app_mention)
    app.event("message")(on_message)
    app.event("tokens_revoked")(on_tokens_revoked)
    app.event("app_uninstalled")(on_app_uninstalled)
    app.command("/ai")(on_ai_command)
    app.command("/ai-cost")(on_ai_cost_command)
    app.command("/ai-suggest")(on_ai_suggest_command)
    app.command("/ai-channel")(on_ai_channel_command)
    app.action(ActionId.FEEDBACK_UP)(on_feedback)
    app.action(ActionId.FEEDBACK_DOWN)(on_feedback)
    app.action(ActionId.DRAFT_FEEDBACK_UP)(on_feedback)
    app.action(ActionId.DRAFT_FEEDBACK_DOWN)(on_feedback)
    for action_id in DRAFT_BUTTONS:
        app.action(action_id)(on_draft_button)
    for callback_id, on_submit in DRAFT_VIEWS.items():
        app.view(callback_id)(on_submit)
    for action_id in SUGGESTION_ACTIONS:
        app.action(action_id)(on_suggestion_action)
    app.view(ViewId.SUGGESTION_DISMISS)(on_dismiss_submitted)
    app.event("app_home_opened")(on_app_home_opened)
    app.event("assistant_thread_started")(on_assistant_thread_started)
    for shortcut_id in ShortcutId:
        app.shortcut(shortcut_id)(on_message_shortcut)
