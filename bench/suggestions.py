"""The suggestion scan (all five rules) on PostgreSQL at 100 k customers and 1 M activities.

A scratch database is created, migrated, filled in SQL (generate_series, a fixed seed) and
dropped at the end. One org: 200 reps, 100 k customers (85 % active), 1 M activities over a
year skewed towards the present (about a quarter of active customers end up silent for 7
days), 150 k deals, 200 k tasks, 300 k invoices. Then `SuggestionRepository.scan` runs
through a UnitOfWork on the product engine, exactly as the periodic job will: a cold first
scan (every suggestion inserted), then re-scans an hour apart (refreshes and resolves). Each
scan's time includes its commit; per-statement times come from cursor events. Every rule's
count is checked against an independent SQL count. Usage:
`.venv/bin/python bench/suggestions.py [--customers 100000] [--activities 1000000] [--rescans 3]`.
Needs PostgreSQL (COUNTERSIGN_TEST_DATABASE_URL, default the CI machine's)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import machine, scratch_database, write_section
from sqlalchemy import Engine, create_engine, event, text

from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import SuggestionRule
from storage.uow import UnitOfWork

REPS = 200
TABLES = ("customer", "activity", "deal", "task", "invoice")


# --- the generated CRM ---------------------------------------------------------------------

USERS_SQL = """
INSERT INTO app_user (org_id, email, name, role, timezone, created_at)
SELECT :org, 'rep' || g || '@bench.example', 'Rep ' || g,
    CASE WHEN g % 10 = 0 THEN 'manager' ELSE 'rep' END, 'UTC', now()
FROM generate_series(1, :reps) g
"""

CUSTOMERS_SQL = """
INSERT INTO customer (org_id, external_id, name, company, status, tags, owner_id, created_at)
SELECT :org, 'C-' || g, 'Customer ' || g, 'Company ' || g,
    CASE WHEN r < 0.85 THEN 'active' WHEN r < 0.90 THEN 'prospect'
        WHEN r < 0.95 THEN 'inactive' ELSE 'churned' END,
    '[]', :u0 + (g - 1) % :reps, now()
FROM (SELECT g, random() AS r FROM generate_series(1, :n) g) draws
ORDER BY g
"""

# Ages are skewed to the present (365 days × r²): one activity falls in the last week with
# probability √(7/365) ≈ 14 %, so a customer with the average 10 stays silent with ≈ 23 %.
ACTIVITIES_SQL = """
INSERT INTO activity (org_id, customer_id, kind, summary, occurred_at, user_id)
SELECT :org, :c0 + ci,
    CASE WHEN rk < 0.40 THEN 'call' WHEN rk < 0.75 THEN 'email'
        WHEN rk < 0.90 THEN 'meeting' ELSE 'note' END,
    CASE WHEN rk >= 0.75 AND rk < 0.90 THEN
        (ARRAY['Happy with the rollout; asked about adding two more sites.',
               'Quarterly review of the service plan.',
               'Not happy with lead times; looking at other suppliers.',
               'Interested, but the board wants the cheapest bid.'])[1 + floor(rs * 4)::int]
        ELSE 'Follow-up on the last order.' END,
    CAST(:now AS timestamptz) - make_interval(secs => 365 * 86400 * ra * ra),
    :u0 + ci % :reps
FROM (SELECT floor(random() * :nc)::int AS ci, random() AS rk, random() AS rs, random() AS ra
      FROM generate_series(1, :n) g OFFSET 0) draws
ORDER BY 5
"""

DEALS_SQL = """
INSERT INTO deal (org_id, external_id, customer_id, title, stage, amount, owner_id,
    stage_changed_at, status, created_at)
SELECT :org, 'D-' || g, :c0 + ci, 'Deal ' || g,
    CASE WHEN rk < 0.40 THEN (ARRAY['lead', 'qualified', 'proposal', 'negotiation'])[1 + g % 4]
        WHEN rk < 0.75 THEN 'closed_won' ELSE 'closed_lost' END,
    round(1000 * power(300, ra))::numeric,
    CASE WHEN ro < 0.8 THEN :u0 + ci % :reps END,
    CAST(:now AS timestamptz) - make_interval(secs => 180 * 86400 * rs),
    CASE WHEN rk < 0.40 THEN 'open' WHEN rk < 0.75 THEN 'won' ELSE 'lost' END, now()
FROM (SELECT g, floor(random() * :nc)::int AS ci, random() AS rk, random() AS ra,
          random() AS ro, random() AS rs
      FROM generate_series(1, :n) g OFFSET 0) draws
