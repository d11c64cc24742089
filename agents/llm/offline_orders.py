"""Offline planner of the orders specialist: find the customer, read their invoices or orders
(or one order by number, or every overdue invoice of the book), answer from a template over
the real tool result. "Order 2 PMP-BLG-200 for X" proposes the gated order draft."""

from __future__ import annotations

import re
from typing import Any

from agents.llm.port import LLMRequest
from agents.llm.transcript import (
    clear_winner,
    latest_question,
    steps_since_question,
    text_block,
    tool_use,
)
from agents.specs import prompts

_ORDER_NUMBER = re.compile(r"\b(SO-\d+)\b", re.IGNORECASE)
_INVOICE = re.compile(
    r"\b(invoices?|inv|owes?|owed|owing|paid|unpaid|pay(ment)?s?|outstanding|balance|"
    r"overdue|bills?|billed)\b",
    re.IGNORECASE,
)
_OPEN = re.compile(r"\b(open|unpaid|outstanding|owes?|owed|owing|balance|due)\b", re.IGNORECASE)
_OVERDUE = re.compile(r"\b(overdue|late|past due)\b", re.IGNORECASE)
_PLACE_ORDER = re.compile(r"^\s*(please\s+)?(re-?order|order|place|create)\b", re.IGNORECASE)
_SKU_LINE = re.compile(r"\b(\d{1,5})\s*(?:x|×|units? of)?\s*([A-Z]{2,}(?:-[A-Z0-9]+)+)\b")
# Words of an orders question that never name a customer (kept out of the customer search).
_NOT_A_NAME = re.compile(
    r"'s\b|\b(what|which|who|are|is|the|their|all|any|last|latest|recent|show|list|me|us|"
    r"orders?|ordered|re-?order|invoices?|inv|open|unpaid|outstanding|paid|overdue|late|due|"
    r"owes?|owed|owing|balance|bills?|status|shipped|delivered|how|much|many|does|do|did|"
    r"for|of|from|please|place|create|units?|customer|account|client|can|you|tell)\b"
    r"|\d+|[A-Z]{2,}(?:-[A-Z0-9]+)+|[?!.,]",
    re.IGNORECASE,
)
_TEMPLATES = {
    "list_invoices": "offline_orders_invoices.j2",
    "list_orders": "offline_orders_list.j2",
    "get_order": "offline_orders_order.j2",
    "list_overdue_invoices": "offline_orders_overdue.j2",
}


def plan(request: LLMRequest) -> dict[str, Any]:
    """The next step of an offline orders run."""
    question = latest_question(request.messages)
    steps = steps_since_question(request.messages)
    if not steps:
        return _first_step(question)
    name, result = steps[-1]
    if "error" in result:
        return text_block(f"I could not read that: {result['error']}")
    if name == "search_customers":
        return _after_search(question, result)
    if name in _TEMPLATES:
        return text_block(prompts().get_template(_TEMPLATES[name]).render(data=result).strip())
    return text_block("Drafted for approval.")


def customer_words(question: str) -> str:
    """What is left of the question once the orders vocabulary is taken out: the customer."""
    return " ".join(_NOT_A_NAME.sub(" ", question).split())


def _first_step(question: str) -> dict[str, Any]:
    number = _ORDER_NUMBER.search(question)
    if number:
        return tool_use("get_order", {"number": number.group(1).upper()})
    name = customer_words(question)
    if name:
        return tool_use("search_customers", {"query": name, "limit": 5})
    if _INVOICE.search(question):
        return tool_use("list_overdue_invoices", {"limit": 20})
    return text_block(
        'Which customer? Ask e.g. "what are Halvorsen\'s open invoices?" or '
        '"last orders of Nordic Aquafarms".'
    )


def _after_search(question: str, result: dict[str, Any]) -> dict[str, Any]:
    winner = clear_winner(result)
    hits = result.get("customers", [])
    if winner is None and hits:
        return text_block(prompts().get_template("offline_ambiguous.j2").render(hits=hits))
    if winner is None:
        if _OVERDUE.search(question):  # "which invoices are overdue this week?": the whole book
            return tool_use("list_overdue_invoices", {"limit": 20})
        terms = result.get("_meta", {}).get("terms", [])
        return text_block(prompts().get_template("offline_not_found.j2").render(terms=terms))
    lines = [{"sku": sku, "quantity": int(n)} for n, sku in _SKU_LINE.findall(question)]
    if lines and _PLACE_ORDER.match(question):
        return tool_use("create_order_draft", {"customer_id": winner["id"], "lines": lines})
    if _INVOICE.search(question):
        return tool_use("list_invoices", {"customer_id": winner["id"], "state": _state(question)})
    return tool_use("list_orders", {"customer_id": winner["id"], "limit": 10})


def _state(question: str) -> str:
    if _OVERDUE.search(question):
        return "overdue"
    return "open" if _OPEN.search(question) else "all"
