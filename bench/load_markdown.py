"""The "Load" section of bench/RESULTS.md, every number taken from one bench/load.py report."""

from __future__ import annotations

import math
from typing import Any

from load_traffic import KINDS, MODEL_CALLS

MAX_CONCURRENCY = 64  # what `countersign worker --concurrency` accepts
_SPREAD = ("p50_ms", "p99_ms", "max_ms")
_SHARE = {"mention_rules": "40 %", "mention_model": "40 %", "dm": "15 %", "slash": "5 %"}
_LABEL = {
    "mention_rules": "@mention, routed by rules",
    "mention_model": "@mention, routed by the model",
    "dm": "DM",
    "slash": "/ai",
}


def markdown(report: dict[str, Any]) -> str:
    parts = [_setup(report), _summary(report), _kinds(report), _windows(report)]
    parts += [_processes(report), _timeline(report), _reading(report)]
    return "\n\n".join(part for part in parts if part)


def _windows(r: dict[str, Any]) -> str:
    """Acks per 30 s of the schedule: when any went wrong, not only how many."""
    windows = r["ack"].get("windows")
    if not windows:
        return ""
    rows = [
        "Acks per 30 s of the schedule (warm-up included in the first):",
        "",
        "| from s | requests | ack p99 ms | over 3 s | timeouts |",
        "|--:|--:|--:|--:|--:|",
    ]
    rows += [
        f"| {w['from_s']} | {w['n']:,} | {w['p99_ms']:,} | {w['over_3s']:,} | {w['timeouts']:,} |"
        for w in windows
    ]
    return "\n".join(rows)