"""

TASKS_SQL = """
INSERT INTO task (org_id, customer_id, title, due_at, status, assignee_id, created_at)
SELECT :org, :c0 + ci, 'Task ' || g,
    CASE WHEN rd < 0.95 THEN CAST(:now AS timestamptz)
        + make_interval(secs => (90 * rd - 60) * 86400) END,
    CASE WHEN rk < 0.40 THEN 'open' ELSE 'done' END,
    CASE WHEN rk < 0.80 THEN :u0 + ci % :reps END, now()
FROM (SELECT g, floor(random() * :nc)::int AS ci, random() AS rk, random() AS rd
      FROM generate_series(1, :n) g OFFSET 0) draws
"""

INVOICES_SQL = """
INSERT INTO invoice (org_id, external_id, customer_id, amount, due_at, paid_at)
SELECT :org, 'I-' || g, :c0 + ci, round(200 * power(500, ra))::numeric, due,
    CASE WHEN (due < CAST(:now AS timestamptz) AND rp < 0.9) OR rp < 0.2
        THEN due - make_interval(secs => 10 * 86400 * rp) END
FROM (SELECT g, floor(random() * :nc)::int AS ci, random() AS ra, random() AS rp,
          CAST(:now AS timestamptz) - make_interval(secs => (395 * random() - 30) * 86400) AS due
      FROM generate_series(1, :n) g OFFSET 0) draws
