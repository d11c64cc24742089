"""The local triage rules against the labelled request set (tests/data/triage_requests.jsonl).

A rule decision must be right (a wrong confident route costs more than a model call), and
the rules must decide at least half of what reps ask. bench/triage.py reports the details."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from anthropic.types import Message

from agents.llm.offline import OfflineLLM
from agents.llm.port import LLMRequest
from agents.specialists import DEFAULT_SPECIALIST, SPECIALISTS
from agents.triage import PreRouter, Router

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    json.loads(line)
    for line in (ROOT / "tests/data/triage_requests.jsonl").read_text("utf-8").splitlines()
]
NAMES = [
    c["name"] for c in json.loads((ROOT / "storage/data/demo_crm.json").read_text())["customers"]
]
Decide = Callable[[str], "tuple[str, str] | None"]


def acceptable(row: dict[str, Any]) -> set[str]:
    return set(row.get("acceptable", [row["expected"]]))


def rule_scores(decide: Decide) -> tuple[float, float, list[str]]:
    """(precision of the decisions, share decided, the wrong ones)."""
    decided = [(row, decide(row["text"])) for row in ROWS]
    made = [(row, d[0]) for row, d in decided if d is not None]
    wrong = [f"{row['text']!r} → {got}" for row, got in made if got not in acceptable(row)]
    return 1 - len(wrong) / len(made), len(made) / len(ROWS), wrong


def test_the_set_is_well_formed_and_spread_over_every_specialist():
    assert len(ROWS) >= 150
    assert len({row["text"] for row in ROWS}) == len(ROWS), "duplicate requests"
    for row in ROWS:
        assert set(row) <= {"text", "expected", "acceptable", "note", "split"}, row
        assert row["text"].strip() and row["split"] in {"tune", "holdout", "fresh"}, row
        assert row["expected"] in SPECIALISTS, row
        assert acceptable(row) <= set(SPECIALISTS) and row["expected"] in acceptable(row), row
    per_specialist = Counter(row["expected"] for row in ROWS)
    assert set(per_specialist) == set(SPECIALISTS)
    assert min(per_specialist.values()) >= 15, per_specialist
    held_out = sum(row["split"] != "tune" for row in ROWS) / len(ROWS)
    assert held_out >= 0.3


def test_rule_decisions_are_right_and_cover_at_least_half_of_the_set():
    precision, coverage, wrong = rule_scores(PreRouter(NAMES).decide)
    assert precision >= 0.98, wrong
    assert coverage >= 0.5


def test_the_check_fails_a_pre_router_that_guesses():
    precision, coverage, _wrong = rule_scores(lambda text: ("customer", "a guess"))
    assert coverage == 1.0 and precision < 0.98


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("top customers by orders last year", "two strong topics"),
        ("kestrel revenue this year", "one named account's numbers"),
        ("could you explain your features", "no rule for it: the model decides"),
    ],
)
def test_the_pre_router_abstains_when_it_is_not_sure(text, why):
    assert PreRouter(NAMES).decide(text) is None, why


@pytest.mark.parametrize(
    ("text", "specialist"),
    [
        ("pull up the account for Polaris Shipping", "customer"),  # "Shipping" is in a name
        ("draft an email to Kestrel with the quote", "drafting"),  # an email was asked for
        ("put together a quote for Kestrel: 2 winches", "quotes"),  # a quote to price
        ("reorder the usual filters for Halvorsen", "orders"),  # an order to place
        ("remind me who runs operations at Halvorsen", "customer"),  # a question
    ],
)
def test_precedence_between_topics(text, specialist):
    decided = PreRouter([*NAMES, "Polaris Shipping"]).decide(text)
    assert decided is not None and decided[0] == specialist


class CountingOffline(OfflineLLM):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[LLMRequest] = []

    def create(self, request: LLMRequest) -> Message:
        self.requests.append(request)
        return super().create(request)


def route(text: str, active_agent: str | None = None) -> tuple[str, str, int]:
    llm = CountingOffline()
    router = Router(SPECIALISTS, default=DEFAULT_SPECIALIST, model="offline")
    got = router.route(text, pre=PreRouter(NAMES), llm=llm, active_agent=active_agent)
    return got.specialist, got.routed_by, len(llm.requests)


def test_a_follow_up_without_a_topic_stays_with_the_threads_specialist():
    assert route("who should I call there?", active_agent="orders") == ("orders", "sticky", 0)


def test_a_follow_up_leaning_to_another_topic_asks_the_model_and_offline_follows_the_lean():
    assert route("kestrel revenue this year", active_agent="customer") == (
        "analytics",
        "model",
        1,
    )


def test_offline_routing_uses_the_name_aware_lean_for_an_unsure_request():
    # Abstained (two strong topics); the lean is the first in the table.
    assert route("top customers by orders last year") == ("analytics", "model", 1)
