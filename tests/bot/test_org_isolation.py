"""Org A can never read org B's data: not through any tool the specialists have, nor through
a command, a report or an answer. Org B's copy of the CRM has every text column marked, so
any leak shows; each probe is also run as B to prove it would have found B's data."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import String, Text, text

from agents.specialists import SPECIALISTS
from agents.tools import ToolContext, ToolInputError, ToolSpec
from bot.emulator import BOT_USER_ID, app_mention_event, slash_command
from storage.demo import seed_demo
from storage.models import Base
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, running_stack

NAMING_TOOLS = {
    "get_customer",
    "get_customer_context",
    "search_customers",
    "get_order",
    "list_orders",
    "list_invoices",
    "search_products",
    "top_customers",
    "stale_deals",
}
MARK = "ZQX"  # never in the demo data: prefixed to every text of org B
TEAM_B = "T_BETA"


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request, tmp_path):
    url = None
    if request.param == "postgres":
        request.getfixturevalue("pg_factory")
        url = request.getfixturevalue("pg_url")
    with running_stack(tmp_path, database_url=url) as running:
        running.org_b = _marked_org(running.services.factory)
        yield running


def _marked_org(factory) -> int:
    """Org B: the demo CRM again, every text column of every org-scoped table marked."""
    with UnitOfWork(factory) as uow:
        org_b = uow.orgs.ensure(slack_team_id=TEAM_B, name="Beta GmbH").id
        uow.commit()
    seed_demo(factory, org_id=org_b, now=utcnow())
    with UnitOfWork(factory) as uow:
        for table in Base.metadata.sorted_tables:
            columns = [
                c.name
                for c in table.columns
                if type(c.type) in (String, Text)
                and not c.foreign_keys
                and not c.name.endswith(("_key", "_hash", "fingerprint"))
            ]
            if "org_id" not in table.c or not columns:
                continue
            marks = ", ".join(f"{c} = '{MARK}' || {c}" for c in columns)
            uow.session.execute(text(f"UPDATE {table.name} SET {marks} WHERE org_id = {org_b}"))
        uow.commit()
    return org_b


def _tools() -> list[ToolSpec[Any]]:
    unique = {t.name: t for spec in SPECIALISTS.values() for t in spec.tools}
    return [unique[name] for name in sorted(unique)]


def _b_facts(stack, org_b: int) -> dict[str, Any]:
    """Org B's ids and names (marked), as a tool's inputs would name them."""
    query = {
        "customer_id": "SELECT min(id) FROM customer WHERE org_id = :org",
        "number": "SELECT min(number) FROM sales_order WHERE org_id = :org",
        "customer": "SELECT min(name) FROM customer WHERE org_id = :org",
        "product": "SELECT min(name) FROM product WHERE org_id = :org",
        "sku": "SELECT min(sku) FROM product WHERE org_id = :org",
        "email": "SELECT min(email) FROM contact WHERE org_id = :org AND email IS NOT NULL",
    }
    with UnitOfWork(stack.services.factory) as uow:
        return {k: uow.session.scalar(text(q), {"org": org_b}) for k, q in query.items()}


def _inputs(tool: ToolSpec[Any], b: dict[str, Any]) -> dict[str, Any]:
    """Inputs naming org B's things: its ids, its customers', products' and orders' names."""
    line = [{"sku": b["sku"], "quantity": 1}]
    by_field = {
        "customer_id": b["customer_id"],
        "number": b["number"],
        # A natural search ("Halvorsen Marine") must find A's customer, never B's copy.
        "query": (b["product"] if tool.name == "search_products" else b["customer"]).removeprefix(
            MARK
        ),
        "to": b["email"],
        "lines": line,
        "requirements": [{"need": b["product"]}],
        "category": None,
    }
    fields = tool.args_model.model_fields
    raw = {name: by_field[name] for name in fields if name in by_field}
    for name, info in fields.items():
        if name not in raw and info.is_required():
            raw[name] = "hello"  # free text: a headline, a subject, a body
    return raw


def _run(stack, tool: ToolSpec[Any], org_id: int, raw: dict[str, Any]) -> str:
    ctx = ToolContext(
        factory=stack.services.factory,
        org_id=org_id,
        user_id=None,
        now=utcnow(),
        drafts=stack.services.drafts,
    )
    try:
        return json.dumps(tool.run(ctx, raw), default=str)
    except (ToolInputError, LookupError, ValueError) as exc:
        return str(exc)


def test_no_tool_run_for_org_a_returns_anything_of_org_b(stack):
    facts, found_as_b, seen_by_a = _b_facts(stack, stack.org_b), set(), {}
    for tool in _tools():
        raw = _inputs(tool, facts)
        as_a = _unechoed(_run(stack, tool, stack.org_id, raw), raw)
        assert MARK not in as_a, f"{tool.name}({raw}) leaked org B's data to org A: {as_a}"
        seen_by_a[tool.name] = as_a
        if MARK in _unechoed(_run(stack, tool, stack.org_b, raw), raw):
            found_as_b.add(tool.name)
    # The probes are real: run as B, the same inputs find B's data.
    assert NAMING_TOOLS <= found_as_b, NAMING_TOOLS - found_as_b

    # Aggregates carry no names: A's numbers must not move when B disappears.
    _delete_org(stack, stack.org_b)
    for tool in _tools():
        if not tool.gated:
            raw = _inputs(tool, facts)
            assert _unechoed(_run(stack, tool, stack.org_id, raw), raw) == seen_by_a[tool.name]


def _delete_org(stack, org_id: int) -> None:
    with UnitOfWork(stack.services.factory) as uow:
        uow.session.execute(text("DELETE FROM org WHERE id = :org"), {"org": org_id})
        uow.commit()
        left = uow.session.scalar(
            text("SELECT count(*) FROM customer WHERE org_id = :org"), {"org": org_id}
        )
    assert left == 0  # the cascade really removed B's CRM


def test_commands_reports_and_answers_for_org_a_show_nothing_of_org_b(stack):
    before = _slash(stack, TEAM, "U_ADMIN1", "/ai-cost", "")
    _mention(stack, TEAM_B, f"how is {MARK}Halvorsen doing?")  # org B's traffic and spend
    assert "haven't used" not in _slash(stack, TEAM_B, "U_REP1", "/ai-cost", "me")  # B's spend

    assert _slash(stack, TEAM, "U_ADMIN1", "/ai-cost", "") == before
    for command, words in (("/ai-cost", "customers"), ("/ai-cost", "users"), ("/ai-suggest", "")):
        assert MARK not in _slash(stack, TEAM, "U_ADMIN1", command, words)
    answer = _mention(stack, TEAM, f"how is {MARK}Halvorsen doing?")
    assert answer and MARK not in answer.replace(f"{MARK}Halvorsen doing", "")
    home = stack.open_home("U_ADMIN1")
    assert MARK not in json.dumps(home)


def _unechoed(shown: str, raw: dict[str, Any]) -> str:
    """The output without the inputs it repeats ("no order numbered 'ZQX…'")."""
    for value in json.dumps(raw).split('"'):
        if MARK in value:
            shown = shown.replace(value, "")
    return shown


def _slash(stack, team: str, user: str, command: str, words: str) -> str:
    body = slash_command(team, SALES, user, command, words, emulator_url=stack.slack.base_url)
    response_id = parse_qs(body)["response_url"][0].rsplit("/", 1)[1]
    stack.sender.post_form(body)
    stack.wait_idle()
    [reply] = [
        c.params
        for c in stack.slack.calls_to("response_url")
        if c.params["response_id"] == response_id
    ]
    return json.dumps(reply.get("blocks") or reply.get("text"))


def _mention(stack, team: str, words: str) -> str:
    said = stack.slack.post_user_message(SALES, "U_REP1", f"<@{BOT_USER_ID}> {words}")
    stack.sender.post_event(app_mention_event(team, SALES, "U_REP1", said.text, said.ts))
    stack.wait_idle()
    return " ".join(m.text + json.dumps(m.blocks) for m in stack.bot_replies(SALES, said.ts))
