"""Triage on the labelled request set: how often the local rules decide, how often they are
right, and how often the whole router is right with two stand-ins for the model.

Every request of tests/data/triage_requests.jsonl goes through the real `Router` in a fresh
thread, the pre-router knowing the demo CRM's customer names. The model step is answered by

- the offline adapter's router (what demo mode does without an API key), and
- an oracle that always names the labelled specialist: an UPPER BOUND, not a measurement.

The real model's accuracy cannot be measured offline. With ANTHROPIC_API_KEY set, `--real`
also asks Claude (the configured triage model) for the requests the rules leave open, one
call each. Every split is reported: "tune" (the rules were tuned against it), "holdout"
(scored once the rules were frozen) and "fresh" (written after that, never tuned on).
Usage: `.venv/bin/python bench/triage.py [--real] [--write]`
(`--write` puts the result in bench/RESULTS.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import machine, write_section
from anthropic.types import Message

from agents.llm.offline import OfflineLLM
from agents.llm.port import LLM, LLMRequest
from agents.specialists import DEFAULT_SPECIALIST, SPECIALISTS
from agents.triage import PreRouter, Route, Router

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = ROOT / "tests" / "data" / "triage_requests.jsonl"
DEMO_CRM = ROOT / "storage" / "data" / "demo_crm.json"
# tune: the rules were tuned on it; holdout: scored once the rules were frozen; fresh:
# 40 longer, chattier requests written after that, scored once, never tuned on.
SPLITS = ("tune", "holdout", "fresh")


@dataclass(frozen=True)
class Labelled:
    """One request and the specialists that would be a right answer."""

    text: str
    expected: str
    acceptable: frozenset[str]
    split: str


def load() -> list[Labelled]:
    """The labelled set."""
    rows = [json.loads(line) for line in REQUESTS.read_text(encoding="utf-8").splitlines()]
    return [
        Labelled(
            r["text"], r["expected"], frozenset(r.get("acceptable", [r["expected"]])), r["split"]
        )
        for r in rows
    ]


class CountingLLM:
    """Counts the model calls the router makes and lets `answer` pick the route."""

    def __init__(self, answer: Callable[[LLMRequest], Message], *, offline: bool) -> None:
        self.calls = 0
        self._answer = answer
        self._offline = offline

    @property
    def offline(self) -> bool:
        """Whether the stand-in plays the offline adapter."""
        return self._offline

    def create(self, request: LLMRequest) -> Message:
        """One counted model call."""
        self.calls += 1
        return self._answer(request)


def oracle(expected: str) -> Callable[[LLMRequest], Message]:
    """A model that always names the labelled specialist (the upper bound)."""

    def answer(_request: LLMRequest) -> Message:
        return Message.model_validate(
            {
                "id": "msg_oracle",
                "type": "message",
                "role": "assistant",
                "model": "oracle",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_oracle",
                        "name": "route",
                        "input": {"specialist": expected, "reason": "oracle"},
                    }
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        )

    return answer


def route(text: str, pre: PreRouter, llm: LLM, model: str = "bench") -> Route:
    """The production router in a fresh thread (no sticky specialist)."""
    router = Router(SPECIALISTS, default=DEFAULT_SPECIALIST, model=model)
    return router.route(text, pre=pre, llm=llm, active_agent=None)


def real_model() -> tuple[LLM, str]:
    """Claude through the product adapter and settings, and the triage model's name."""
    from agents.llm.anthropic_llm import AnthropicLLM
    from agents.settings import AgentSettings

    settings = AgentSettings()
    return AnthropicLLM.from_settings(settings), settings.triage_model


