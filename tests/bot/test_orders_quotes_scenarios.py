"""Orders and quotes end to end: a mention in Slack → triage → the specialist's tool calls on
the demo CRM → the answer (or the draft card) in the thread. Through the scripted model, and
offline (demo mode, no API key)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from agents.triage import PreRouter
from storage.models import Draft, LLMCall
from storage.models.enums import DraftKind, DraftStatus
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply, text_reply, tool_reply
from tests.stack import SALES, Stack, model_agents, running_stack

INGRID = "ingrid@halvorsen-marine.no"


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _triage(stack: Stack, text: str, specialist: str) -> list[Reply]:
    """The scripted route call, when the local rules leave the choice to the model; when they
    decide, they must pick the same specialist."""
    with UnitOfWork(stack.services.factory) as uow:
        names = uow.crm.customer_names(stack.org_id)
    decided = PreRouter(names).decide(text)
    if decided is not None:
        assert decided[0] == specialist, decided
        return []
    return [tool_reply("route", {"specialist": specialist, "reason": "scripted"})]


def _customer_id(stack: Stack, name: str) -> int:
    with UnitOfWork(stack.services.factory) as uow:
        return next(c.id for c in uow.crm.all_customers(stack.org_id) if c.name == name)


def _ask(stack: Stack, text: str) -> str:
    envelope = stack.mention_envelope(text)
    assert stack.sender.post_event(envelope)[0] == 200
    stack.wait_idle()
    return envelope["event"]["ts"]


def _reply_text(stack: Stack, root: str) -> str:
    replies = stack.bot_replies(SALES, root)
    assert replies, "no reply in the thread"
    return " ".join(f"{r.text} {json.dumps(r.blocks, ensure_ascii=False)}" for r in replies)


def _tool_results(request: dict) -> list[dict]:
    """The parsed tool results the model was shown in one request."""
    return [
        json.loads(block["content"])
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result" and not block.get("is_error")
    ]


def _agents(stack: Stack) -> list[str]:
    with UnitOfWork(stack.services.factory) as uow:
        return list(uow.session.scalars(select(LLMCall.agent).order_by(LLMCall.id)))


def test_overdue_invoices_of_the_book_through_the_orders_specialist(tmp_path, anthropic_api):
    ask = "which invoices are overdue across the book right now?"
    answer = "*2 overdue invoices, $53,600* — Atlantic Ferries is the oldest."
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        anthropic_api.script(
            *_triage(stack, ask, "orders"),
            tool_reply("list_overdue_invoices", {"limit": 20}),
            text_reply(answer),
        )
        root = _ask(stack, ask)
        shown = _reply_text(stack, root)
        agents = _agents(stack)
    anthropic_api.assert_done()
    assert "2 overdue invoices, $53,600" in shown
    assert agents[-2:] == ["orders", "orders"]
    orders_request = anthropic_api.message_requests[-1]
    assert "orders and invoices specialist" in json.dumps(orders_request["system"])
    (overdue,) = _tool_results(orders_request)
    assert overdue["_meta"]["amount"] == "53600.00" and overdue["_meta"]["customers"] == 2
    assert [i["invoice"] for i in overdue["invoices"]] == ["INV-24029", "INV-24040"]


def test_a_priced_quote_becomes_an_email_draft_card(tmp_path, anthropic_api):
    ask = "price 4 bilge pumps for the Norwegian yard and get the quote over to Ingrid"
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url)) as stack:
        halvorsen = _customer_id(stack, "Halvorsen Marine")
        lines = [{"sku": "PMP-BLG-200", "quantity": 4}]
        anthropic_api.script(
            *_triage(stack, ask, "quotes"),
            tool_reply("search_customers", {"query": "Halvorsen"}),
            tool_reply("calculate_price", {"lines": lines, "customer_id": halvorsen}),
            tool_reply(
                "send_email_draft",
                {
                    "customer_id": halvorsen,
                    "to": INGRID,
                    "subject": "Quote: 4 bilge pumps",
                    "body": "Hi Ingrid,\n\n4 x PMP-BLG-200 at $1,480: $5,920.\n\nBest,\nMaya",
                },
            ),
        )
        root = _ask(stack, ask)
        card = stack.draft_card(root)
        with UnitOfWork(stack.services.factory) as uow:
            draft = uow.session.scalars(select(Draft).order_by(Draft.id.desc())).first()
    anthropic_api.assert_done()
    assert card is not None, "no draft card in the thread"
    card_text = json.dumps(card.blocks, ensure_ascii=False)
    assert (
        "Email draft" in card_text and INGRID in card_text and "Quote: 4 bilge pumps" in card_text
    )
    assert draft is not None and draft.status == DraftStatus.PENDING
    assert (draft.kind, draft.agent, draft.customer_id) == (DraftKind.EMAIL, "quotes", halvorsen)
    priced = _tool_results(anthropic_api.message_requests[-1])[-1]
    assert (priced["total"], priced["approval"]) == ("5920.00", "rep")
    # the model saw placeholders (PII redaction); the card above carries the real address
    assert INGRID not in json.dumps(anthropic_api.message_requests)
    assert all(c["email"].startswith("<EMAIL_") for c in priced["customer"]["contacts"])


def test_offline_open_invoices_answer_in_demo_mode(tmp_path):
    with running_stack(tmp_path) as stack:
        shown = _reply_text(stack, _ask(stack, "what are Halvorsen's open invoices?"))
    # Only the orders specialist's template says this (offline runs write no ledger rows).
    assert "Halvorsen Marine* owes nothing" in shown and "No open invoices" in shown
    assert "Offline mode" in shown


def test_offline_price_request_answer_in_demo_mode(tmp_path):
    with running_stack(tmp_path) as stack:
        shown = _reply_text(stack, _ask(stack, "price 4 bilge pumps for Halvorsen"))
    assert "Quote for Halvorsen Marine: $5,920" in shown
    assert "1 more PMP-BLG-200 would reach the 5% break" in shown


def test_offline_quote_sent_to_a_customer_is_a_draft_card_at_the_quoted_total(tmp_path):
    ask = "send a quote for 12 zinc anodes to Atlantic Ferries with 5% off"
    with running_stack(tmp_path) as stack:
        root = _ask(stack, ask)
        card = stack.draft_card(root)
        with UnitOfWork(stack.services.factory) as uow:
            draft = uow.session.scalars(select(Draft).order_by(Draft.id.desc())).first()
    assert card is not None and draft is not None
    assert draft.payload["to_address"] == "niamh.gallagher@atlanticferries.ie"
    # 12 x 91.91 (the 5% break) = 1102.92; 5% off = 55.146 -> 55.15 (half-up); 1047.77
    assert "Total: $1,047.77" in draft.payload["body"]
