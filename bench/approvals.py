"""Approval path on PostgreSQL: how long a click takes from Approve to "executed", alone and
when 51 people click one draft at once (50 Approve + 1 Reject).

Runs DraftService directly (no Slack): the numbers are the database and SMTP work a decision
job does. Usage: `.venv/bin/python bench/approvals.py [--n 200] [--rounds 20]`.
Needs PostgreSQL (COUNTERSIGN_TEST_DATABASE_URL, default the CI machine's)."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from _common import machine, percentile, write_section
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.email import SmtpSettings
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.service import DraftService, Proposal, Result
from bot.emulator.mailbox import Mailbox
from storage.db import session_factory
from storage.demo import seed_demo
from storage.migrate import upgrade
from storage.models import Customer, DraftKind, Role
from storage.types import utcnow
from storage.uow import UnitOfWork

ADMIN_URL = os.environ.get(
    "COUNTERSIGN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEAM = "T_BENCH"


@contextmanager
def fresh_database() -> Iterator[str]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"countersign_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def setup(url: str, mailbox: Mailbox) -> tuple[DraftService, int, int, sessionmaker[Session]]:
    upgrade(url)
    factory = session_factory(create_engine(url, pool_size=60, max_overflow=0))
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=TEAM, name="Bench Co")
        uow.commit()
    seed_demo(factory, org_id=org.id, now=utcnow())
    with UnitOfWork(factory) as uow:
        customer_id = uow.session.scalar(
            select(Customer.id).where(
                Customer.org_id == org.id, Customer.name == "Halvorsen Marine"
            )
        )
        uow.orgs.add_user(
            org_id=org.id,
            email="sam@bench.example",
            name="Sam Rivera",
            slack_user_id="U_MGR2",
            role=Role.MANAGER,
        )
        uow.commit()
    assert customer_id is not None
    service = DraftService(
        factory=factory,
        policy=ApprovalPolicy(),
        ttl=timedelta(hours=72),
        smtp=SmtpSettings(host=mailbox.host, port=mailbox.port, security="none"),
    )
    return service, org.id, customer_id, factory


def propose(service: DraftService, org_id: int, customer_id: int, kind: DraftKind) -> int:
    actor = service.actor(TEAM, "U_REP1")
    assert actor is not None
    payload: dict[str, Any] = {"subject": "Renewal next steps", "body": "Hi Ingrid,\n\nShall we?"}
    if kind == DraftKind.EMAIL:
        payload |= {"to_address": "ingrid@halvorsen-marine.no", "to_name": "Ingrid Halvorsen"}
    return service.propose(
        Proposal(
            org_id=org_id,
            kind=kind,
            payload=payload,
            requested_by_id=actor.user.id,
            customer_id=customer_id,
            conversation_id=None,
            channel_id="C_SALES",
            thread_ts=None,
            agent="drafting",
            prompt_version="drafting@1",
            model="offline",
        )
    )


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def sequential(service: DraftService, org_id: int, customer_id: int, n: int) -> dict[str, Any]:
    """Approve → executed, one click at a time: a self-approved note and a manager's email."""
    results = {}
    for kind, approver in ((DraftKind.NOTE, "U_REP1"), (DraftKind.EMAIL, "U_MGR1")):
        ids = [propose(service, org_id, customer_id, kind) for _ in range(n)]
        samples = [timed(lambda i=i, who=approver: service.approve(TEAM, who, i, 1)) for i in ids]
        results[kind.value] = stats(samples)
    return results


def race(service: DraftService, org_id: int, customer_id: int, rounds: int) -> dict[str, Any]:
    """50 Approve + 1 Reject on one email draft, all released together, `rounds` times."""
    walls, winners = [], []
    for _ in range(rounds):
        draft_id = propose(service, org_id, customer_id, DraftKind.EMAIL)
        wall, won = _race_round(service, draft_id)
        walls.append(wall)
        winners.append(won)
    return {**stats(walls), "winners_per_round": sorted(set(winners))}


def _race_round(service: DraftService, draft_id: int) -> tuple[float, int]:
    """(wall ms, number of clicks that changed the draft) for one 51-click race."""
    barrier = threading.Barrier(51)
    outcomes: list[Result] = []
    lock = threading.Lock()

    def click(reject: bool) -> None:
        barrier.wait()
        if reject:
            outcome = service.reject(TEAM, "U_MGR2", draft_id, 1, "not now")
        else:
            outcome = service.approve(TEAM, "U_MGR1", draft_id, 1)
        with lock:
            outcomes.append(outcome.result)

    threads = [threading.Thread(target=click, args=(i == 0,)) for i in range(51)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - started) * 1000, outcomes.count(Result.DONE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with Mailbox() as mailbox, fresh_database() as url:
        service, org_id, customer_id, factory = setup(url, mailbox)
        result = {
            "machine": machine(),
            "sequential_approve_to_executed": sequential(service, org_id, customer_id, args.n),
            "race_50_approve_1_reject_wall": race(service, org_id, customer_id, args.rounds),
            "emails_received": len(mailbox.messages),
        }
        factory.kw["bind"].dispose()
    print(json.dumps(result, indent=2))
    write_section("Draft approvals", _markdown(result, args))
    return 0


def _markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    m = result["machine"]
    seq = result["sequential_approve_to_executed"]
    race_ = result["race_50_approve_1_reject_wall"]
    rows = "\n".join(
        f"| {kind} | {s['n']} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} |"
        for kind, s in seq.items()
    )
    return f"""
Machine: {m["platform"]}, {m["cpu_count"]} CPUs, Python {m["python"]}. Date: {m["date"]}.
Command: `.venv/bin/python bench/approvals.py --n {args.n} --rounds {args.rounds}` — DraftService
on PostgreSQL (fresh database, demo data), SMTP to a local aiosmtpd mailbox; no Slack.

One click at a time, Approve → executed (compare-and-set, execution claim, CRM write or SMTP
send, audit rows; a note is self-approved by its rep, an email approved by a manager):

| kind | n | p50 ms | p99 ms | max ms |
|---|--:|--:|--:|--:|
{rows}

51 threads released together on one email draft (50 Approve + 1 Reject), {race_["n"]} rounds:
wall time p50 {race_["p50_ms"]} ms, p99 {race_["p99_ms"]} ms, max {race_["max_ms"]} ms; winners
per round: {race_["winners_per_round"]} (must be [1]); emails received in all:
{result["emails_received"]} (the sequential emails plus one per race round the Approve won).
"""


if __name__ == "__main__":
    raise SystemExit(main())
