"""The offline adapter: no model. It plans tool calls by rules and writes answers from Jinja
templates over the real tool results, through the same loop a model would use. Costs $0."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from anthropic.types import Message

from agents.llm import offline_analytics, offline_orders, offline_quotes
from agents.llm.offline_drafting import plan_drafting
from agents.llm.port import LLMRequest
from agents.llm.transcript import (
    clear_winner,
    earlier_questions,
    latest_question,
    steps_since_question,
    text_block,
    tool_use,
)
from agents.specs import prompts
from agents.triage import PreRouter

OFFLINE_MODEL = "offline"
# "and their contacts?" continues the thread's customer; "tell me about Zebra" does not.
_FOLLOW_UP = re.compile(
    r"\b(their|they|them|it|its|he|she|his|her|those|this one|that one)\b"
    r"|^\s*(and|also|what about)\b",
    re.IGNORECASE,
)
Planner = Callable[[LLMRequest], dict[str, Any]]


class OfflineLLM:
    """Deterministic stand-in for Claude when no API key is configured."""

    offline = True

    def __init__(self) -> None:
        self._planners: dict[str, Planner] = {
            "triage": _plan_route,
            "customer": _plan_customer,
            "drafting": plan_drafting,
            "orders": offline_orders.plan,
            "analytics": offline_analytics.plan,
            "quotes": offline_quotes.plan,
            "help": lambda _request: text_block(prompts().get_template("offline_help.j2").render()),
        }

    def create(self, request: LLMRequest) -> Message:
        """The next step for the asking agent, as a real Messages API message with zero usage."""
        planner = self._planners.get(request.agent)
        block = (
            planner(request)
            if planner
            else text_block(
                "Offline mode has no rules for this request yet. "
                "Set ANTHROPIC_API_KEY to use Claude."
            )
        )
        return Message.model_validate(
            {
                "id": f"offline_{uuid.uuid4().hex[:16]}",
                "type": "message",
                "role": "assistant",
                "model": OFFLINE_MODEL,
                "content": [block],
                "stop_reason": "tool_use" if block["type"] == "tool_use" else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        )


def _plan_route(request: LLMRequest) -> dict[str, Any]:
    """The rules' best guess (the router's hint knows the customer names), else the thread's
    specialist, else customer: with no model, a guess beats asking the rep to rephrase."""
    question = latest_question(request.messages)
    choice = (
        request.hints.get("leans")
        or PreRouter(()).leans(question)
        or request.hints.get("active_agent")
        or "customer"
    )
    return tool_use("route", {"specialist": choice, "reason": "offline rules"})


def _plan_customer(request: LLMRequest) -> dict[str, Any]:
    """search → get the best match → answer; follow-ups fall back to earlier questions."""
    question = latest_question(request.messages)
    steps = steps_since_question(request.messages)
    if not steps:
        return tool_use("search_customers", {"query": question, "limit": 5})
    name, result = steps[-1]
    if name == "get_customer":
        return text_block(prompts().get_template("offline_customer.j2").render(data=result))
    if name == "search_customers":
        searches = sum(n == name for n, _ in steps)
        return _after_search(result, request.messages, searches=searches, question=question)
    return text_block("I could not read that customer record.")


def _after_search(
    result: dict[str, Any], messages: list[dict[str, Any]], *, searches: int, question: str
) -> dict[str, Any]:
    hits = result.get("customers", [])
    winner = clear_winner(result)
    if winner:
        return tool_use("get_customer", {"customer_id": winner["id"]})
    if hits:
        return text_block(prompts().get_template("offline_ambiguous.j2").render(hits=hits))
    earlier = earlier_questions(messages)
    if searches == 1 and earlier and _FOLLOW_UP.search(question):
        return tool_use("search_customers", {"query": " ".join(earlier[-3:]), "limit": 5})
    return text_block(
        prompts()
        .get_template("offline_not_found.j2")
        .render(terms=result.get("_meta", {}).get("terms", []))
    )
