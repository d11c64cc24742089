"""`countersign mcp`: the read-only CRM tools over MCP on stdio, so other agents can use them.

The tools are the specialists' own (same names, descriptions and JSON input schemas as the
Anthropic tool definitions); gated tools, which propose drafts for a person to approve, are
never exposed. Every call runs for one org, chosen at start. stdout is the protocol: logs go
to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from sqlalchemy.orm import Session, sessionmaker

from agents.specialists import SPECIALISTS
from agents.specs import AgentSpec
from agents.tools.base import ToolContext, ToolInputError, ToolSpec, to_json
from agents.tools.permissions import ToolAccess
from bot.settings import Settings, SettingsError
from storage import migrate
from storage.db import engine_from_settings, session_factory
from storage.models import Role
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

SERVER_NAME = "countersign"
READ_ONLY = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)

ContextFactory = Callable[[], ToolContext]


def exposed_tools(specialists: Iterable[AgentSpec] = SPECIALISTS.values()) -> list[ToolSpec[Any]]:
    """Every non-gated tool of every specialist, once each (a tool added to a specialist
    appears here without further work). Two different tools sharing a name is a bug."""
    found: dict[str, ToolSpec[Any]] = {}
    for spec in specialists:
        for tool in spec.tools:
            if tool.gated:
                continue
            known = found.setdefault(tool.name, tool)
            if known is not tool:
                raise ValueError(f"two different tools are named {tool.name!r}")
    return list(found.values())


def mcp_tool(tool: ToolSpec[Any]) -> types.Tool:
    """The MCP listing of a tool: its Anthropic definition, marked read-only."""
    definition = tool.to_anthropic()
    return types.Tool(
        name=definition["name"],
        description=definition["description"],
        input_schema=definition["input_schema"],
        annotations=READ_ONLY,
    )


def build_server(tools: Sequence[ToolSpec[Any]], context: ContextFactory) -> Server[Any]:
    """A low-level MCP server listing `tools` and running each call with a fresh context."""
    by_name = {tool.name: tool for tool in tools}
    listing = types.ListToolsResult(tools=[mcp_tool(tool) for tool in tools])

    async def list_tools(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        _ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:  # the spec's answer to an unknown tool is a protocol error
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}")
        # Tools are synchronous database work: a worker thread keeps the protocol loop free.
        return await anyio.to_thread.run_sync(run_tool, tool, context(), params.arguments or {})

    return Server(
        SERVER_NAME,
        instructions="Read-only CRM tools: find customers with search_customers, then look "
        "at one with the id it returns.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def run_tool(
    tool: ToolSpec[Any], ctx: ToolContext, arguments: dict[str, Any]
) -> types.CallToolResult:
    """One call: the tool's JSON result, or an error result the calling agent can act on."""
    try:
        result = tool.run(ctx, arguments)
    except ToolInputError as exc:
        return _error(str(exc))
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("MCP tool %s failed (error id %s)", tool.name, error_id)
        return _error(f"{tool.name} failed (error id {error_id}); the server log has the details")
    text = to_json(result)
    # Structured content is the same JSON (dates and decimals as strings), parsed back.
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=json.loads(text)
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def org_id_for(factory: sessionmaker[Session], team: str | None) -> int:
    """The org the server acts for: the named Slack team's, or the only org there is."""
    with UnitOfWork(factory) as uow:
        if team:
            org = uow.orgs.by_team(team)
            if org is None:
                raise SettingsError(f"no org for Slack team {team!r}")
            return org.id
        orgs = uow.orgs.all()
    if not orgs:
        raise SettingsError("the database has no org: load one with seed-demo or import-crm")
    if len(orgs) > 1:
        teams = ", ".join(org.slack_team_id for org in orgs)
        raise SettingsError(f"pass --team: the database has {len(orgs)} orgs ({teams})")
    return orgs[0].id


def run(team: str | None, settings: Settings) -> int:
    """Serve the read-only CRM tools of one org over stdio until the client disconnects."""
    if settings.storage.database_url is None:  # zero setup: the embedded file is migrated
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.storage.resolved_database_url())
    engine = engine_from_settings(settings.storage)
    try:
        factory = session_factory(engine)
        org_id = org_id_for(factory, team)
        tools = list(_access(factory, org_id, settings).allowed(tuple(exposed_tools())))

        def context() -> ToolContext:  # no user: tools that need one get None; no drafts
            return ToolContext(factory=factory, org_id=org_id, user_id=None, now=utcnow())

        log.info("MCP server for org %s: %s", org_id, ", ".join(t.name for t in tools))
        anyio.run(_serve, build_server(tools, context))
    finally:
        engine.dispose()
    return 0


def _access(factory: sessionmaker[Session], org_id: int, settings: Settings) -> ToolAccess:
    """No person is behind an MCP call: the org's flags apply, and only tools any rep may use."""
    with UnitOfWork(factory) as uow:
        org = uow.orgs.get(org_id)
        team_id = org.slack_team_id if org else ""
    agents = settings.agents
    return ToolAccess.of(
        Role.REP, team_id=team_id, tools_off=agents.tools_off, tool_roles=agents.tool_roles
    )


async def _serve(server: Server[Any]) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.mcp_server [--team T]`: the same server without the whole CLI."""
    parser = argparse.ArgumentParser(prog="python -m bot.mcp_server", description=__doc__)
    parser.add_argument("--team", help="Slack team id of the org (default: the only org)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load()
        logging.basicConfig(
            stream=sys.stderr,
            level=settings.runtime.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return run(args.team, settings)
    except SettingsError as exc:
        print(f"countersign mcp: {exc}", file=sys.stderr)  # noqa: T201 (stdout is the protocol)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
