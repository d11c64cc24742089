"""Ack latency of POST /slack/events: Countersign vs a bare Bolt app, over real HTTP on loopback.

Three request kinds (an app_mention event, the `/ai` slash command, a 👍 click) are sent
signed, open-loop, at fixed rates to one server at a time on this machine:

- embedded: Countersign's sandbox (bot/sandbox.py) on SQLite with the in-process dedup store;
- postgres+redis: the sandbox on a fresh PostgreSQL database (dropped afterwards), Redis dedup;
- bare-bolt: `slack_bolt.App` with the same three listeners doing only `ack()`, defaults;
- bare-bolt pbr: the same with process_before_response=True, the setting bot/app.py uses.

All are served by waitress (8 threads) through Bolt's WSGI adapter and talk to the Slack
emulator in the server's process. Countersign's background jobs (offline answers, Slack
posts) run as in production and compete for the CPU; after each cell we wait for the job
runner to go idle. The load generator runs in its own process (multiprocessing, spawn).

Diagnostics (skip with --no-diagnostics) say where Countersign's time goes: the mention and
/ai cells again after gc.freeze() (the start-up heap out of the collector's sight), and with
the job functions replaced by no-ops ("jobs off": the ack path alone). Every cell records
the longest garbage-collector pause in the server process.

    .venv/bin/python bench/ack_latency.py [--seconds 10] [--rates 50,100] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import logging
import multiprocessing
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from _common import LoadSpec, Request, machine, run_load, summarize, write_section
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import create_engine, text
from waitress.server import create_server

from agents.settings import AgentSettings
from bot.app import build_app
from bot.emulator import BOT_USER_ID, SlackEmulator, sign_request
from bot.emulator.payloads import app_mention_event, block_action, slash_command
from bot.jobs import ANSWER_QUESTION, RECORD_FEEDBACK
from bot.sandbox import SALES, TEAM, Sandbox, sandbox
from bot.services import Services
from bot.settings import RuntimeSettings
from storage import migrate

USER = "U_REP1"
KINDS = ("app_mention", "slash_command", "button_click")
HEAVY_KINDS = KINDS[:2]  # the ones whose job answers a question
OURS = ("embedded", "postgres+redis")
BARE = ("bare-bolt", "bare-bolt pbr")
CONFIGS = OURS + BARE
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
QUESTION = "what's going on with Halvorsen?"
HTTP_THREADS = RuntimeSettings(log_level="WARNING").http_threads  # the bare apps get the same
P99_TARGET_MS, RATIO_TARGET = 50.0, 1.5
GENERATOR = "separate process (multiprocessing spawn): open loop, 32 keep-alive http.client threads"
# The Slack call a request's background job ends with, and how many per request.
REPLIES = {
    "app_mention": ("chat.postMessage", 1),
    "slash_command": ("chat.postMessage", 2),  # the question as thread root, then the answer
    "button_click": ("chat.postEphemeral", 1),
}


def build_request(kind: str, secret: str, emulator_url: str, tag: str, seq: int) -> Request:
    """One signed request of `kind` with a unique event_id / trigger_id (runs in the generator)."""
    uid = f"{tag}{seq:06d}"
    trigger = f"{int(time.time() * 1000)}.{seq}.{uid}"
    if kind == "app_mention":
        said = f"<@{BOT_USER_ID}> {QUESTION}"
        envelope = app_mention_event(
            TEAM, SALES, USER, said, f"{time.time():.6f}", event_id=f"Ev{uid}"
        )
        body, content_type = json.dumps(envelope).encode(), "application/json"
    elif kind == "slash_command":
        form = slash_command(
            TEAM, SALES, USER, "/ai", QUESTION, emulator_url=emulator_url, trigger_id=trigger
        )
        body, content_type = form.encode(), "application/x-www-form-urlencoded"
    else:
        form = block_action(
            TEAM, SALES, USER, "feedback_up", '{"conversation_id": 1}', "1700000000.000100",
            emulator_url=emulator_url,
        )  # fmt: skip
        payload = json.loads(parse_qs(form)["payload"][0])
        payload["trigger_id"] = trigger  # ours, so this run's Redis claims can be found
        body = urlencode({"payload": json.dumps(payload)}).encode()
        content_type = "application/x-www-form-urlencoded"
    return "/slack/events", body, {"Content-Type": content_type, **sign_request(body, secret)}


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One server under test: where it listens, its secret, its Slack, its job runner."""

    port: int
    secret: str
    slack: SlackEmulator
    services: Services | None = None
    kinds: tuple[str, ...] = KINDS