"""


def generate(engine: Engine, now: datetime, args: argparse.Namespace) -> dict[str, Any]:
    """The CRM above; returns the org id and seconds per table."""
    seconds: dict[str, float] = {}
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        org = conn.execute(
            text(
                "INSERT INTO org (slack_team_id, name, timezone, currency, plan, created_at) "
                "VALUES ('T_BENCH', 'Bench', 'UTC', 'USD', 'business', now()) RETURNING id"
            )
        ).scalar_one()
        conn.execute(text(USERS_SQL), {"org": org, "reps": REPS})
        u0 = conn.execute(text("SELECT min(id) FROM app_user")).scalar_one()
        began = time.perf_counter()
        conn.execute(text(CUSTOMERS_SQL), {"org": org, "u0": u0, "reps": REPS, "n": args.customers})
        seconds["customer"] = time.perf_counter() - began
        c0, c1 = conn.execute(text("SELECT min(id), max(id) FROM customer")).one()
        assert c1 - c0 + 1 == args.customers, "customer ids are not contiguous"
        # Skip FK triggers while loading: every id is drawn from the rows made above.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        common = {"org": org, "u0": u0, "reps": REPS, "c0": c0, "nc": args.customers, "now": now}
        for table, sql, n in (
            ("activity", ACTIVITIES_SQL, args.activities),
            ("deal", DEALS_SQL, round(args.customers * 1.5)),
            ("task", TASKS_SQL, args.customers * 2),
            ("invoice", INVOICES_SQL, args.customers * 3),
        ):
            began = time.perf_counter()
            conn.execute(text(sql), {**common, "n": n})
            seconds[table] = time.perf_counter() - began
            progress(f"  {table}: {n:,} rows in {seconds[table]:.1f} s")
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    seconds["vacuum_analyze"] = time.perf_counter() - began
    return {"org_id": org, "seconds": {k: round(v, 1) for k, v in seconds.items()}}


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def suggestion_table(engine: Engine) -> dict[str, Any]:
    """Storage options and size of the suggestion table after the scans."""
    with engine.connect() as conn:
        options, heap, indexes = conn.execute(
            text(
                "SELECT reloptions, pg_relation_size(oid), pg_indexes_size(oid) "
                "FROM pg_class WHERE relname = 'suggestion'"
            )
        ).one()
    mib = 1024 * 1024
    return {
        "reloptions": options,
        "heap_mib": round(heap / mib),
        "indexes_mib": round(indexes / mib),
    }


# --- the scan ------------------------------------------------------------------------------


class StatementTimer:
    """Wall time of every statement the engine runs, in order, while `recording`."""

    def __init__(self, engine: Engine) -> None:
        self.recording = False
        self.times: list[tuple[str, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.recording:
            took = time.perf_counter() - conn.info.pop("bench_started")
            self.times.append((statement.split(None, 1)[0].upper(), took))


def timed_scan(url: str, org_id: int, at: datetime) -> dict[str, Any]:
    """One scan as the job will run it: a UnitOfWork, scan, commit; with a statement breakdown."""
    engine = make_engine(url)
    timer = StatementTimer(engine)
    factory = session_factory(engine)
    with UnitOfWork(factory) as uow:  # connect and warm the pool outside the measurement
        uow.session.execute(text("SELECT 1"))
    timer.recording = True
    began = time.perf_counter()
    with UnitOfWork(factory) as uow:
        result = uow.suggestions.scan(org_id, now=at)
        uow.commit()
    took = time.perf_counter() - began
    engine.dispose()
    return {
        "seconds": round(took, 3),
        "rules": {rule.value: vars(r) for rule, r in result.rules.items()},
        "open": result.open,
        "statements_ms": _per_rule(timer.times),
    }


def _per_rule(times: list[tuple[str, float]]) -> dict[str, dict[str, float]]:
    """Map the statement sequence (currency look-up, then upsert + resolve per rule, then the
    counts) onto the rules."""
    upserts = [t for verb, t in times if verb == "INSERT"]
    resolves = [t for verb, t in times if verb == "UPDATE"]
    selects = [t for verb, t in times if verb == "SELECT"]
    out = {
        rule.value: {"upsert": round(i * 1000, 1), "resolve": round(u * 1000, 1)}
        for rule, i, u in zip(SuggestionRule, upserts, resolves, strict=True)
    }
    out["other"] = {"selects": round(sum(selects) * 1000, 1)}
    return out


# --- checking the rules against plain SQL -------------------------------------------------

EXPECTED_SQL = {
    "silent_account": """
        SELECT count(*) FROM customer c WHERE c.org_id = :org AND c.status = 'active'
        AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.customer_id = c.id
                        AND a.occurred_at > CAST(:now AS timestamptz) - interval '7 days')""",
    "stale_deal": """
        SELECT count(*) FROM deal WHERE org_id = :org AND status = 'open'
        AND stage_changed_at < CAST(:now AS timestamptz) - interval '14 days'""",
    "overdue_task": """
        SELECT count(*) FROM task WHERE org_id = :org AND status = 'open'
        AND customer_id IS NOT NULL AND due_at < CAST(:now AS timestamptz)""",
    "overdue_invoice": """
        SELECT count(*) FROM invoice WHERE org_id = :org AND paid_at IS NULL
        AND due_at < CAST(:now AS timestamptz)""",
    "upsell": """
        SELECT count(*) FROM customer c WHERE c.org_id = :org AND c.status = 'active'
        AND NOT EXISTS (SELECT 1 FROM deal d WHERE d.customer_id = c.id AND d.status = 'open')
        AND (EXISTS (SELECT 1 FROM deal d WHERE d.customer_id = c.id AND d.status = 'won'
                     AND d.stage_changed_at BETWEEN CAST(:now AS timestamptz) - interval '30 days'
                     AND CAST(:now AS timestamptz))
          OR EXISTS (SELECT 1 FROM activity a WHERE a.customer_id = c.id AND a.kind = 'meeting'
                     AND a.occurred_at BETWEEN CAST(:now AS timestamptz) - interval '30 days'
                     AND CAST(:now AS timestamptz)
                     AND a.summary LIKE 'Happy with the rollout%'))""",
}


def expected_counts(engine: Engine, org_id: int, now: datetime) -> dict[str, int]:
    """Each rule's count by a plain query (only the generator's one positive summary is
    positive: the others are neutral or contain a negative word)."""
    with engine.connect() as conn:
        return {
            rule: conn.execute(text(sql), {"org": org_id, "now": now}).scalar_one()
            for rule, sql in EXPECTED_SQL.items()
        }


# --- RESULTS.md ----------------------------------------------------------------------------


def _scan_name(index: int) -> str:
    return "cold" if index == 0 else f"re-scan {index} (+{index} h)"


def _timing_rows(scans: list[dict[str, Any]]) -> str:
    lines = []
    for i, scan in enumerate(scans):
        ms = scan["statements_ms"]
        cells = [
            f"{ms[r.value]['upsert']:.0f} / {ms[r.value]['resolve']:.0f}" for r in SuggestionRule
        ]
        lines.append(f"| {_scan_name(i)} | {scan['seconds']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _count_rows(scans: list[dict[str, Any]]) -> str:
    lines = []
    for i, scan in enumerate(scans):
        rules = scan["rules"]
        cells = [
            "{open:,} ({opened:,} new, {resolved:,} resolved)".format(**rules[r.value])
            for r in SuggestionRule
        ]
        lines.append(f"| {_scan_name(i)} | {scan['open']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_row(scan: dict[str, Any]) -> str:
    """Microseconds of the scan per open suggestion it left."""
    return f"{scan['seconds'] * 1e6 / max(scan['open'], 1):.0f}"


def markdown(result: dict[str, Any], argv: list[str]) -> str:
    m, pg, rows, load = (
        result["machine"],
        result["settings"],
        result["rows"],
        result["load_average"],
    )
    scans = result["scans"]
    command = " ".join([".venv/bin/python bench/suggestions.py", *argv]).strip()
    rules = " | ".join(r.value for r in SuggestionRule)
    dashes = "--:|" * len(SuggestionRule)
    cold, rescans = scans[0]["seconds"], [s["seconds"] for s in scans[1:]]
    worst = max([cold, *rescans])
    verdict = "met" if worst < 10 else "NOT met"
    gen, table = result["generate_s"], result["suggestion_table"]
    options = ", ".join(table["reloptions"] or ["default options"])
    generation = sum(v for k, v in gen.items() if k != "vacuum_analyze")
    agrees = "yes" if result["cold_agrees"] else "NO"
    expected = ", ".join(f"{k} {v:,}" for k, v in result["expected_open_cold"].items())
    rescan_list = ", ".join(f"{s:.2f}" for s in rescans)
    return f"""
