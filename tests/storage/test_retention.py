"""Retention purge on SQLite and PostgreSQL: old conversation turns deleted, finished drafts
anonymised with their audit intact, recent and undecided rows untouched, and a second run
changes nothing. On PostgreSQL with the job engine, finished old jobs are deleted too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.periodic import PURGE_RETENTION
from bot.retention_jobs import RetentionReport, purge, register_retention_jobs
from bot.runner import InProcessRunner
from bot.settings import RetentionSettings
from storage.db import make_engine, session_factory
from storage.models import (
    AuditEvent,
    CallStatus,
    Draft,
    DraftKind,
    DraftStatus,
    DraftVersion,
    LLMCall,
    Message,
    MessageRole,
)
from storage.repositories.retention import ANONYMISED
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.bot.job_fixtures import job_database

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)
EMAIL = {"to_address": "ingrid@halvorsen-marine.no", "subject": "Pump", "body": "Hi Ingrid"}


def _draft(uow: UnitOfWork, org_id: int, status: DraftStatus, at: datetime, **extra: Any) -> int:
    draft = Draft(
        org_id=org_id,
        kind=DraftKind.EMAIL,
        status=status,
        payload=dict(EMAIL),
        content_hash="h" * 64,
        expires_at=at + timedelta(days=3),
        agent="drafting",
        prompt_version="drafting@1",
        model="claude-sonnet-5-5",
        tokens=900,
        cost_micro_usd=4200,
        created_at=at,
        updated_at=at,
        **extra,
    )
    uow.drafts.add(draft)
    draft.version = 2
    draft.payload = {**EMAIL, "body": "Hi Ingrid, edited"}
    uow.drafts.add_version(draft, source="edit", created_by_id=None)
    # The ORM stamped the edit with the real clock's time: put the draft back in the past.
    uow.session.execute(update(Draft).where(Draft.id == draft.id).values(updated_at=at))
    uow.audit.add(
        AuditEvent(
            org_id=org_id,
            action=f"draft.{status.value}",
            subject_type="draft",
            subject_id=str(draft.id),
            result="ok",
            detail={"version": 2, "content_hash": "h" * 64},
            created_at=at,
        )
    )
    return draft.id


def _seed(factory: sessionmaker[Session], now: datetime = NOW) -> dict[str, int]:
    old, recent = now - (NOW - OLD), now - (NOW - RECENT)
    with UnitOfWork(factory) as uow:
        org_id = uow.orgs.ensure(slack_team_id="T_RET", name="Retention Co").id
        conversation = uow.conversations.ensure(org_id=org_id, channel_id="C1", thread_ts="1.0")
        for index, at in enumerate((old, old, old, recent, recent)):
            turn = uow.conversations.add_message(
                conversation_id=conversation.id,
                role=MessageRole.USER,
                text=f"mail me at x{index}@y.no",
            )
            turn.created_at = at
        drafts = {
            "old_executed": _draft(
                uow,
                org_id,
                DraftStatus.EXECUTED,
                old,
                approved_diff="-Hi Ingrid\n+Hi Ingrid, edited",
                execution_result={"summary": "sent to ingrid@halvorsen-marine.no"},
                executed_at=old,
            ),
            "old_rejected": _draft(
                uow, org_id, DraftStatus.REJECTED, old, reject_reason="wrong tone"
            ),
            "old_expired": _draft(uow, org_id, DraftStatus.EXPIRED, old),
            "old_pending": _draft(uow, org_id, DraftStatus.PENDING, old),
            "old_failed": _draft(uow, org_id, DraftStatus.FAILED, old),
            "recent_executed": _draft(uow, org_id, DraftStatus.EXECUTED, recent),
        }
        uow.ledger.add(
            LLMCall(
                created_at=old,
                org_id=org_id,
                conversation_id=conversation.id,
                agent="drafting",
                request_type="chat",
                model="claude-sonnet-5-5",
                cost_micro_usd=4200,
                status=CallStatus.OK,
            )
        )
        uow.commit()
        return drafts | {"conversation": conversation.id}


def _state(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Everything the purge could touch, as plain values."""
    with UnitOfWork(factory) as uow:
        session = uow.session
        drafts = {
            d.id: (
                d.status,
                d.kind,
                d.version,
                d.payload,
                d.content_hash,
                d.tokens,
                d.cost_micro_usd,
                d.prompt_version,
                d.approved_diff,
                d.execution_result,
                d.reject_reason,
                d.created_at,
                d.updated_at,
                d.executed_at,
            )
            for d in session.scalars(select(Draft))
        }
        versions = {
            (v.draft_id, v.version): (v.payload, v.content_hash)
            for v in session.scalars(select(DraftVersion))
        }
        return {
            "drafts": drafts,
            "versions": versions,
            "messages": sorted((m.text, m.created_at) for m in session.scalars(select(Message))),
            "audit": sorted(
                (e.subject_id, e.action, str(e.detail)) for e in session.scalars(select(AuditEvent))
            ),
            "ledger": [
                (c.cost_micro_usd, c.conversation_id) for c in session.scalars(select(LLMCall))
            ],
        }