def _maybe(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def _s(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.1f} s"


def _setup(r: dict[str, Any]) -> str:
    m, c = r["machine"], r["config"]
    return (
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, {m['ram_gb']} GB RAM, Python"
        f" {m['python']}; load average {m['loadavg_before']} before the run (`uptime`:"
        f" {m['uptime']}), {r['loadavg_after']} after. The machine is shared: other engineers'"
        f" test runs were using it too.\n"
        f"Date: {m['date']}. Command: `{r['command']}`.\n"
        f"Setup: {c['web_processes']} web (`countersign serve --http --port $PORT`, waitress with"
        f" 8 threads) and {c['worker_processes']} worker processes (`countersign worker`,"
        f" COUNTERSIGN_WORKERS={c['worker_concurrency']} jobs at once each), started with the"
        " Procfile's commands; PostgreSQL (a fresh database) and Redis (a database of its own);"
        " the Slack emulator in the bench process; an Anthropic fake (bench/fake_model.py) in its"
        f" own process answering every call after {c['model_latency_s']:g} s. Two generator"
        f" processes, open loop, {c['rate'] / 2:g} signed requests/s each, one per web port;"
        f" {c['warmup_seconds']:g} s of warm-up sent but not measured, then"
        f" {c['seconds']:g} s measured; answers awaited up to {c['answer_deadline_s']:g} s"
        f" after the last request. Mix: {c['mix']}, from {c['people']} people (12 questions a"
        " minute each, under the default limit of 20: rate limits not lifted). Lifted for the"
        " run: the org's daily budget (COUNTERSIGN_ORG_DAILY_BUDGET_USD=-1) and its plan"
        " (enterprise: the default team plan allows 2,000 model calls a day). Logs at WARNING.\n"
        "Ack: request written → response read, at the generator. End to end: request written →"
        " the answer's last Slack call reaching the emulator (chat.stopStream of the streamed"
        " answer; chat.postMessage for DMs, answered top level)."
    )


def _summary(r: dict[str, Any]) -> str:
    a, e, t, q = r["ack"], r["e2e"], r["throughput"], r["queue"]
    served = r["model"]["served"]
    left = q["left_at_end"].get("todo", 0)
    w = r.get("waitress", {})
    rows = [
        ("requests measured", f"{a['n']:,} at {a['achieved_rps']}/s (of {a['target_rps']:g}/s)"),
        ("generator send lag p99", f"{a['send_lag_p99_ms']:g} ms"),
        ("ack p50 / p99 / max", f"{a['p50_ms']:g} / {a['p99_ms']:g} / {a['max_ms']:g} ms"),
        ("HTTP errors (non-2xx) / of them timeouts (10 s)", f"{a['errors']} / {a['timeouts']}"),
        ("acks Slack would count as failed (over 3 s or none)", _maybe(a.get("over_3s"))),
        ("web logs: deepest waitress task queue / connection-limit warnings",
         f"{w.get('task_queue_depth_max', '—')} / {w.get('connection_limit_warnings', '—')}"
         + (f" (first {w['first_connection_limit_s']} s in)"
            if w.get("first_connection_limit_s") is not None else "")),
        ("answered / errors / refused", f"{e['answered']:,} / {e['error']} / {e['refused']}"),
        ("unanswered by the deadline", f"{e['unanswered']:,}"),
        ("end to end p50 / p99 / max", " / ".join(_s(e[k]) for k in _SPREAD)),
        ("answers/s while the load ran", f"{t.get('answered_rps_during_load')}"),
        ("model calls (triage / specialist)",
         f"{served.get('forced_tool', 0):,} / {served.get('text', 0):,}"),
        ("jobs queued: peak / left at the end", f"{q['peak']['todo']:,} / {left:,}"),
        ("PostgreSQL connections: peak (server max)",
         f"{q['peak']['pg_connections']:g} ({q['pg_max_connections']})"),
    ]  # fmt: skip
    return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _kinds(r: dict[str, Any]) -> str:
    rows = [
        "| request | share | model calls | ack p50 ms | ack p99 ms | answered | e2e p50 | e2e p99 "
        "|",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for kind in KINDS:
        ack, e2e = r["ack"]["by_kind"][kind], r["e2e"]["by_kind"][kind]
        rows.append(
            f"| {_LABEL[kind]} | {_SHARE[kind]} | {MODEL_CALLS[kind]} | {ack['p50_ms']} |"
            f" {ack['p99_ms']} | {e2e['answered']:,} of {ack['n']:,} | {_s(e2e['p50_ms'])} |"
            f" {_s(e2e['p99_ms'])} |"
        )
    return "\n".join(rows)


def _processes(r: dict[str, Any]) -> str:
    rows = [
        "RSS sampled every second; each process has a ledger-drain child (and its"
        " multiprocessing resource tracker), counted in the second pair and in CPU (from the"
        " first request to the end of the wait for answers; start-up excluded):",
        "",
        "| process | RSS peak MB | RSS end MB | with children: peak | end | CPU s |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, p in r["processes"].items():
        rows.append(
            f"| {name} | {p['rss_peak_mb']} | {p['rss_end_mb']} |"
            f" {p['rss_with_children_peak_mb']} | {p['rss_with_children_end_mb']} |"
            f" {p['cpu_s_with_children']} |"
        )
    rows += [f"| {name} | | | | | {cpu} |" for name, cpu in r["helpers_cpu_s"].items()]
    return "\n".join(rows)


def _timeline(r: dict[str, Any]) -> str:
    rows = [
        "Every 30 s from the first request (answers counted from the start, warm-up included):",
        "",
        "| t s | answered | jobs queued | jobs running | model calls in flight | PG connections |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for row in r["queue"]["timeline"][2::3]:
        rows.append(
            f"| {row['t']} | {row['answered']:,} | {row.get('todo', '—')} |"
            f" {row.get('doing', '—')} | {row.get('model_in_flight', '—')} |"
            f" {row.get('pg_connections', '—')} |"
        )
    return "\n".join(rows)


def _reading(r: dict[str, Any]) -> str:
    return " ".join(["**Reading.**", _slots_text(r), _bound_text(r), _cpu_text(r), _ack_text(r)])


def _slots_text(r: dict[str, Any]) -> str:
    c, cap, pg = r["config"], r["capacity"], r["queue"]
    calls, latency = cap["model_calls_per_answer"], c["model_latency_s"]
    needed = cap["concurrency_needed_per_worker"]
    text = (
        f"Each answer holds a worker slot for its model calls ({calls:g} on average in this"
        f" mix × {latency:g} s) plus its own work, so {cap['worker_slots']} slots"
        f" ({c['worker_processes']} × {c['worker_concurrency']}) allow at most"
        f" {cap['slot_bound_answers_per_s']:g} answers/s, and {c['rate']:g}/s needs"
        f" {needed} slots per worker on {c['worker_processes']} workers"
    )
    if needed > MAX_CONCURRENCY:
        processes = math.ceil(c["rate"] * calls * latency / MAX_CONCURRENCY)
        text += f", more than `--concurrency` takes ({MAX_CONCURRENCY}): {processes}+ workers"
    return text + (
        f". Slots cost connections: at {c['worker_concurrency']} per worker PostgreSQL peaked at"
        f" {pg['peak']['pg_connections']:g} connections of the server's"
        f" {pg['pg_max_connections']}, which other work here shares."
    )


def _bound_text(r: dict[str, Any]) -> str:
    """Which limit the answers ran into, while the load ran and after it (the backlog)."""
    slots, cap = r["capacity"]["worker_slots"], r["capacity"]
    model_s = cap["model_calls_per_answer"] * r["config"]["model_latency_s"]
    parts = []
    for phase, when in (("during_load", "While the load ran"), ("after_load", "Afterwards")):
        m = cap[phase]
        if not m["doing_mean"] or not m["answers_per_s"]:
            continue
        used, waiting = m["doing_mean"] / slots, (m["model_in_flight_mean"] or 0) / m["doing_mean"]
        if used < 0.8:
            verdict = "slots were free, so the limit was elsewhere: the CPU"
        elif waiting >= 0.6:
            verdict = "the queue waited for worker slots, and the slots mostly for the model"
        else:
            verdict = "the queue waited for worker slots, held by the app's own (CPU) work"
        held = m["doing_mean"] / m["answers_per_s"]  # Little's law: seconds per answer in a slot
        parts.append(
            f"{when} answers came at {m['answers_per_s']:g}/s with {m['doing_mean']:g} of {slots}"
            f" slots busy on average ({used:.0%}), {waiting:.0%} of them waiting on a model"
            f" call; each answer held its slot about {held:.1f} s, {model_s:.1f} s of it model"
            f" time: {verdict}."
        )
    return " ".join(parts)


def _cpu_text(r: dict[str, Any]) -> str:
    c, procs = r["config"], r["processes"]
    workers = sum(p["cpu_s_with_children"] for n, p in procs.items() if n.startswith("worker"))
    webs = sum(p["cpu_s_with_children"] for n, p in procs.items() if n.startswith("web"))
    worker_ms = workers / max(r["answered_including_warmup"], 1) * 1000
    web_ms = webs / max(r["sent_including_warmup"], 1) * 1000
    cores = c["rate"] * (worker_ms + web_ms) / 1000
    return (
        f"The worker processes spent {worker_ms:.0f} ms of CPU per answer and the web processes"
        f" {web_ms:.0f} ms per request: {c['rate']:g} requests/s need about {cores:.1f} cores for"
        " the app alone, before PostgreSQL, Redis, the Slack emulator and the generators, on a"
        f" {r['machine']['cpu_count']}-CPU machine."
    )


def _ack_text(r: dict[str, Any]) -> str:
    p99, w = r["ack"]["p99_ms"], r.get("waitress", {})
    if p99 is not None and p99 < 3000:
        text = (
            f"Ack p99 {p99:g} ms is inside Slack's 3 s: web processes only verify the signature,"
            " claim the event id and queue the job."
        )
    else:
        text = (
            f"Ack p99 {p99:g} ms is OUTSIDE Slack's 3 s: the web processes fell behind (waitress"
            f" queued up to {w.get('task_queue_depth_max', '?')} requests for its 8 threads) and"
            " past 100 open connections a waitress process stops accepting"
            f" ({w.get('connection_limit_warnings', '?')} such warnings), so requests timed out."
        )
    return text + (
        " End-to-end times are queueing: while arrivals outpace answers they grow with the"
        " length of the run."
    )