Machine: {m["platform"]}, {m["cpu_count"]} CPUs, Python {m["python"]}; PostgreSQL
{pg["server_version"]} (stock settings: shared_buffers {pg["shared_buffers"]}, work_mem
{pg["work_mem"]}, {pg["max_parallel_workers_per_gather"]} parallel workers per gather, jit
{pg["jit"]}). Load average {load["before"]} before the run, {load["before_scans"]} before the
scans, {load["after_scans"]} after them (the machine is shared with other engineers' tests).
Date: {m["date"]}. Command: `{command}`.

Generated in SQL into a fresh database (fixed seed), one org: 200 reps, {rows["customer"]:,}
customers (85 % active, 5 % each prospect, inactive, churned), {rows["activity"]:,} activities
over 365 days skewed towards the present, {rows["deal"]:,} deals (40 % open, stage changed in
the last 180 days), {rows["task"]:,} tasks (40 % open, due from 60 days ago to 30 days ahead),
{rows["invoice"]:,} invoices (due from 365 days ago to 30 days ahead, 90 % of the past-due
ones paid); then `VACUUM ANALYZE` (generation {generation:.0f} s, analyze
{gen["vacuum_analyze"]:.0f} s).

Each scan is what the periodic job runs: `UnitOfWork` → `uow.suggestions.scan(org, now=…)`
→ commit, on `storage.db.make_engine`; all five rules, one upsert and one resolve statement
each. The cold scan inserts every suggestion; the re-scans, an hour apart, refresh them and
resolve what no longer holds. Seconds include the commit. The suggestion table
({options}; {table["heap_mib"]} MiB heap + {table["indexes_mib"]} MiB indexes after the last
scan) has no foreign key on org_id and owner_id and no index on the score, so a
refresh is a HOT update (storage/models/suggestions.py).

Per rule: milliseconds of its upsert / its resolve statement.

| scan | seconds | {rules} |
|---|--:|{dashes}
{_timing_rows(scans)}

| scan | open | {rules} |
|---|--:|{dashes}
{_count_rows(scans)}

Open suggestions after the cold scan equal independent plain-SQL counts of each rule:
{agrees} ({expected}).

**Reading.** Target < 10 s per scan: {verdict} (cold {cold:.2f} s, re-scans
{rescan_list} s) at load average {load["before_scans"]} → {load["after_scans"]}; that is
{per_row(scans[0])} µs per open suggestion cold and {per_row(scans[-1])} µs on the last re-scan.
"""


# --- main ----------------------------------------------------------------------------------


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def pg_settings(engine: Engine) -> dict[str, str]:
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    with engine.connect() as conn:
        return {n: conn.execute(text(f"SHOW {n}")).scalar_one() for n in (*names, "jit")}


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(url)
    engine = create_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    progress(f"generating {args.customers:,} customers and {args.activities:,} activities")
    world = generate(engine, now, args)
    org_id = world["org_id"]
    result: dict[str, Any] = {"settings": pg_settings(engine), "rows": row_counts(engine)}
    result["generate_s"] = world["seconds"]
    result["load_average"] = {"before_scans": loadavg()}
    progress("cold scan")
    scans = [timed_scan(url, org_id, now)]
    for n in range(1, args.rescans + 1):
        progress(f"re-scan {n}")
        scans.append(timed_scan(url, org_id, now + timedelta(hours=n)))
    result["load_average"]["after_scans"] = loadavg()
    result["scans"] = scans
    result["suggestion_table"] = suggestion_table(engine)
    expected = expected_counts(engine, org_id, now)
    result["expected_open_cold"] = expected
    result["cold_agrees"] = expected == {r: v["open"] for r, v in scans[0]["rules"].items()}
    engine.dispose()
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--rescans", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    before = loadavg()
    with scratch_database("countersign_bench_sugg", keep=args.keep) as url:
        if args.keep:
            progress(f"scratch database (kept): {url}")
        result = run(url, args)
    result["machine"] = machine()
    result["load_average"] = {"before": before, **result["load_average"], "after": loadavg()}
    print(json.dumps(result, indent=2, default=str))
    if not args.no_write:
        write_section("Suggestions", markdown(result, argv))
    return 0 if result["cold_agrees"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
