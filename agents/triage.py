"""Triage: local rules decide when confident; otherwise one small model call with a forced tool.

The rules read topic signals from tables of phrases. A *strong* phrase names what is asked
("invoice", "win rate", "price"); a *weak* one only leans ("how much", "this quarter", a
product). Precedence, first match wins:

1. help: a greeting or thanks, or a question about the bot itself (with no CRM topic).
2. a writing request (`wants_draft`) → drafting, except an order to place → orders and a
   quote to put together (no email or note asked for) → quotes: those specialists can price
   and look up the order history before they propose the gated draft. "Draft an email with
   the quote" stays with drafting: the rep asked for an email.
3. exactly one topic with a strong phrase → that topic; but numbers for a named customer
   ("Kestrel revenue this year": the account, its orders, or analytics?) go to the model.
4. no strong phrase and a known customer's name with nothing pulling elsewhere → customer.
5. anything else (two strong topics, only weak hints, nothing at all) → None: the model
   decides. A wrong confident answer costs more than one small model call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from agents.drafts.intent import wants_draft
from agents.llm.port import LLM, LLMRequest
from agents.specs import AgentSpec, prompts

RoutedBy = Literal["rules", "sticky", "model"]


def _words(alternatives: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching any of the `|`-separated phrases as whole words."""
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


_GREETING = re.compile(
    r"^\s*(hi|hello|hey|yo|thanks|thank you|thx|ty|cheers|help|\?|what can you do|"
    r"good (morning|afternoon|evening)|morning|cool|great|nice|ok(ay)?|"
    r"how do (i|you) use|who are you|what are you)\b[\s!.?]*",
    re.IGNORECASE,
)
# Questions about Countersign itself, not the CRM.
_ABOUT_BOT = _words(
    r"what can (you|i ask)|what (kind of )?(stuff|things) can i ask|what are you able|"
    r"how do i (use|approve|reject|edit)|can you (see|read|access)|(data|info\w*) do you have|"
    r"by yourself|on your own|this (bot|thing|app)|(is|are) my data"
)

# (topic, strong phrases, weak phrases): the heart of the rules, kept in one table.
_TOPICS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "analytics",
        _words(
            r"pipe(line)?s?|revenue|rev|win ?rate|win[/-]loss|forecasts?|quota|bookings|"
            r"leaderboard|conversion( rate)?|deal size|stale|stuck|"
            r"top \d*\s*(customers|accounts|deals)|biggest (accounts|customers|deals?)|"
            r"sales (numbers|figures)|metrics|ytd|targets?|how did we do|hit the number|"
            r"across (my|our|the) (book|accounts)|all customers|(did|have) we (close|win|lose)"
        ),
        _words(r"quarter|qtr|q[1-4]|(this|last|next) (month|year|yr|week)|total|how many|deals"),
    ),
    (
        "quotes",
        _words(
            r"price[sd]?|pricing|quot(e|es|ed|ing)|discounts?|\d+\s?% off|catalog(ue)?|skus?|"
            r"do we (sell|carry|offer)|products?|cheaper|ballpark|rough cost|configure|"
            r"promo(tion)?s?|what('?s| does| would) (it|that|this) cost|cost per"
        ),
        _words(
            r"how much|costs?|in stock|fits?|pumps?|winch(es)?|cranes?|anodes?|separators?|"
            r"separation|filters?|sensors?|careplus|inspection|kits?"
        ),
    ),
    (
        "orders",
        _words(
            r"re-?order(s|ed)?|orders?|ordered|pos?|so-\d+|inv-\d+|invoices?|inv|owes?|owed|"
            r"owing|paid|pay(ment)?s?|unpaid|outstanding|balance|deliver(y|ies|ed)|backorders?|"
            # Not "shipping": it is in company names ("Polaris Shipping").
            r"tracking (number|info|link)|credit hold|ship(ped|ments?)?"
        ),
        _words(r"overdue|late"),
    ),
    (
        "customer",
        _words(
            r"tell me (everything )?about|rundown|brief(ing)?|360|health(y)?|contacts?|"
            r"decision maker|who owns|who (do|should) i (talk|speak) to|churn(ed)?|"
            r"relationship|red flags|prep me|where are we( at)?|last (talk|spoke|activity)|"
            r"what did we discuss|went quiet|phone( number)?|"
            r"what'?s (going on|up|happening|the story) with"
        ),
        _words(
            r"account|status|how('?s| is| are)|latest|news|anything i should know|deal|stage|"
            r"renewal"
        ),
    ),
)
# A writing request whose object is an order to place, or a quote to put together.
_ORDER_TO_PLACE = _words(r"re-?order|(an|the|new) order (for|of)")
_QUOTE_TO_WRITE = _words(r"quote")
_WRITTEN_THING = _words(r"e-?mails?|notes?|follow[- ]?up|reply|msg|message")
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


