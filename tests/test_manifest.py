"""manifest.yaml is accepted by Slack's published schema and matches what the code handles."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from slack_bolt import App

from bot.agent_view import MAX_PROMPTS
from bot.listeners import register_listeners
from bot.oauth import BOT_SCOPES, REDIRECT_PATH
from bot.shortcuts import ShortcutId

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest():
    return yaml.safe_load((ROOT / "manifest.yaml").read_text())


def test_manifest_is_valid_for_slack(manifest):
    if not SCHEMA.exists():
        pytest.fail(f"Slack's manifest schema is missing at {SCHEMA}")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest, schema)


def _listener_names():
    app = App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)
    register_listeners(app)
    return {listener.ack_function.__name__ for listener in app._listeners}


def test_manifest_subscribes_to_exactly_the_surfaces_we_handle(manifest):
    # each manifest entry has its listener, and each listener is reachable through the manifest
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    shortcuts = {
        s["callback_id"] for s in manifest["features"]["shortcuts"] if s["type"] == "message"
    }
    surfaces = {
        "on_app_mention": "app_mention" in events,
        "on_message": {"message.im", "message.channels", "message.groups"} <= events,
        "on_tokens_revoked": "tokens_revoked" in events,
        "on_app_uninstalled": "app_uninstalled" in events,
        "on_ai_channel_command": "/ai-channel" in commands,
        "on_ai_command": "/ai" in commands,
        "on_ai_cost_command": "/ai-cost" in commands,
        "on_ai_suggest_command": "/ai-suggest" in commands,
        "on_app_home_opened": "app_home_opened" in events
        and manifest["features"]["app_home"]["home_tab_enabled"],
        "on_assistant_thread_started": "assistant_thread_started" in events,
        "on_message_shortcut": shortcuts == set(ShortcutId),
    }
    interactive = {
        "on_feedback",
        "on_draft_button",
        "on_edit_submitted",
        "on_reject_submitted",
        "on_regenerate_submitted",
        "on_suggestion_action",
        "on_dismiss_submitted",
    }
    surfaces |= dict.fromkeys(interactive, manifest["settings"]["interactivity"]["is_enabled"])
    assert _listener_names() == set(surfaces)
    assert all(surfaces.values())
    assert events == {
        "app_home_opened",
        "app_mention",
        "app_uninstalled",
        "assistant_thread_started",
        "message.channels",
        "message.groups",
        "message.im",
        "tokens_revoked",
    } and commands == {
        "/ai",
        "/ai-cost",
        "/ai-suggest",
        "/ai-channel",
    }


def test_the_install_flow_asks_for_exactly_the_manifest_scopes(manifest):
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    redirects = manifest["oauth_config"]["redirect_urls"]
    assert all(url.endswith(REDIRECT_PATH) for url in redirects)


def test_the_agent_view_is_the_messages_tab_with_at_most_four_prompts(manifest):
    features = manifest["features"]
    assert features["app_home"]["messages_tab_enabled"]
    agent = features["agent_view"]
    assert agent["agent_description"].strip()
    assert 0 < len(agent["suggested_prompts"]) <= MAX_PROMPTS


def test_the_scopes_cover_what_the_agent_view_and_shortcuts_call(manifest):
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # setSuggestedPrompts/setStatus; conversations.replies in public and private channels
    assert {"assistant:write", "channels:history", "groups:history"} <= scopes
