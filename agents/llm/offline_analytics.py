"""Offline planner of the analytics specialist: rules and templates over real tool results.

One question, one tool: the question's words pick the tool and its arguments (which window,
month or quarter, how many, by rep), the tool runs for real, and a template per tool writes the
answer from its result. What no rule recognises gets the metrics summary."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from agents.llm.port import LLMRequest
from agents.llm.transcript import latest_question, steps_since_question, text_block, tool_use
from agents.specs import money, prompts

_STALE = re.compile(r"\b(stale|stuck|stalled|idle|sitting|not moving|no movement)\b", re.I)
_WIN_RATE = re.compile(r"\b(win ?rate|win[/-]loss|close rate|conversion|won (vs|and) lost)\b", re.I)
_TOP = re.compile(r"\b(top|biggest|best|largest)\b.*\b(customers?|accounts?|clients?)\b", re.I)
_REVENUE = re.compile(r"\b(revenue|rev|sales|bookings|booked|income|collected|cash)\b", re.I)
_PIPELINE = re.compile(r"\b(pipe(line)?s?|funnel|stages?|open deals)\b", re.I)
_QUARTERLY = re.compile(r"\b(quarter(s|ly)?|qtrs?|q[1-4])\b", re.I)
_COLLECTED = re.compile(r"\b(collected|paid|payments?|cash)\b", re.I)
_BY_OWNER = re.compile(r"\b(by|per|each|every) (rep|owner|seller|person|salesperson)s?\b", re.I)
_COUNT = re.compile(r"\b(?:top|last|past)\s+(\d{1,2})\b", re.I)
_DAYS = re.compile(r"\b(\d{1,3})\s*(?:\+\s*)?days?\b", re.I)
# Phrase → window, first match wins (so "last quarter" is not read as "quarter").
_WINDOWS = (
    (re.compile(r"\b(this|current) (quarter|qtr)\b|\bqtd\b", re.I), "this_quarter"),
    (re.compile(r"\b(last|previous|past) (quarter|qtr)\b", re.I), "last_quarter"),
    (re.compile(r"\b(this|current) month\b|\bmtd\b", re.I), "this_month"),
    (re.compile(r"\b(last|previous|past) month\b", re.I), "last_month"),
    (re.compile(r"\b(this|current) (year|yr)\b|\bytd\b", re.I), "this_year"),
    (re.compile(r"\b(last|previous) (year|yr)\b", re.I), "last_year"),
    (re.compile(r"\b(last|past) 12 months\b|\bpast year\b", re.I), "last_12_months"),
    (re.compile(r"\b(last|past) 30 days\b", re.I), "last_30_days"),
    (re.compile(r"\b(last|past) 90 days\b", re.I), "last_90_days"),
    (re.compile(r"\b(all[ -]time|ever)\b", re.I), "all_time"),
)


def plan(request: LLMRequest) -> dict[str, Any]:
    """The next step of an offline analytics run: the tool the question asks for, then the
    answer written from its result."""
    steps = steps_since_question(request.messages)
    if not steps:
        name, arguments = choose_tool(latest_question(request.messages))
        return tool_use(name, arguments)
    name, result = steps[-1]
    if "error" in result:
        return text_block(f"I could not work that out: {result['error']}")
    currency = str(result.get("_meta", {}).get("currency", "USD"))
    template = prompts().get_template(f"offline_analytics_{name}.j2")
    return text_block(template.render(data=result, amount=_amount_in(currency)).strip())


def choose_tool(question: str) -> tuple[str, dict[str, Any]]:
    """The analytics tool and arguments a question asks for."""
    if _STALE.search(question):
        return "stale_deals", _days(question, default=14, low=1, high=365, key="min_days")
    if _WIN_RATE.search(question):
        args: dict[str, Any] = {"window": _window(question, default="this_quarter")}
        return "win_rate", args | ({"by_owner": True} if _BY_OWNER.search(question) else {})
    if _TOP.search(question):
        limit = _count(question, default=5, high=25)
        return "top_customers", {"window": _window(question, "last_12_months"), "limit": limit}
    if _REVENUE.search(question):
        return "revenue_by_period", _revenue_args(question)
    if _PIPELINE.search(question):
        return "pipeline_by_stage", {}
    return "metrics_summary", _days(question, default=30, low=7, high=365, key="days")


def _revenue_args(question: str) -> dict[str, Any]:
    quarterly = bool(_QUARTERLY.search(question))
    return {
        "period": "quarter" if quarterly else "month",
        "periods": _count(question, default=4 if quarterly else 6, high=24),
        "basis": "collected" if _COLLECTED.search(question) else "booked",
    }


def _window(question: str, default: str) -> str:
    return next((window for pattern, window in _WINDOWS if pattern.search(question)), default)


def _count(question: str, *, default: int, high: int) -> int:
    found = _COUNT.search(question)
    return min(max(int(found.group(1)), 1), high) if found else default


def _days(question: str, *, default: int, low: int, high: int, key: str) -> dict[str, Any]:
    found = _DAYS.search(question)
    return {key: min(max(int(found.group(1)), low), high) if found else default}


def _amount_in(currency: str) -> Any:
    """How the templates write an amount: $48,000 for dollars, 48,000 EUR otherwise."""

    def amount(value: object) -> str:
        if currency == "USD":
            return money(value)
        return f"{Decimal(str(value)):,.0f} {currency}"

    return amount