def of_sandbox(box: Sandbox, kinds: tuple[str, ...] = KINDS) -> Target:
    secret = box.settings.slack.signing_secret
    assert secret is not None
    port = urlsplit(box.url).port or 80
    return Target(port, secret.get_secret_value(), box.slack, box.services, kinds)


@contextmanager
def bare_bolt(*, process_before_response: bool) -> Iterator[Target]:
    """slack_bolt.App with the same three listeners, each only acking; same server and threads."""
    token, secret = "xoxb-bare-" + secrets.token_hex(8), secrets.token_hex(16)
    with SlackEmulator(tokens={token: TEAM}, team_id=TEAM) as slack:
        app = App(
            client=WebClient(token=token, base_url=slack.api_url),
            signing_secret=secret,
            process_before_response=process_before_response,
        )

        def just_ack(ack: Ack) -> None:
            ack()

        app.event("app_mention")(just_ack)
        app.command("/ai")(just_ack)
        app.action("feedback_up")(just_ack)
        handler = SlackRequestHandler(app, path="/slack/events")
        server: Any = create_server(handler, host="127.0.0.1", port=0, threads=HTTP_THREADS)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Target(server.effective_port, secret, slack)
        finally:
            server.close()
            thread.join(timeout=5)


@contextmanager
def fresh_postgres(run_id: str) -> Iterator[str]:
    """A new, migrated database for this run, dropped afterwards."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"countersign_bench_{run_id.lower()}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def forget_redis_claims(run_id: str) -> None:
    """Delete this run's dedup claims from Redis (they would otherwise live an hour)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"countersign:*{run_id}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def diagnose(run: Run, box: Sandbox, config: str) -> dict[str, Any]:
    """The mention and /ai cells again: after gc.freeze() (the start-up heap out of the
    collector's sight), then with the job functions replaced by no-ops (ack path only)."""
    target, out = of_sandbox(box, HEAVY_KINDS), {}
    progress(f"{config} (gc.freeze)")
    gc.freeze()
    try:
        out[f"{config} (gc.freeze)"] = run.measure(target)
    finally:
        gc.unfreeze()
    progress(f"{config} (jobs off)")
    for task in (ANSWER_QUESTION, RECORD_FEEDBACK):
        box.services.runner.register(task, lambda _payload: None)
    out[f"{config} (jobs off)"] = run.measure(target)
    return out


# --- measuring -------------------------------------------------------------------------------


class QueueDepth(logging.Handler):
    """Records waitress's "Task queue depth is N" warnings: requests waiting for a thread."""

    def __init__(self) -> None:
        super().__init__()
        self.max = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.max = max(self.max, int(record.args[0]) if record.args else 0)  # type: ignore[index]


QUEUE = QueueDepth()


class GcPauses:
    """The longest garbage-collector pause in this process (the server's) since `reset`."""

    def __init__(self) -> None:
        self.max_ms, self._started = 0.0, 0.0
        gc.callbacks.append(self._on_gc)

    def reset(self) -> None:
        self.max_ms = 0.0

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.max_ms = max(self.max_ms, (time.perf_counter() - self._started) * 1000)


GC = GcPauses()


def full_gc_cost() -> dict[str, Any]:
    """How long one full collection of this process's heap takes, as is and after gc.freeze()
    (which moves everything alive now out of the collector's sight)."""

    def timed() -> float:
        started = time.perf_counter()
        gc.collect()
        return round((time.perf_counter() - started) * 1000, 1)

    objects, as_is = len(gc.get_objects()), timed()
    gc.freeze()
    frozen = timed()
    gc.unfreeze()
    return {"heap_objects": objects, "full_gc_ms": as_is, "full_gc_after_freeze_ms": frozen}