def test_old_rows_are_purged_or_anonymised_and_the_rest_is_untouched(any_factory: Any) -> None:
    ids = _seed(any_factory)
    before = _state(any_factory)

    report = purge(any_factory, now=NOW, days=90, batch=2)  # small batches: several rounds

    after = _state(any_factory)
    assert report == RetentionReport(messages=3, drafts=3, jobs=0)
    assert [text for text, _ in after["messages"]] == ["mail me at x3@y.no", "mail me at x4@y.no"]
    for name in ("old_executed", "old_rejected", "old_expired"):
        draft_id = ids[name]
        was, now = before["drafts"][draft_id], after["drafts"][draft_id]
        assert now[3] == ANONYMISED
        assert after["versions"][(draft_id, 1)][0] == ANONYMISED
        assert after["versions"][(draft_id, 2)][0] == ANONYMISED
        assert now[8] is None and now[9] == {}  # approved diff, execution summary
        # status, kind, version, hash, tokens, cost, prompt, reject reason, all timestamps
        assert now[:3] + now[4:8] + now[10:] == was[:3] + was[4:8] + was[10:]
    assert after["drafts"][ids["old_rejected"]][10] == "wrong tone"
    for name in ("old_pending", "old_failed", "recent_executed"):
        assert after["drafts"][ids[name]] == before["drafts"][ids[name]]
        assert after["versions"][(ids[name], 2)] == before["versions"][(ids[name], 2)]
    assert after["audit"] == before["audit"]
    assert after["ledger"] == before["ledger"]
    with UnitOfWork(any_factory) as uow:
        assert uow.conversations.get(ids["conversation"]) is not None


def test_a_second_purge_changes_nothing(any_factory: Any) -> None:
    _seed(any_factory)
    purge(any_factory, now=NOW, days=90, batch=1000)
    once = _state(any_factory)
    assert purge(any_factory, now=NOW, days=90, batch=1000) == RetentionReport(0, 0, 0)
    assert _state(any_factory) == once


def test_a_longer_retention_keeps_everything(any_factory: Any) -> None:
    _seed(any_factory)
    before = _state(any_factory)
    assert purge(any_factory, now=NOW, days=365, batch=1000) == RetentionReport(0, 0, 0)
    assert _state(any_factory) == before


def test_the_scheduled_task_body_purges_with_the_configured_period(sqlite_factory: Any) -> None:
    _seed(sqlite_factory, now=utcnow())
    runner = InProcessRunner(workers=1)
    settings = SimpleNamespace(retention=RetentionSettings(days=90, batch_size=2))
    services = SimpleNamespace(runner=runner, settings=settings, factory=sqlite_factory)
    register_retention_jobs(services)  # type: ignore[arg-type]  # the parts it uses
    runner.defer(PURGE_RETENTION, {"timestamp": 0})
    runner.shutdown(wait=True)
    texts = [text for text, _ in _state(sqlite_factory)["messages"]]
    assert texts == ["mail me at x3@y.no", "mail me at x4@y.no"]


# --- the job engine's table (PostgreSQL) ---------------------------------------------------


@pytest.fixture(scope="module")
def jobs_url(pg_url: str) -> Iterator[str]:  # pg_url: skip or fail the same way without a server
    with job_database() as url:
        yield url


def _job(conn: Any, status: str, *, at: datetime) -> int:
    job_id = conn.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
            "VALUES ('default', 'answer_question', '{\"payload\": {\"text\": \"ingrid@x.no\"}}') "
            "RETURNING id"
        )
    ).scalar_one()
    for step in {"todo": [], "doing": ["doing"]}.get(status, ["doing", status]):
        conn.execute(
            text(
                "UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status)"
                " WHERE id = :id"
            ),
            {"s": step, "id": job_id},
        )
    conn.execute(
        text("UPDATE procrastinate_events SET at = :at WHERE job_id = :id"),
        {"at": at, "id": job_id},
    )
    return int(job_id)


def test_finished_old_jobs_are_deleted_with_their_events(jobs_url: str) -> None:
    engine = make_engine(jobs_url)
    try:
        with engine.begin() as conn:
            jobs = {
                "old_succeeded": _job(conn, "succeeded", at=OLD),
                "old_failed": _job(conn, "failed", at=OLD),
                "old_todo": _job(conn, "todo", at=OLD),
                "old_doing": _job(conn, "doing", at=OLD),
                "recent_succeeded": _job(conn, "succeeded", at=RECENT),
            }
        factory = session_factory(engine)

        first = purge(factory, now=NOW, days=90, batch=1)
        second = purge(factory, now=NOW, days=90, batch=1)

        with engine.connect() as conn:
            left = set(conn.scalars(text("SELECT id FROM procrastinate_jobs")))
            orphans = conn.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_events"
                    " WHERE job_id NOT IN (SELECT id FROM procrastinate_jobs)"
                )
            )
        assert first.jobs == 2 and second.jobs == 0
        assert left == {jobs["old_todo"], jobs["old_doing"], jobs["recent_succeeded"]}
        assert orphans == 0
    finally:
        engine.dispose()


def test_without_the_job_schema_there_is_nothing_to_delete(pg_factory: Any) -> None:
    with pg_factory() as session:
        assert session.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is None
    assert purge(pg_factory, now=NOW, days=90, batch=10).jobs == 0
