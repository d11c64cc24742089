"""The customer 360 on PostgreSQL: `get_customer_context` (drafting) and `get_customer`
(the customer specialist) for one customer with 100 k activities among 20 k customers.

A scratch database (migrated, filled by generate_series with a fixed seed, dropped at the
end) holds 500 k other activities and 60 k each of deals, tasks, orders and invoices; the
customer under test also has 25 contacts, 200 deals, 500 tasks, 2,000 orders and 2,000
invoices. Each tool runs as a specialist calls it; p50/p95/max after a warm-up, each
statement's time and EXPLAIN ANALYZE. Target: p95 < 50 ms. Usage:
`.venv/bin/python bench/context.py [--calls 300] [--others 500000] [--write]`."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from _common import machine, percentile, scratch_database, write_section
from sqlalchemy import Engine, event, text

from agents.tools.base import ToolContext, ToolSpec
from agents.tools.context import CustomerContextArgs, get_customer_context
from agents.tools.customers import GetCustomerArgs, get_customer
from storage.db import make_engine, session_factory
from storage.migrate import upgrade

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CUSTOMERS, REPS = 20_000, 100
NOW_SQL = "CAST(:now AS timestamptz)"

ORG_SQL = """INSERT INTO org (slack_team_id, name, timezone, currency, plan, created_at)
VALUES ('T_BENCH', 'Bench', 'UTC', 'USD', 'business', now()) RETURNING id"""
USERS_SQL = """INSERT INTO app_user (org_id, email, name, role, timezone, created_at)
SELECT :org, 'rep' || g || '@bench.example', 'Rep ' || g, 'rep', 'UTC', now()
FROM generate_series(1, :reps) g"""
CUSTOMERS_SQL = """INSERT INTO customer (org_id, external_id, name, company, status, tags,
    owner_id, notes, created_at)
SELECT :org, 'C-' || g, 'Customer ' || g, 'Company ' || g, 'active', '[]', :u0 + g % :reps,
    'Prefers email; fiscal year ends in June.', now() FROM generate_series(1, :n) g"""
# Every generator takes (:org, :c0 first customer id, :nc customers, :big the customer
# under test, :n rows, :now) and draws its customer as `big` for the first :nbig rows.
CUSTOMER_OF = "CASE WHEN g <= :nbig THEN :big ELSE :c0 + floor(random() * :nc)::int END"
CONTACTS_SQL = f"""INSERT INTO contact (org_id, customer_id, name, email, phone, title)
SELECT :org, {CUSTOMER_OF}, 'Person ' || g, 'p' || g || '@customer.example',
    '+47 55 00 ' || g, 'Buyer'
FROM generate_series(1, :n) g
"""
ACTIVITIES_SQL = f"""INSERT INTO activity (org_id, customer_id, kind, summary, occurred_at, user_id)
SELECT :org, {CUSTOMER_OF}, (ARRAY['call', 'email', 'meeting', 'note'])[1 + g % 4],
    'Talked about the service plan and the next delivery.',
    CAST(:now AS timestamptz) - make_interval(secs => 3 * 365 * 86400 * random()), :u0
FROM generate_series(1, :n) g
"""
DEALS_SQL = f"""INSERT INTO deal (org_id, external_id, customer_id, title, stage, amount, owner_id,
    stage_changed_at, expected_close_at, status, created_at)
SELECT :org, 'D-' || g, {CUSTOMER_OF}, 'Deal ' || g,
    CASE WHEN g % 10 = 0 THEN 'proposal' ELSE 'closed_won' END, 1000 + g % 90000, :u0,
    CAST(:now AS timestamptz) - make_interval(days => g % 400),
    CAST(:now AS timestamptz) + make_interval(days => g % 90),
    CASE WHEN g % 10 = 0 THEN 'open' ELSE 'won' END, now()
FROM generate_series(1, :n) g
"""
TASKS_SQL = f"""INSERT INTO task (org_id, customer_id, title, due_at, status, assignee_id,
    created_at)
SELECT :org, {CUSTOMER_OF}, 'Task ' || g,
    CAST(:now AS timestamptz) + make_interval(days => g % 60 - 30),
    CASE WHEN g % 10 = 0 THEN 'open' ELSE 'done' END, :u0, now()
FROM generate_series(1, :n) g
"""
ORDERS_SQL = f"""INSERT INTO sales_order (org_id, external_id, customer_id, number, status,
    total, placed_at)
SELECT :org, 'O-' || g, {CUSTOMER_OF}, 'SO-' || g, 'delivered', 500 + g % 20000,
    CAST(:now AS timestamptz) - make_interval(secs => 3 * 365 * 86400 * random())
