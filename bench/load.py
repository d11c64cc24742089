"""Load: the served app over HTTP at 100 signed events/s for 5 minutes on 2 web + 2 worker
processes, started with the Procfile's own commands on PostgreSQL (a fresh database, dropped
afterwards) and Redis (its own database number, emptied afterwards), with the Slack emulator
and an Anthropic fake that answers every call after 2 s (bench/fake_model.py).

Measured: ack latency (client side, open loop: requests go out on schedule whatever the
answers), end-to-end latency (event sent → its answer's last Slack call reaching the
emulator), errors (non-2xx, timeouts, error answers, refusals, events not answered by the
deadline), RSS and CPU of every process, the job queue, database connections and model calls
in flight. The traffic mix is in bench/load_traffic.py; worker concurrency is set explicitly
(COUNTERSIGN_WORKERS, which `countersign worker` takes as its --concurrency).

    .venv/bin/python bench/load.py                     # 300 s at 100/s, written to RESULTS.md
    .venv/bin/python bench/load.py --seconds 30        # a quick run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import redis
from _common import LoadSpec, machine, run_load, scratch_database, write_section
from load_logs import waitress_events
from load_markdown import markdown
from load_report import analyse, loadavg, ram_gb, uptime
from load_stack import (
    Proc,
    Processes,
    Sampler,
    app_env,
    cpu_seconds,
    free_port,
    get_json,
    http_ok,
    procfile_command,
    tree,
    wait_until,
)
from load_traffic import CHANNELS, PEOPLE, AnswerMatcher, build_request, user_of
from local_slack import workspace_emulator
from sqlalchemy import create_engine, text

from bot.emulator import SlackEmulator
from bot.sandbox import TEAM

LANES = 2  # one generator process per web port; request n goes to port n % 2
# Keep-alive connections per generator: enough that slow acks never hold back the schedule
# (at 50/s and 1 s acks a lane has 50 requests open).
THREADS = 128


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="measured seconds")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second, in all")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent, not measured")
    parser.add_argument("--web", type=int, default=2, choices=[2], help="web processes")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="jobs per worker at once (32: PostgreSQL stays near 70 connections; see RESULTS.md)",
    )
    parser.add_argument("--model-latency", type=float, default=2.0, help="seconds per model call")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for answers")
    parser.add_argument("--redis-db", type=int, default=6, help="an empty Redis database number")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("--no-write", dest="write", action="store_false", help="skip RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    host = {**machine(), "ram_gb": ram_gb(), "loadavg_before": loadavg(), "uptime": uptime()}
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    store = redis.Redis.from_url(redis_url)
    if store.dbsize():
        raise SystemExit(f"Redis database {args.redis_db} is not empty: pick another --redis-db")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="countersign-load-") as tmp,
            scratch_database("countersign_load") as database_url,
        ):
            logs = args.logs or Path(tmp)
            logs.mkdir(parents=True, exist_ok=True)
            raw = measure(args, logs, database_url, redis_url)
    finally:
        store.flushdb()  # checked empty above: everything in it is this run's
    report = {
        "benchmark": "load",
        "machine": host,
        "loadavg_after": loadavg(),
        "command": " ".join([".venv/bin/python", "bench/load.py", *argv]),
        **analyse(args, raw),
    }
    print(json.dumps(report, indent=2))
    if args.write:
        write_section("Load", markdown(report))
    return 0


def measure(
    args: argparse.Namespace, tmp: Path, database_url: str, redis_url: str
) -> dict[str, Any]:
    secret, token = secrets.token_hex(16), "xoxb-load-" + secrets.token_hex(8)
    tag = secrets.token_hex(3).upper()  # this run's event ids and trigger ids
    with workspace_emulator() as slack:
        _populate(slack)
        model_port = free_port()
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SLACK_BOT_TOKEN": token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": slack.api_url,
            "ANTHROPIC_API_KEY": "sk-ant-load-fake",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model_port}",
            "COUNTERSIGN_WORKERS": str(args.concurrency),
            # A load of 30 000 questions costs more than the $100 default daily org budget
            # (and more calls than the "team" plan allows a day): both lifted, see _prepare.
            "COUNTERSIGN_ORG_DAILY_BUDGET_USD": "-1",
            "COUNTERSIGN_LOG_LEVEL": "WARNING",  # INFO is two procrastinate lines per job
        }
        procs = Processes(tmp, app_env(settings))
        try:
            return _run(args, procs, slack, secret, tag, database_url, model_port)
        finally:
            procs.stop()


def _populate(slack: SlackEmulator) -> None:
    for n in range(PEOPLE):
        user = user_of(n)
        slack.add_user(user, f"Load Rep {n:03d}", f"{user.lower()}@load.countersign.dev")
    for n in range(CHANNELS):
        slack.add_channel(f"C_LOAD{n:02d}", f"load-{n:02d}")


def _prepare(procs: Processes, database_url: str) -> None:
    """What the deployment guide does first: migrate, seed; then make the org a big customer's
    (enterprise plan: no monthly or daily call cap)."""
    for argv in (["migrate"], ["seed-demo", "--team", TEAM]):
        subprocess.run(
            [str(Path(sys.executable).parent / "countersign"), *argv],
            env=procs.env, cwd=procs.logs, check=True, capture_output=True,
        )  # fmt: skip
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE org SET plan = 'enterprise' WHERE slack_team_id = :t"), {"t": TEAM}
        )
    engine.dispose()


def _run(
    args: argparse.Namespace,
    procs: Processes,
    slack: SlackEmulator,
    secret: str,
    tag: str,
    database_url: str,
    model_port: int,
) -> dict[str, Any]:
    model_url = f"http://127.0.0.1:{model_port}"
    fake = [str(Path(__file__).with_name("fake_model.py")), "--port", str(model_port)]
    model = procs.start("model", [sys.executable, *fake, "--latency", str(args.model_latency)])
    _prepare(procs, database_url)
    ports = [free_port() for _ in range(args.web)]
    apps = [_start(procs, f"web.{i + 1}", "web", port) for i, port in enumerate(ports)]
    apps += [_start(procs, f"worker.{i + 1}", "worker", free_port()) for i in range(args.workers)]
    for port in ports:
        wait_until(
            lambda p=port: http_ok(f"http://127.0.0.1:{p}/healthz"), timeout=90, what=f":{port}"
        )
    wait_until(lambda: _workers_up(database_url) >= args.workers, timeout=90, what="workers")
    wait_until(lambda: http_ok(f"{model_url}/stats"), timeout=30, what="model fake")
    matcher = AnswerMatcher()

    def tick() -> int:
        matcher.feed(slack.calls[matcher.seen :])
        return len(matcher.outcomes)

    sampler = Sampler(apps, database_url=database_url, model_url=model_url, tick=tick)
    sampler.start()
    cpu_before = {p.name: cpu_seconds(tree(p.pid)) for p in apps}  # start-up excluded
    wall_minus_mono = time.time() - time.perf_counter()
    samples = _send(args, ports, secret, slack.base_url, tag)
    sent_all = round(args.rate * (args.warmup + args.seconds))
    sending_done = time.monotonic()
    deadline = sending_done + args.drain
    while len(matcher.outcomes) < sent_all and time.monotonic() < deadline and procs.alive():
        time.sleep(1.0)
    drained_at = time.monotonic()
    cpu = {p.name: cpu_seconds(tree(p.pid)) - cpu_before[p.name] for p in apps}
    helpers = {
        "bench process (Slack emulator, matcher, sampler)": time.process_time(),
        "Anthropic fake": cpu_seconds([model.pid]),
    }
    sampler.stop()
    queue_left = _queue_left(database_url)
    exit_codes = procs.stop([p.name for p in apps])
    tick()
    first_send = min((s["due"] for s in samples), default=0.0) - args.warmup + wall_minus_mono
    return {
        "samples": samples,
        "outcomes": matcher.outcomes,
        "unmatched_calls": matcher.unmatched,
        "slack_calls": matcher.seen,
        "wall_minus_mono": wall_minus_mono,
        "sent_all": sent_all,
        "waited_after_load_s": round(drained_at - sending_done, 1),
        "sampler_started": sampler.started_at,
        "rss": sampler.rss,
        "rss_tree": sampler.rss_tree,
        "cpu_s": cpu,
        "helpers_cpu_s": helpers,
        "timeline": sampler.timeline,
        "queue_left": queue_left,
        "model": get_json(f"{model_url}/stats"),
        "exit_codes": exit_codes,
        "waitress": waitress_events(procs.logs, first_send),
    }


def _start(procs: Processes, name: str, kind: str, port: int) -> Proc:
    """A process as honcho would start it: the Procfile's line, with its own $PORT."""
    env, argv = procfile_command(kind, port)
    return procs.start(name, argv, port=port, env=env)


def _send(
    args: argparse.Namespace, ports: list[int], secret: str, emulator_url: str, tag: str
) -> list[dict[str, float]]:
    """Both generator processes at rate/2 each, one per web port; their measured samples."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=LANES, mp_context=spawn) as gen:
        futures = [
            gen.submit(
                run_load,
                LoadSpec("127.0.0.1", port, args.rate / LANES, args.seconds, args.warmup, THREADS),
                partial(build_request, secret, emulator_url, tag, lane, LANES),
            )
            for lane, port in enumerate(ports)
        ]
        lanes = [f.result() for f in futures]
    return [{**s, "n": s["seq"] * LANES + lane} for lane, got in enumerate(lanes) for s in got]


def _workers_up(database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
            )
    finally:
        engine.dispose()


def _queue_left(database_url: str) -> dict[str, int]:
    """Jobs by status once the answers stopped being awaited, and the server's connection cap."""
    engine = create_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")
            ).all()
            cap = conn.execute(text("SHOW max_connections")).scalar_one()
        return {**{str(status): int(count) for status, count in rows}, "max_connections": int(cap)}
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