@dataclass
class Run:
    """What every cell shares: options, the generator process, a per-run id prefix."""

    args: argparse.Namespace
    gen: Executor
    run_id: str = field(default_factory=lambda: secrets.token_hex(3).upper())
    cells: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def measure(self, target: Target) -> dict[str, dict[str, Any]]:
        """Every (kind, rate) cell against one server."""
        table: dict[str, dict[str, Any]] = {}
        for kind in target.kinds:
            for rate in self.args.rate_list:
                result = self.cell(target, kind, rate)
                table.setdefault(kind, {})[str(rate)] = result
                progress(f"  {kind:<14} {rate:>5g}/s  {brief(result)}")
        return table

    def cell(self, target: Target, kind: str, rate: float) -> dict[str, Any]:
        args, tag = self.args, f"{self.run_id}{next(self.cells):02d}"
        spec = LoadSpec("127.0.0.1", target.port, rate, args.seconds, args.warmup)
        factory = partial(build_request, kind, target.secret, target.slack.base_url, tag)
        before, QUEUE.max = slack_calls(target.slack), 0
        GC.reset()
        result = summarize(self.gen.submit(run_load, spec, factory).result(), rate)
        result["waitress_queue_max"] = QUEUE.max
        result["gc_pause_max_ms"] = round(GC.max_ms, 1)
        if target.services is not None:
            result["drain_s"] = drain(target.services, args.drain_timeout)
        calls = slack_calls(target.slack) - before
        result["slack_errors"] = sum(n for m, n in calls.items() if m.endswith(":error"))
        if target.services is not None:
            method, per_request = REPLIES[kind]
            sent = round(rate * (args.warmup + args.seconds))
            result["replies"] = f"{calls[method]}/{sent * per_request} {method}"
            if result["drain_s"]:  # requests finished per second, cell start to runner idle
                busy = args.warmup + args.seconds + result["drain_s"]
                result["jobs_per_s"] = round(sent / busy, 1)
        return result


def slack_calls(slack: SlackEmulator) -> Counter[str]:
    """Web API calls the emulator has answered so far, by method (":error" when not ok)."""
    return Counter(c.method + ("" if c.ok else ":error") for c in slack.calls)


def drain(services: Services, timeout: float) -> float | None:
    """Seconds until the job runner went idle after the cell (None: still busy at timeout)."""
    started = time.perf_counter()
    while not services.runner.idle():
        if time.perf_counter() - started > timeout:
            return None
        time.sleep(0.05)
    return round(time.perf_counter() - started, 2)