FROM generate_series(1, :n) g
"""
INVOICES_SQL = f"""INSERT INTO invoice (org_id, external_id, customer_id, amount, due_at, paid_at)
SELECT :org, 'I-' || g, {CUSTOMER_OF}, 500 + g % 20000,
    CAST(:now AS timestamptz) - make_interval(days => g % 1000),
    CASE WHEN g % 67 <> 0 THEN CAST(:now AS timestamptz) - make_interval(days => g % 1000) END
FROM generate_series(1, :n) g
"""


def generate(engine: Engine, others: int) -> dict[str, Any]:
    """The CRM above; returns the org, the customer under test and seconds taken."""
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        org = conn.execute(text(ORG_SQL)).scalar_one()
        conn.execute(text(USERS_SQL), {"org": org, "reps": REPS})
        u0 = conn.execute(text("SELECT min(id) FROM app_user")).scalar_one()
        conn.execute(text(CUSTOMERS_SQL), {"org": org, "u0": u0, "reps": REPS, "n": CUSTOMERS})
        c0 = conn.execute(text("SELECT min(id) FROM customer")).scalar_one()
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # ids are valid
        common = {"org": org, "u0": u0, "c0": c0, "nc": CUSTOMERS, "big": c0, "now": NOW}
        for sql, big, rest in (
            (CONTACTS_SQL, 25, CUSTOMERS * 3),
            (ACTIVITIES_SQL, 100_000, others),
            (DEALS_SQL, 200, 60_000),
            (TASKS_SQL, 500, 60_000),
            (ORDERS_SQL, 2_000, 60_000),
            (INVOICES_SQL, 2_000, 60_000),
        ):
            conn.execute(text(sql), {**common, "nbig": big, "n": big + rest})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return {"org_id": org, "customer_id": c0, "seconds": round(time.perf_counter() - began, 1)}


# What the customer under test really has, so the report describes the data it promises.
FACTS = {
    "activities": ("activity", "true"),
    "activities_last_30_days": ("activity", f"occurred_at >= {NOW_SQL} - interval '30 days'"),
    "open_deals": ("deal", "status = 'open'"),
    "open_tasks": ("task", "status = 'open'"),
    "orders": ("sales_order", "true"),
    "overdue_invoices": ("invoice", f"paid_at IS NULL AND due_at < {NOW_SQL}"),
}


def facts(engine: Engine, customer_id: int) -> dict[str, int]:
    """Counts of the customer's rows (FACTS) and of all activities."""
    with engine.connect() as conn:
        counts = {
            name: conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE customer_id = :c AND {where}"),
                {"c": customer_id, "now": NOW},
            ).scalar_one()
            for name, (table, where) in FACTS.items()
        }
        counts["all_activities"] = conn.execute(text("SELECT count(*) FROM activity")).scalar_one()
    return counts


