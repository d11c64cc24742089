"""Triage: local rules decide when confident; otherwise one small model call with a forced tool."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from agents.drafts.intent import wants_draft
from agents.llm.port import LLM, LLMRequest
from agents.specs import AgentSpec, prompts

RoutedBy = Literal["rules", "sticky", "model"]

_HELP = re.compile(
    r"^\s*(hi|hello|hey|yo|thanks|thank you|thx|cheers|help|\?|what can you do|"
    r"how do (i|you) use|who are you|what are you)\b[\s!.?]*",
    re.IGNORECASE,
)
_CUSTOMER_WORDS = re.compile(
    r"\b(customer|account|client|health|overdue|invoice|contacts?|deals?|renewal|"
    r"what'?s (going on|up|happening) with|tell me about|status of|how is|how are)\b",
    re.IGNORECASE,
)
# Words too common in company names to identify one ("Halvorsen Marine" is known by "halvorsen").
_GENERIC_NAME_WORDS = frozenset(
    "the and inc llc ltd gmbh corp corporation company group holdings industries industrial "
    "marine systems services solutions international global partners supply trading co".split()
)


@dataclass(frozen=True)
class Route:
    """Which specialist answers, and why."""

    specialist: str
    reason: str
    routed_by: RoutedBy


def name_keys(name: str) -> set[str]:
    """The distinctive lowercase words of a customer name."""
    words = re.findall(r"[\w'-]+", name.lower())
    return {w for w in words if len(w) >= 4 and w not in _GENERIC_NAME_WORDS}


class PreRouter:
    """Cheap local routing: answers (specialist, reason) when sure, None when not."""

    def __init__(self, customer_names: Iterable[str]) -> None:
        self._keys = set().union(*(name_keys(n) for n in customer_names))

    def decide(self, text: str) -> tuple[str, str] | None:
        """A confident decision, or None."""
        words = set(re.findall(r"[\w'-]+", text.lower()))
        if _HELP.fullmatch(text.strip()) or (len(words) <= 3 and _HELP.match(text)):
            return "help", "greeting or question about the bot"
        if wants_draft(text):
            return "drafting", "asks for something to be written"
        named = sorted(words & self._keys)
        if named:
            return "customer", f"mentions customer {named[0]!r}"
        return None

    def leans(self, text: str) -> str | None:
        """A weak hint (used by the offline adapter, which has no model to ask)."""
        if _CUSTOMER_WORDS.search(text):
            return "customer"
        return None


class Router:
    """Rules first, then the thread's current specialist, then the model."""

    def __init__(self, specialists: dict[str, AgentSpec], *, default: str, model: str) -> None:
        self._specialists = specialists
        self._default = default
        self._model = model

    def route(self, text: str, *, pre: PreRouter, llm: LLM, active_agent: str | None) -> Route:
        """Decide who answers `text`; at most one model call."""
        decided = pre.decide(text)
        if decided is not None and decided[0] in self._specialists:
            return Route(decided[0], decided[1], "rules")
        if active_agent in self._specialists and pre.leans(text) in (None, active_agent):
            assert active_agent is not None
            return Route(active_agent, "follow-up in the same thread", "sticky")
        return self._ask_model(text, llm=llm, active_agent=active_agent)

    def _ask_model(self, text: str, *, llm: LLM, active_agent: str | None) -> Route:
        names = sorted(self._specialists)
        request = LLMRequest(
            agent="triage",
            model=self._model,
            system=prompts()
            .get_template("triage.j2")
            .render(specialists=self._specialists.values(), active_agent=active_agent),
            messages=[{"role": "user", "content": text}],
            tools=[route_tool(names)],
            tool_choice={"type": "tool", "name": "route"},
            max_tokens=200,
        )
        reply = llm.create(request)
        choice = next((b.input for b in reply.content if b.type == "tool_use"), None)
        return self._parse(choice)

    def _parse(self, choice: Any) -> Route:
        if isinstance(choice, dict) and choice.get("specialist") in self._specialists:
            return Route(str(choice["specialist"]), str(choice.get("reason", ""))[:300], "model")
        return Route(self._default, f"model gave no valid route ({choice!r:.80})", "model")


def route_tool(names: list[str]) -> dict[str, Any]:
    """The forced `route` tool: its schema only admits the specialists on duty."""
    return {
        "name": "route",
        "description": "Choose the specialist that should handle the request.",
        "input_schema": {
            "type": "object",
            "properties": {
                "specialist": {"type": "string", "enum": names},
                "reason": {"type": "string", "description": "One short sentence."},
            },
            "required": ["specialist", "reason"],
        },
    }
