"""Tool permission hooks: an org's feature flags and a tool's role requirement decide which
tools the model is shown, and a tool it asks for anyway comes back as an is_error result."""

from __future__ import annotations

import pytest

from agents.settings import AgentSettings
from agents.tools.customers import get_customer, search_customers
from agents.tools.permissions import ToolAccess
from storage.models import Role
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply, tool_reply
from tests.stack import TEAM, model_agents, running_stack


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _tools_shown(anthropic_api):
    return [sorted(t["name"] for t in r.get("tools", [])) for r in anthropic_api.message_requests]


def _ask(stack, user, text):
    stack.sender.post_event(stack.mention_envelope(text, user=user))
    stack.wait_idle()


def test_a_switched_off_tool_is_hidden_and_refused(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, tools_off={TEAM: ["get_customer"]})
    with running_stack(tmp_path, agents=agents) as stack:
        anthropic_api.script(
            tool_reply("get_customer", {"customer_id": 1}),
            text_reply("I can't open accounts here."),
        )
        _ask(stack, "U_REP1", "what's going on with Halvorsen?")
        [_, second] = anthropic_api.message_requests
    shown = _tools_shown(anthropic_api)[0]
    assert "get_customer" not in shown and "search_customers" in shown
    [result] = second["messages"][-1]["content"]
    assert result["is_error"] is True
    assert "get_customer is switched off for this workspace" in result["content"]


def test_a_tool_that_needs_a_manager_is_shown_to_managers_only(tmp_path, anthropic_api):
    agents = model_agents(anthropic_api.base_url, tool_roles={"get_customer": Role.MANAGER})
    with running_stack(tmp_path, agents=agents) as stack:
        anthropic_api.script(text_reply("rep answer"), text_reply("manager answer"))
        _ask(stack, "U_REP1", "what's going on with Halvorsen?")
        _ask(stack, "U_MGR1", "what's going on with Halvorsen?")
    as_rep, as_manager = _tools_shown(anthropic_api)
    assert "get_customer" not in as_rep and "get_customer" in as_manager


def test_flags_for_every_org_and_for_one_org_add_up():
    access = ToolAccess.of(
        Role.ADMIN,
        team_id="T1",
        tools_off={"*": ["search_customers"], "T2": ["get_customer"]},
        tool_roles={},
    )
    assert access.allowed((search_customers, get_customer)) == (get_customer,)


def test_settings_parse_flags_and_roles_from_json(monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_TOOLS_OFF", '{"*": ["configure_system"]}')
    monkeypatch.setenv("COUNTERSIGN_TOOL_ROLES", '{"list_overdue_invoices": "manager"}')
    settings = AgentSettings()
    assert settings.tools_off == {"*": ["configure_system"]}
    assert settings.tool_roles == {"list_overdue_invoices": Role.MANAGER}