def brief(r: dict[str, Any]) -> str:
    return (
        f"n={r['n']} err={r['errors']} p50={r.get('p50_ms')} p99={r.get('p99_ms')} "
        f"max={r.get('max_ms')} ms, {r.get('achieved_rps')}/s, queue<={r['waitress_queue_max']}, "
        f"gc<={r['gc_pause_max_ms']} ms, drain {r.get('drain_s', '-')} s, "
        f"replies {r.get('replies', '-')}"
    )


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_all(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Measure every configuration: results keyed config → kind → rate; and facts about the
    real app (its process_before_response, the cost of a full GC of its process)."""
    results: dict[str, Any] = {}
    heap: dict[str, Any] = {}
    agents = AgentSettings(anthropic_api_key=None, anthropic_base_url=None, offline=True)
    runtime = RuntimeSettings(log_level="WARNING")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as gen:
        run = Run(args, gen)
        with (
            tempfile.TemporaryDirectory(prefix="countersign-bench-") as tmp,
            fresh_postgres(run.run_id) as pg_url,
        ):
            stores = {"embedded": (None, None), "postgres+redis": (pg_url, REDIS_URL)}
            try:
                for config, (db, cache) in stores.items():
                    progress(config)
                    folder = Path(tmp) / config.replace("+", "-")
                    folder.mkdir()
                    with sandbox(
                        folder, agents=agents, database_url=db, redis_url=cache, runtime=runtime
                    ) as box:
                        pbr = build_app(box.settings, box.services).process_before_response
                        results[config] = run.measure(of_sandbox(box))
                        heap[config] = full_gc_cost()
                        if args.diagnostics:
                            results.update(diagnose(run, box, config))
            finally:
                forget_redis_claims(run.run_id)
        for config, before_response in zip(BARE, (False, True), strict=True):
            progress(config)
            with bare_bolt(process_before_response=before_response) as target:
                results[config] = run.measure(target)
    return results, {"countersign_pbr": pbr, "heap": heap}


# --- reporting -------------------------------------------------------------------------------


def cells(results: dict[str, Any], config: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind, by_rate in results.get(config, {}).items():
        for rate, cell in by_rate.items():
            yield kind, rate, cell


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Countersign p99 ÷ bare p99, per baseline, configuration, kind and rate."""
    out: dict[str, Any] = {}
    for baseline in BARE:
        for config in OURS:
            for kind, rate, cell in cells(results, config):
                ratio = round(cell["p99_ms"] / results[baseline][kind][rate]["p99_ms"], 2)
                out.setdefault(baseline, {}).setdefault(config, {}).setdefault(kind, {})[rate] = (
                    ratio
                )
    return out


def verdict(results: dict[str, Any], ratio: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets over every Countersign cell, plus sanity checks."""
    ours = [(c, k, r, v) for c in OURS for k, r, v in cells(results, c)]
    every = [v for c in results for _k, _r, v in cells(results, c)]
    default, same = (ratio[b] for b in BARE)
    within = {b: all(ratio[b][c][k][r] <= RATIO_TARGET for c, k, r, _ in ours) for b in BARE}
    return {
        "p99_le_50ms": all(v["p99_ms"] <= P99_TARGET_MS for *_, v in ours),
        "ratio_le_1.5_vs_bare_default": within["bare-bolt"],
        "ratio_le_1.5_vs_bare_pbr": within["bare-bolt pbr"],
        "no_http_errors": all(v["errors"] == 0 for v in every),
        "all_replies_posted": all(_replied(v) for *_, v in ours),
        "failing_cells": [
            f"{c} {k} {r}/s (p99 {v['p99_ms']} ms, ÷bare {default[c][k][r]}, ÷pbr {same[c][k][r]})"
            for c, k, r, v in ours
            if v["p99_ms"] > P99_TARGET_MS or max(default[c][k][r], same[c][k][r]) > RATIO_TARGET
        ],
    }  # fmt: skip


def _replied(cell: dict[str, Any]) -> bool:
    posted, expected = cell["replies"].split()[0].split("/")
    return bool(posted == expected and cell["slack_errors"] == 0 and cell["drain_s"] is not None)


def table(results: dict[str, Any], ratio: dict[str, Any], configs: list[str]) -> str:
    rows = [
        "| config | kind | rate/s | n | errors | p50 ms | p99 ms | max ms | achieved/s | "
        "p99 ÷ bare | p99 ÷ bare pbr | queued max | GC max ms | drain s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for config in configs:
        for kind, rate, c in cells(results, config):
            r1, r2 = (ratio[b].get(config, {}).get(kind, {}).get(rate, "—") for b in BARE)
            rows.append(
                f"| {config} | {kind} | {rate} | {c['n']} | {c['errors']} | {c['p50_ms']} | "
                f"{c['p99_ms']} | {c['max_ms']} | {c['achieved_rps']} | {r1} | {r2} | "
                f"{c['waitress_queue_max']} | {c['gc_pause_max_ms']} | {c.get('drain_s', '—')} |"
            )
    return "\n".join(rows)


def span(results: dict[str, Any], config: str, key: str, kinds: tuple[str, ...] = KINDS) -> str:
    """ "low–high" of one measure over a configuration's cells of the given kinds."""
    values = [v[key] for k, _r, v in cells(results, config) if k in kinds and v.get(key)]
    return f"{min(values):g}–{max(values):g}" if values else "n/a"


def reading(report: dict[str, Any]) -> str:
    """The paragraph under the tables, every number taken from this run."""
    return " ".join(
        [_verdict_text(report), _bolt_text(report), _tail_text(report), _own_path_text(report)]
    )


def _verdict_text(report: dict[str, Any]) -> str:
    res, ratio, v = report["results"], report["ratios"], report["verdict"]
    ours = [(c, k, r, cell) for c in OURS for k, r, cell in cells(res, c)]
    misses = [f"{c} {k} {r}/s" for c, k, r, cell in ours if cell["p99_ms"] > P99_TARGET_MS]
    within = {b: sum(ratio[b][c][k][r] <= RATIO_TARGET for c, k, r, _ in ours) for b in BARE}
    met = v["p99_le_50ms"] and v["ratio_le_1.5_vs_bare_pbr"]
    return (
        f"**Reading.** Targets {'met' if met else 'not met'}. p99 ≤ {P99_TARGET_MS:g} ms holds"
        f" in {len(ours) - len(misses)} of {len(ours)} Countersign cells"
        + (f" (misses: {', '.join(misses)})" if misses else "")
        + f"; p99 ÷ bare ≤ {RATIO_TARGET} in {within['bare-bolt']} of {len(ours)} against the"
        f" default bare app and {within['bare-bolt pbr']} of {len(ours)} against bare pbr."
        f" HTTP errors: {'none' if v['no_http_errors'] else 'yes, see non_200'}; every"
        f" background reply reached Slack: {'yes' if v['all_replies_posted'] else 'NO'}."
    )


def _bolt_text(report: dict[str, Any]) -> str:
    res = report["results"]
    text = (
        "The two bare baselines differ by one Bolt setting: with the default"
        " process_before_response=False Bolt acks events before the listener runs, but the"
        " request thread polls for a command's or click's ack() every 10 ms, so bare-bolt"
        f" answers those in {span(res, 'bare-bolt', 'p50_ms', KINDS[1:])} ms p50 against"
        f" {span(res, 'bare-bolt pbr', 'p50_ms', KINDS[1:])} ms with it set to True."
    )
    if report["countersign_pbr"]:
        text += (
            " bot/app.py sets it to True (the listener queues the job, then acks), so"
            " Countersign skips that wait, the ratios against the default bare app flatter it,"
            ' and the "÷ bare pbr" column is the fair one.'
        )
    return text


def _tail_text(report: dict[str, Any]) -> str:
    res, target = report["results"], P99_TARGET_MS
    ours = [c for k in OURS for *_, c in cells(res, k)]
    slow = [c for c in ours if c["p99_ms"] > target]
    paused = [c for c in slow if c["gc_pause_max_ms"] >= target]
    calm = [c["p99_ms"] for c in ours if c["gc_pause_max_ms"] < target]
    drains = [span(res, config, "drain_s", HEAVY_KINDS) for config in OURS]
    gc_max = max((c["gc_pause_max_ms"] for c in ours), default=0)
    text = (
        f"{len(paused)} of the {len(slow)} Countersign cells over {target:g} ms p99 had a"
        ' garbage-collector pause of that length or more in the server process ("GC max")'
        if slow
        else f"No Countersign cell went over {target:g} ms p99 (longest GC pause {gc_max:g} ms)"
    )
    if paused:
        pauses = [c["gc_pause_max_ms"] for c in paused]
        text += f", {min(pauses):g}–{max(pauses):g} ms, during which every request waits"
    text += (
        f"; the cells without one stay at or under {max(calm, default=0):g} ms p99, even when"
        " answers arrived faster than this 2-core process produces them (drain: seconds the"
        f" job runner needed after a mention or /ai cell — {drains[0]} s embedded,"
        f" {drains[1]} s postgres+redis)."
    )
    heap = report["heap"].get("embedded")
    if heap:
        text += (
            f" A full collection of the server's {heap['heap_objects']:,} objects (most alive"
            f" since start-up: imported modules) takes {heap['full_gc_ms']:g} ms here; after"
            f" gc.freeze() it takes {heap['full_gc_after_freeze_ms']:g} ms."
        )
    for config in OURS:
        frozen, off = f"{config} (gc.freeze)", f"{config} (jobs off)"
        if frozen in res and off in res:
            text += (
                f" In {config}, mention and /ai p99: {span(res, config, 'p99_ms', HEAVY_KINDS)} ms"
                f" as is, {span(res, frozen, 'p99_ms')} ms after gc.freeze() (diagnostic),"
                f" {span(res, off, 'p99_ms')} ms with the jobs replaced by no-ops."
            )
    return text + (
        " The collections are set off by the background answers' allocations (offline answer,"
        " database work, Slack posts to the emulator, which shares the process); the CPU"
        " they take also lifts p50 for mentions and /ai."
    )


def _own_path_text(report: dict[str, Any]) -> str:
    res = report["results"]
    return (
        "Countersign's own ack path (signature, body check, dedup claim, listener, defer)"
        " costs little by itself: with jobs off its p50 is"
        f" {span(res, 'embedded (jobs off)', 'p50_ms')} ms (embedded) and"
        f" {span(res, 'postgres+redis (jobs off)', 'p50_ms')} ms (postgres+redis, one Redis"
        f" round trip more) against {span(res, 'bare-bolt pbr', 'p50_ms')} ms for the bare"
        " app. Runs on this shared 2-core VM vary (see the load averages above): rerun before"
        " trusting a single cell."
    )


def markdown(report: dict[str, Any]) -> str:
    m, res, ratio = report["machine"], report["results"], report["ratios"]
    diagnostics = [c for c in res if c not in CONFIGS]
    parts = [
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}; load average"
        f" {m['loadavg_before']} before the run, {report['loadavg_after']} after.\n"
        f"Date: {m['date']}. Command: `{report['command']}` ({report['cell_seconds']:g} s per"
        f" cell after a {report['warmup_seconds']:g} s warm-up, open loop).\n"
        f"Load generator: {report['generator']}. Server and Slack emulator: one process"
        " (bot/sandbox.py for Countersign), waitress with"
        f" {HTTP_THREADS} threads for every app.\n"
        "Latency is from just before the request is written to the full response read; every"
        ' request is signed and has a unique event_id / trigger_id. "bare pbr": bare app with'
        ' process_before_response=True. "queued max": deepest waitress task queue seen;'
        ' "drain s": time for Countersign\'s job runner to go idle after the cell.',
        table(res, ratio, list(CONFIGS)),
    ]
    if diagnostics:
        parts += ["Diagnostics — Countersign after gc.freeze(), and with its jobs as no-ops:"]
        parts += [table(res, ratio, diagnostics)]
    parts.append(reading(report))
    return "\n\n".join(parts)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: is anything else using the 2 cores?"""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded seconds per cell")
    parser.add_argument("--rates", default="50,100", help="requests/s, comma-separated")
    parser.add_argument("--quick", action="store_true", help="3 s cells")
    parser.add_argument("--no-diagnostics", dest="diagnostics", action="store_false")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 3.0
    args.rate_list = [int(r) if float(r).is_integer() else float(r) for r in args.rates.split(",")]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    queue_log = logging.getLogger("waitress.queue")
    queue_log.addHandler(QUEUE)
    queue_log.propagate = False
    host = {**machine(), "loadavg_before": loadavg()}
    results, facts = run_all(args)
    ratio = ratios(results)
    report = {
        "benchmark": "ack_latency",
        "machine": host,
        "command": " ".join([".venv/bin/python", "bench/ack_latency.py", *argv]),
        "generator": GENERATOR,
        "cell_seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "loadavg_after": loadavg(),
        **facts,
        "targets": {"p99_ms": P99_TARGET_MS, "ratio": RATIO_TARGET},
        "results": results,
        "ratios": ratio,
        "verdict": verdict(results, ratio),
    }
    print(json.dumps(report, indent=2))
    write_section("Ack latency", markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
