"""bench/load.py's numbers: ack and end-to-end percentiles, outcomes, capacity, processes, and the
RESULTS.md section."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
from pathlib import Path
from typing import Any

from _common import percentile, summarize
from load_traffic import KINDS, PEOPLE, Outcome, kind_of, mean_model_calls


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def ram_gb() -> float:
    total = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]  # MemTotal, kB
    return round(int(total) / 1024 / 1024, 1)


def analyse(args: argparse.Namespace, raw: dict[str, Any]) -> dict[str, Any]:
    samples: list[dict[str, float]] = raw["samples"]
    outcomes: dict[int, Outcome] = raw["outcomes"]
    e2e = _e2e(samples, outcomes, raw["wall_minus_mono"])
    return {
        "config": _config(args),
        "ack": {
            **summarize(samples, args.rate),
            "timeouts": _count(samples, status=0),
            "over_3s": _over_3s(samples),
            "by_kind": {k: _ack(samples, k, args.rate) for k in KINDS},
            "windows": _windows(samples, args.warmup),
        },
        "e2e": e2e,
        "throughput": _throughput(samples, outcomes, raw["wall_minus_mono"]),
        "model": {**raw["model"], "calls_per_answer_mix": mean_model_calls()},
        "capacity": _capacity(args, _timeline(raw, samples, args.warmup)),
        "queue": {
            "left_at_end": {k: v for k, v in raw["queue_left"].items() if k != "max_connections"},
            "pg_max_connections": raw["queue_left"]["max_connections"],
            "peak": {
                k: _peak(raw["timeline"], k)
                for k in ("todo", "doing", "pg_connections", "model_in_flight")
            },  # fmt: skip
            "timeline": _timeline(raw, samples, args.warmup)[4::5],  # every 10 s
        },
        "processes": _processes(raw),
        "waitress": raw["waitress"],
        "helpers_cpu_s": {k: round(v, 1) for k, v in raw["helpers_cpu_s"].items()},
        "slack": {"calls": raw["slack_calls"], "unmatched_final_calls": raw["unmatched_calls"]},
        "sent_including_warmup": raw["sent_all"],
        "answered_including_warmup": sum(o.how == "answered" for o in outcomes.values()),
        "waited_after_load_s": raw["waited_after_load_s"],
        "exit_codes": raw["exit_codes"],
    }


def _config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "web_processes": args.web,
        "worker_processes": args.workers,
        "worker_concurrency": args.concurrency,
        "model_latency_s": args.model_latency,
        "answer_deadline_s": args.drain,
        "people": PEOPLE,
        "mix": "80% @mentions (half need triage's model call), 15% DMs, 5% /ai",
    }


def _over_3s(samples: list[dict[str, float]]) -> int:
    """Requests Slack would count as failed: no answer, or the ack later than 3 s."""
    return sum(1 for s in samples if s["status"] == 0 or s["done"] - s["sent"] > 3.0)


def _windows(samples: list[dict[str, float]], warmup: float, width: float = 30.0) -> list[Any]:
    """Ack p99, acks over 3 s and timeouts per `width` seconds of the schedule."""
    if not samples:
        return []
    start = min(s["due"] for s in samples) - warmup
    buckets: dict[int, list[dict[str, float]]] = {}
    for s in samples:
        buckets.setdefault(int((s["due"] - start) // width), []).append(s)
    rows = []
    for index, chosen in sorted(buckets.items()):
        latencies = sorted((s["done"] - s["sent"]) * 1000 for s in chosen)
        rows.append(
            {
                "from_s": int(index * width),
                "n": len(chosen),
                "p99_ms": round(percentile(latencies, 99)),
                "over_3s": _over_3s(chosen),
                "timeouts": _count(chosen, status=0),
            }
        )
    return rows


def _count(samples: list[dict[str, float]], *, status: int) -> int:
    return sum(1 for s in samples if s["status"] == status)


def _ack(samples: list[dict[str, float]], kind: str, rate: float) -> dict[str, Any]:
    chosen = [s for s in samples if kind_of(int(s["n"])) == kind]
    found = summarize(chosen, rate)
    return {k: found.get(k) for k in ("n", "errors", "p50_ms", "p99_ms", "max_ms")}


def _e2e(
    samples: list[dict[str, float]], outcomes: dict[int, Outcome], offset: float
) -> dict[str, Any]:
    """Per measured request: sent (monotonic) → its final Slack call (wall clock − offset)."""
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    counts = {"answered": 0, "error": 0, "refused": 0, "unanswered": 0}
    for s in samples:
        outcome = outcomes.get(int(s["n"]))
        if outcome is None:
            counts["unanswered"] += 1
            continue
        counts[outcome.how] += 1
        if outcome.how == "answered":
            latencies[kind_of(int(s["n"]))].append((outcome.at - offset - s["sent"]) * 1000)
    every = sorted(x for xs in latencies.values() for x in xs)
    return {**counts, **_spread(every),
            "by_kind": {k: {"answered": len(v), **_spread(sorted(v))}
                        for k, v in latencies.items()}}  # fmt: skip


def _spread(ordered: list[float]) -> dict[str, float | None]:
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(ordered, 50)),
        "p99_ms": round(percentile(ordered, 99)),
        "max_ms": round(ordered[-1]),
    }


def _throughput(
    samples: list[dict[str, float]], outcomes: dict[int, Outcome], offset: float
) -> dict[str, Any]:
    """Answers per second while the load was on (first to last measured send)."""
    if not samples:
        return {}
    first = min(s["sent"] for s in samples) + offset
    last = max(s["sent"] for s in samples) + offset
    during = sum(1 for o in outcomes.values() if first <= o.at <= last)
    return {
        "sent_rps": round(len(samples) / (last - first), 1) if last > first else None,
        "answered_rps_during_load": round(during / (last - first), 1) if last > first else None,
    }


def _capacity(args: argparse.Namespace, timeline: list[dict[str, float]]) -> dict[str, Any]:
    """What the worker slots allow when each answer holds one for all its model calls, and how
    busy slots and model were while the load ran and after it (the backlog)."""
    calls = mean_model_calls()
    slots = args.workers * args.concurrency
    end = args.warmup + args.seconds
    return {
        "model_calls_per_answer": calls,
        "worker_slots": slots,
        "slot_bound_answers_per_s": round(slots / (calls * args.model_latency), 1),
        "concurrency_needed_per_worker": math.ceil(
            args.rate * calls * args.model_latency / args.workers
        ),
        "during_load": _means([r for r in timeline if 0 <= r["t"] <= end]),
        "after_load": _means([r for r in timeline if r["t"] > end]),
    }


def _means(rows: list[dict[str, float]]) -> dict[str, float | None]:
    """Mean jobs running, model calls in flight, and answers per second over the rows."""
    out: dict[str, float | None] = {}
    for key in ("doing", "model_in_flight"):
        values = [row[key] for row in rows if key in row]
        out[f"{key}_mean"] = round(sum(values) / len(values), 1) if values else None
    span = rows[-1]["t"] - rows[0]["t"] if len(rows) > 1 else 0
    out["answers_per_s"] = (
        round((rows[-1]["answered"] - rows[0]["answered"]) / span, 1) if span else None
    )
    return out


def _peak(timeline: list[dict[str, float]], key: str) -> float:
    return max((row[key] for row in timeline if key in row), default=0)


def _processes(raw: dict[str, Any]) -> dict[str, Any]:
    """RSS of each process alone and with its children (the ledger drain); CPU with children."""
    out = {}
    for name, series in raw["rss"].items():
        with_children = raw["rss_tree"][name]
        out[name] = {
            "rss_peak_mb": max(series, default=None),
            "rss_end_mb": series[-1] if series else None,
            "rss_with_children_peak_mb": max(with_children, default=None),
            "rss_with_children_end_mb": with_children[-1] if with_children else None,
            "cpu_s_with_children": round(raw["cpu_s"].get(name) or 0, 1),
        }
    return out


def _timeline(
    raw: dict[str, Any], samples: list[dict[str, float]], warmup: float
) -> list[dict[str, float]]:
    """The sampler's rows with `t` in seconds since the first request went out."""
    if not samples:
        return list(raw["timeline"])
    first_send = min(s["due"] for s in samples) - warmup  # the warm-up's first, unmeasured
    shift = first_send - raw["sampler_started"]
    return [{**row, "t": round(row["t"] - shift)} for row in raw["timeline"] if row["t"] >= shift]