class Statements:
    """Each statement's SQL, parameters and wall time while recording."""

    def __init__(self, engine: Engine) -> None:
        self.recording = False
        self.runs: list[tuple[str, Any, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        took = time.perf_counter() - conn.info.pop("bench_started")
        if self.recording:
            self.runs.append((statement, parameters, took))


def measure(
    spec: ToolSpec[Any], ctx: ToolContext, args: Any, calls: int, timer: Statements
) -> dict[str, Any]:
    """p50/p95/max of `calls` tool calls after a warm-up, and the median of each statement."""
    for _ in range(20):
        spec.fn(ctx, args)
    timer.runs.clear()
    timer.recording = True
    took = []
    for _ in range(calls):
        began = time.perf_counter()
        result = spec.fn(ctx, args)
        took.append((time.perf_counter() - began) * 1000)
    timer.recording = False
    per_call = len(timer.runs) // calls
    medians = [statistics.median(t for *_, t in timer.runs[i::per_call]) for i in range(per_call)]
    took.sort()
    return {
        "calls": calls,
        "p50_ms": round(percentile(took, 50), 2),
        "p95_ms": round(percentile(took, 95), 2),
        "max_ms": round(took[-1], 2),
        "statements_per_call": per_call,
        "statement_medians_ms": [round(ms * 1000, 2) for ms in medians],
        "sql_ms_sum_of_medians": round(sum(medians) * 1000, 2),
        "payload_chars": len(json.dumps(result, default=str)),
        "_explain": [(s, p) for s, p, _t in timer.runs[:per_call]],
    }


def explain(engine: Engine, runs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement of one call: its plan nodes and time."""
    plans = []
    with engine.connect() as conn:
        for statement, parameters in runs:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [r[0] for r in rows]
            nodes = [x.strip(" ->").split("  (")[0] for x in lines if "(cost=" in x]
            ms = next((x.split(": ")[1] for x in lines if x.startswith("Execution")), "")
            table = statement.split("FROM", 1)[1].split()[0]
            plans.append({"table": table, "plan": nodes, "execution": ms})
    return plans


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, measure both tools, explain; the JSON report."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    with scratch_database("countersign_context") as url:
        upgrade(url)
        engine = make_engine(url)
        data = generate(engine, args.others)
        timer = Statements(engine)
        ctx = ToolContext(
            factory=session_factory(engine), org_id=data["org_id"], user_id=None, now=NOW
        )
        tools = {
            spec.name: measure(spec, ctx, model(customer_id=data["customer_id"]), args.calls, timer)
            for spec, model in (
                (get_customer_context, CustomerContextArgs),
                (get_customer, GetCustomerArgs),
            )
        }
        for result in tools.values():
            result["explain"] = explain(engine, result.pop("_explain"))
        with engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
        host: dict[str, Any] = {**machine(), "postgresql": server, "load_before": load_before}
        report = {
            "machine": host,
            "target_p95_ms": 50,
            "data": {**data, "customer_under_test": facts(engine, data["customer_id"])},
            "tools": tools,
        }
        engine.dispose()
    host["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main() -> None:
    """Print the JSON report (and write RESULTS.md with --write)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="measured calls per tool")
    parser.add_argument("--others", type=int, default=500_000, help="other activities")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    report = run(args)
    print(json.dumps(report, indent=2, default=str))
    if args.write:
        write_section("Customer context", results_text(report))


READING = """Reading. Met with room to spare: both tools read the 100 k activities through
`ix_activity_customer_occurred` backwards with a LIMIT. Under half of a call is SQL; the rest
is a round trip per statement (plus pre-ping and rollback) and ~180 ORM objects. A smaller
run at load average ~3.5 on this shared 2-core machine gave p50 30 ms / p95 46 ms:
contention decides how close to 50 ms it gets. What would grow with a customer's history (no
migration added; for whoever owns storage): `recent_orders` sorts and `last_order_at`
aggregates all 2,000 orders, so an index on sales_order (customer_id, placed_at) makes both
a few-row probe (and `last_order_at` could come from `recent_orders`: one statement fewer);
open deals and tasks BitmapAnd the org-wide (org_id, status, …) indexes (6 k rows each),
where (customer_id, status) indexes read only the customer's rows; overdue invoices scan all
of the customer's, where a partial index on invoice (customer_id, due_at) WHERE paid_at IS
NULL reads only the unpaid ones, in order."""


def results_text(report: dict[str, Any]) -> str:
    """The RESULTS.md section: machine, data, latency per tool and where the time goes."""
    m, data = report["machine"], report["data"]
    rows = "\n".join(
        f"| `{name}` | {t['p50_ms']} | {t['p95_ms']} | {t['max_ms']} | "
        f"{t['statements_per_call']} | {t['sql_ms_sum_of_medians']} |"
        for name, t in report["tools"].items()
    )
    tool = report["tools"]["get_customer_context"]
    plans = "\n".join(
        f"| {e['table']} | {ms} | {e['execution']} | {' → '.join(e['plan'])} |"
        for ms, e in zip(tool["statement_medians_ms"], tool["explain"], strict=True)
    )
    return f"""Machine: {m["platform"]}, {m["cpu_count"]} CPUs, Python {m["python"]}; PostgreSQL
{m["postgresql"]}. Load average {m["load_before"]} before, {m["load_after"]} after.
Date: {m["date"]}. Command: `.venv/bin/python bench/context.py --write`.

Customer under test: {json.dumps(data["customer_under_test"])}; {CUSTOMERS:,} customers
(generated in {data["seconds"]} s). {report["tools"]["get_customer"]["calls"]} calls per
tool after 20 warm-up calls, each in its own UnitOfWork on the product engine.

| tool | p50 ms | p95 ms | max ms | statements | SQL ms (sum of medians) |
|---|--:|--:|--:|--:|--:|
{rows}

Target p95 < 50 ms. Each statement of `get_customer_context`, by EXPLAIN (ANALYZE, BUFFERS)
with the call's own parameters:

| statement (table) | median ms in the call | execution | plan |
|---|--:|--:|---|
{plans}

{READING}"""


if __name__ == "__main__":
    main()
