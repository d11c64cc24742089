"""`countersign mcp`: an MCP client launches the server as a real subprocess over stdio, against
a seeded SQLite file and PostgreSQL, lists the CRM tools and calls them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.specialists import SPECIALISTS
from agents.specs import AgentSpec
from agents.tools.base import ToolContext, ToolSpec, tool
from agents.tools.drafts import GATED_TOOLS
from bot.mcp_server import exposed_tools, org_id_for, run_tool
from bot.settings import SettingsError
from storage.crm_import import import_crm_document
from storage.demo import load_demo_document, seed_demo
from storage.models import Customer
from storage.types import utcnow
from storage.uow import UnitOfWork

DEMO_TEAM = "T_DEMO"
OTHER_TEAM = "T_OTHER"
# The other org's customer shares a word with the demo org's Halvorsen Marine on purpose.
OTHER_CUSTOMER = {"external_id": "OTHER-1", "name": "Halvorsen Fjord Supply", "status": "active"}


@dataclass(frozen=True)
class Crm:
    """A database with two orgs: the demo CRM and another org with one customer."""

    url: str
    folder: Path
    halvorsen_id: int
    other_org_customer_id: int


def _customer_id(factory: sessionmaker[Session], external_id: str) -> int:
    with factory() as session:
        found = session.scalar(select(Customer.id).where(Customer.external_id == external_id))
    assert found is not None
    return found


def _seed(factory: sessionmaker[Session]) -> tuple[int, int]:
    with UnitOfWork(factory) as uow:
        demo = uow.orgs.ensure(slack_team_id=DEMO_TEAM, name="Demo Co")
        other = uow.orgs.ensure(slack_team_id=OTHER_TEAM, name="Other Co")
        uow.commit()
    seed_demo(factory, org_id=demo.id, now=utcnow())
    import_crm_document(factory, org_id=other.id, document={"customers": [OTHER_CUSTOMER]})
    return _customer_id(factory, "CUST-HALV"), _customer_id(factory, "OTHER-1")


@pytest.fixture(params=["sqlite", "postgres"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Crm:
    prefix = "pg" if request.param == "postgres" else "sqlite"
    url: str = request.getfixturevalue(f"{prefix}_url")
    factory: sessionmaker[Session] = request.getfixturevalue(f"{prefix}_factory")
    halvorsen, other = _seed(factory)
    return Crm(url=url, folder=tmp_path, halvorsen_id=halvorsen, other_org_customer_id=other)


def _server(crm: Crm, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot.mcp_server", *args],
        env={"DATABASE_URL": crm.url, "COUNTERSIGN_LOG_LEVEL": "WARNING"},
        cwd=crm.folder,  # no stray .env
    )


@asynccontextmanager
async def _connected(crm: Crm, *args: str, mode: str = "auto") -> AsyncIterator[Client]:
    with anyio.fail_after(60):
        async with Client(_server(crm, *args), mode=mode) as client:
            yield client


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


def _json(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    data: dict[str, Any] = json.loads(block.text)
    assert result.structured_content == data
    return data


def _error_text(result: CallToolResult) -> str:
    assert result.is_error
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def _read_only_definitions() -> dict[str, dict[str, Any]]:
    return {
        tool.name: tool.to_anthropic()
        for spec in SPECIALISTS.values()
        for tool in spec.tools
        if not tool.gated
    }


async def _assert_lists_the_read_only_tools(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    expected = _read_only_definitions()
    assert set(listed) == set(expected)
    assert {"search_customers", "get_customer"} <= set(listed)
    assert not set(listed) & {tool.name for tool in GATED_TOOLS}
    for name, definition in expected.items():
        assert listed[name].input_schema == definition["input_schema"]
        assert listed[name].description == definition["description"]
        assert listed[name].annotations is not None and listed[name].annotations.read_only_hint


# Each server is a process start (seconds on two shared cores), so one session per backend
# walks through a whole conversation rather than one start per assertion.


def test_an_agent_lists_and_calls_the_crm_tools(crm: Crm) -> None:
    demo = next(c for c in load_demo_document()["customers"] if c["external_id"] == "CUST-HALV")

    async def scenario() -> None:
        async with _connected(crm, "--team", DEMO_TEAM) as client:
            await _assert_lists_the_read_only_tools(client)

            found = _json(await client.call_tool("search_customers", {"query": "halvorsen"}))
            assert [c["id"] for c in found["customers"]] == [crm.halvorsen_id]

            seen = _json(await client.call_tool("get_customer", {"customer_id": crm.halvorsen_id}))
            assert seen["customer"]["name"] == "Halvorsen Marine"
            assert {c["email"] for c in seen["contacts"]} == {c["email"] for c in demo["contacts"]}
            assert [d["title"] for d in seen["open_deals"]] == [
                "CarePlus Gold renewal 2027 - 6 vessels"
            ]
            assert 0 <= seen["_meta"]["health_score"] <= 100

            await _assert_bad_input_is_an_error_result(client)
            again = _json(await client.call_tool("search_customers", {"query": "Halvorsen"}))
            assert again["customers"] == found["customers"]  # still serving after the errors

    _run(scenario)


async def _assert_bad_input_is_an_error_result(client: Client) -> None:
    wrong_type = await client.call_tool("get_customer", {"customer_id": "the big one"})
    assert "invalid input for get_customer: customer_id" in _error_text(wrong_type)
    missing = await client.call_tool("search_customers", {"limit": 3})
    assert "query: Field required" in _error_text(missing)
    with pytest.raises(MCPError, match="unknown tool 'send_email_draft'"):
        await client.call_tool("send_email_draft", {"customer_id": 1})


def test_a_call_never_sees_another_orgs_customer(crm: Crm) -> None:
    async def scenario() -> None:
        async with _connected(crm, "--team", DEMO_TEAM) as client:
            found = _json(await client.call_tool("search_customers", {"query": "Fjord Supply"}))
            assert found["customers"] == []
            both = _json(await client.call_tool("search_customers", {"query": "Halvorsen"}))
            assert [c["id"] for c in both["customers"]] == [crm.halvorsen_id]
            for tool in ("get_customer", "get_customer_context"):
                theirs = await client.call_tool(tool, {"customer_id": crm.other_org_customer_id})
                assert f"no customer with id {crm.other_org_customer_id}" in _error_text(theirs)

    _run(scenario)


@pytest.mark.parametrize("crm", ["sqlite"], indirect=True)
def test_a_handshake_era_client_gets_the_same_tools(crm: Crm) -> None:
    async def scenario() -> None:  # the initialize handshake, as most desktop clients speak it
        async with _connected(crm, "--team", DEMO_TEAM, mode="legacy") as client:
            await _assert_lists_the_read_only_tools(client)
            found = _json(await client.call_tool("search_customers", {"query": "Halvorsen"}))
            assert [c["id"] for c in found["customers"]] == [crm.halvorsen_id]

    _run(scenario)


@pytest.mark.parametrize("crm", ["sqlite"], indirect=True)
def test_the_server_refuses_to_guess_among_several_orgs(crm: Crm) -> None:
    params = _server(crm)
    done = subprocess.run(
        [params.command, *params.args],
        env=get_default_environment() | (params.env or {}),
        cwd=params.cwd,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "pass --team: the database has 2 orgs (T_DEMO, T_OTHER)" in done.stderr.decode()
    assert done.stdout == b""  # stdout is the protocol: nothing else ever goes there


def test_the_org_is_the_named_teams_or_the_only_one(sqlite_factory: sessionmaker[Session]) -> None:
    with pytest.raises(SettingsError, match="no org: load one with seed-demo or import-crm"):
        org_id_for(sqlite_factory, None)
    with UnitOfWork(sqlite_factory) as uow:
        only = uow.orgs.ensure(slack_team_id=DEMO_TEAM).id
        uow.commit()
    assert org_id_for(sqlite_factory, None) == only
    assert org_id_for(sqlite_factory, DEMO_TEAM) == only
    with pytest.raises(SettingsError, match="no org for Slack team 'T_NOPE'"):
        org_id_for(sqlite_factory, "T_NOPE")


class _NoArgs(BaseModel):
    """Nothing to give."""


@tool(_NoArgs)
def broken_tool(ctx: ToolContext, args: _NoArgs) -> dict[str, Any]:
    """A tool whose database is down."""
    raise RuntimeError("connection refused")


def test_an_unexpected_tool_failure_is_an_error_result_with_an_id(
    sqlite_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    ctx = ToolContext(factory=sqlite_factory, org_id=1, user_id=None, now=utcnow())
    result = run_tool(broken_tool, ctx, {})
    error_id = _error_text(result).split("error id ")[1].split(")")[0]
    assert "connection refused" not in _error_text(result)
    assert f"error id {error_id}" in caplog.text and "connection refused" in caplog.text


def _specialist(name: str, *tools: ToolSpec[Any]) -> AgentSpec:
    return AgentSpec(name, "", "help.j2", f"{name}@1", tools)


def test_a_tool_shared_by_specialists_is_exposed_once_and_a_name_clash_is_refused() -> None:
    shared = SPECIALISTS["customer"].tool("search_customers")
    assert shared is not None
    specialists = [_specialist("a", shared, *GATED_TOOLS), _specialist("b", shared, broken_tool)]
    assert [t.name for t in exposed_tools(specialists)] == ["search_customers", "broken_tool"]
    impostor = dataclasses.replace(broken_tool, description="another tool, same name")
    with pytest.raises(ValueError, match="two different tools are named 'broken_tool'"):
        exposed_tools([*specialists, _specialist("c", impostor)])