def score(rows: list[Labelled], pre: PreRouter, real: tuple[LLM, str] | None) -> dict[str, Any]:
    """Coverage and accuracy of one split."""
    offline = OfflineLLM()
    by_rules = rules_right = offline_right = oracle_right = real_right = 0
    wrong: list[dict[str, str]] = []
    for row in rows:
        counted = CountingLLM(offline.create, offline=True)
        got = route(row.text, pre, counted)
        if counted.calls == 0:
            by_rules += 1
            rules_right += got.specialist in row.acceptable
        offline_right += got.specialist in row.acceptable
        if got.specialist not in row.acceptable:
            wrong.append(
                {
                    "text": row.text,
                    "expected": row.expected,
                    "got": got.specialist,
                    "by": "rules" if counted.calls == 0 else "offline fallback",
                }
            )
        with_oracle = route(row.text, pre, CountingLLM(oracle(row.expected), offline=False))
        oracle_right += with_oracle.specialist in row.acceptable
        if real is not None:
            real_right += route(row.text, pre, *real).specialist in row.acceptable
    n = len(rows)
    result: dict[str, Any] = {
        "total": n,
        "decided_without_model": round(by_rules / n, 3),
        "rules_decided": by_rules,
        "rules_precision": round(rules_right / by_rules, 3) if by_rules else None,
        "accuracy_with_offline_fallback": round(offline_right / n, 3),
        "accuracy_upper_bound_oracle_model": round(oracle_right / n, 3),
        "wrong_with_offline_fallback": wrong,
    }
    if real is not None:
        result["accuracy_with_real_model"] = round(real_right / n, 3)
    return result


def main() -> None:
    """Print the JSON report (and write RESULTS.md with --write)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="also ask Claude (needs the key)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.real and not os.environ.get("ANTHROPIC_API_KEY"):
        sys.exit("--real needs ANTHROPIC_API_KEY; the offline numbers need nothing")
    names = [c["name"] for c in json.loads(DEMO_CRM.read_text(encoding="utf-8"))["customers"]]
    pre = PreRouter(names)
    rows = load()
    real = real_model() if args.real else None
    report = {
        "machine": machine(),
        "targets": {"accuracy": 0.95, "decided_without_model": 0.5},
        "model_note": "the real model's accuracy is not measured offline; the oracle is an "
        "upper bound (a model that is always right on what the rules leave open)",
        "splits": {
            split: score([r for r in rows if r.split == split], pre, real) for split in SPLITS
        },
        "all": score(rows, pre, None),  # the real model is asked once per request, in its split
    }
    print(json.dumps(report, indent=2))
    if args.write:
        write_section("Triage", results_text(report))


# History the table cannot show: the splits' first scores, before the fixes they prompted.
READING = """Reading. Each held-out split was scored once before any change it prompted:
holdout (68, frozen rules): 85.3 % decided by rules, 57 of 58 right (98.3 %; "email address
of …" read as a draft), 98.5 % right with the offline fallback. Fresh (40 chattier requests
written after that): 57.5 % decided by rules, 21 of 23 right (91.3 %: "tracking against
target" read as shipment tracking, "let Meridian know …" not read as a writing request),
72.5 % right offline, 95 % with the oracle. Those three were then fixed, so the table's
100 % on holdout and fresh is no longer out of sample. The fresh split is the honest
estimate for new wording: the rules decide a bit over half of it and are right ~91-100 % of
the time; everything else goes to the model. One author wrote both the set and the rules,
which flatters the tune and holdout numbers. The offline fallback misses are requests
with no signal at all (a typo'd "pipelne", "average days to close a deal?", questions about
the bot): offline they go to the customer specialist; with a key, to the model."""


def results_text(report: dict[str, Any]) -> str:
    """The RESULTS.md section: machine, one row per split, and what the numbers mean."""
    m = report["machine"]
    rows = [("all", report["all"]), *report["splits"].items()]
    table = "\n".join(
        f"| {name} | {r['total']} | {r['decided_without_model']:.1%} | "
        f"{r['rules_precision']:.1%} | {r['accuracy_with_offline_fallback']:.1%} | "
        f"{r['accuracy_upper_bound_oracle_model']:.1%} |"
        for name, r in rows
    )
    return f"""Machine: {m["platform"]}, {m["cpu_count"]} CPUs, Python {m["python"]}.
Date: {m["date"]}. Command: `.venv/bin/python bench/triage.py --write`.

The labelled set tests/data/triage_requests.jsonl through the real `Router` in a fresh
thread, the pre-router knowing the demo CRM's customer names. "Right" means the labelled
specialist, or one of the `acceptable` ones for a genuinely ambiguous request.

| split | n | no model call | rules right | right (offline) | right (oracle, upper bound) |
|---|--:|--:|--:|--:|--:|
{table}

Targets: ≥ 95 % right, ≥ 50 % without a model call. The oracle column is an upper bound
(a model that is always right on what the rules leave open), not a measurement: the real
model's accuracy cannot be measured offline (`--real` does it with ANTHROPIC_API_KEY).

{READING}"""


if __name__ == "__main__":
    main()