@dataclass(frozen=True)
class Signals:
    """What the words of a request point at."""

    strong: tuple[str, ...]  # topics with a strong phrase, in table order
    weak: tuple[str, ...]  # topics with only a weak phrase
    named: str | None  # a known customer's distinctive word


def name_keys(name: str) -> set[str]:
    """The distinctive lowercase words of a customer name."""
    words = re.findall(r"[\w'-]+", name.lower())
    return {w for w in words if len(w) >= 4 and w not in _GENERIC_NAME_WORDS}


class PreRouter:
    """Cheap local routing: answers (specialist, reason) when sure, None when not."""

    def __init__(self, customer_names: Iterable[str]) -> None:
        self._keys = set().union(*(name_keys(n) for n in customer_names))

    def signals(self, text: str) -> Signals:
        """The topics the request's phrases point at, and a customer it names."""
        strong = tuple(topic for topic, hard, _soft in _TOPICS if hard.search(text))
        weak = tuple(
            topic for topic, _hard, soft in _TOPICS if topic not in strong and soft.search(text)
        )
        words = {w.strip("'-") for w in re.findall(r"[\w'-]+", text.lower())}
        words |= {w.removesuffix("'s") for w in words}
        named = sorted(words & self._keys)
        return Signals(strong, weak, named[0] if named else None)

    def decide(self, text: str) -> tuple[str, str] | None:
        """A confident decision, or None."""
        found = self.signals(text)
        if _is_help(text, found):
            return "help", "greeting or question about the bot"
        if wants_draft(text):  # judged on the request, not on text it quotes (shortcuts)
            return _writing(text.split("\n\n", 1)[0])
        if len(found.strong) == 1:
            topic = found.strong[0]
            if topic == "analytics" and found.named:
                return None  # one account's numbers: customer, orders or analytics
            return topic, f"asks about {topic}"
        if not found.strong and found.named and set(found.weak) <= {"customer"}:
            return "customer", f"mentions customer {found.named!r}"
        return None

    def leans(self, text: str) -> str | None:
        """A best guess when not sure (the offline adapter's router and thread follow-ups)."""
        found = self.signals(text)
        guesses = (*found.strong, *(["customer"] if found.named else []), *found.weak)
        if not guesses and (_GREETING.match(text) or _ABOUT_BOT.search(text)):
            return "help"  # "hello, first time using this"
        return guesses[0] if guesses else None


def _is_help(text: str, found: Signals) -> bool:
    words = len(re.findall(r"[\w'-]+", text))
    if _GREETING.fullmatch(text.strip()) or (words <= 3 and _GREETING.match(text)):
        return True
    return bool(_ABOUT_BOT.search(text)) and not found.strong and not found.named


def _writing(text: str) -> tuple[str, str]:
    if _ORDER_TO_PLACE.search(text):
        return "orders", "asks for an order to be placed"
    if _QUOTE_TO_WRITE.search(text) and not _WRITTEN_THING.search(text):
        return "quotes", "asks for a quote to be put together"
    return "drafting", "asks for something to be written"


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
        lean = pre.leans(text)
        if active_agent in self._specialists and lean in (None, active_agent):
            assert active_agent is not None
            return Route(active_agent, "follow-up in the same thread", "sticky")
        return self._ask_model(text, llm=llm, active_agent=active_agent, lean=lean)

    def _ask_model(
        self, text: str, *, llm: LLM, active_agent: str | None, lean: str | None
    ) -> Route:
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
            # The offline adapter has no model: it routes by the rules' best guess.
            hints={"leans": lean or "", "active_agent": active_agent or ""},
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
