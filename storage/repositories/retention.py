"""Retention: what is deleted or anonymised once it is older than the retention period.

Decided per table (each step is one set-based statement over at most `limit` rows, safe to run
again: a second run finds nothing left to do):

- `message` (conversation turns, the rep's and the bot's words): **deleted**. A thread's
  memory simply starts later; nothing else points at a message.
- `conversation`: **kept**. It holds Slack ids, the active agent and the customer, no text,
  and drafts and ledger rows point at it (deleting it would blank their attribution).
- `draft` past a final state (executed, rejected, expired): **anonymised**. Subject, body,
  recipient and every other payload field are replaced by a marker payload; the approved diff
  and the execution summary ("sent to <address>") are blanked. The row, kind, status, version,
  content hash, agent, prompt version, model, tokens, cost, who decided, the reject reason and
  all timestamps stay, so the acceptance and cost reports and the audit trail remain true.
  Pending, approved and failed drafts are left alone: each still waits for a person (a failed
  one for Retry, which would send whatever the payload says).
- `draft_version` of those drafts: **anonymised** the same way (same transaction as the draft).
- `draft_execution`: **kept** (ids, status and times; a successful run clears its error).
- `audit_event`: **kept**. It is the record of who decided what; its details hold versions,
  content hashes and reasons (an executed email's reason names the recipient address).
- `llm_call` (the usage ledger): **kept**; it stores tokens and cost, never prompt or reply text.
- procrastinate's `procrastinate_jobs` (PostgreSQL only): finished jobs (succeeded, failed,
  cancelled, aborted) whose last event is older than the period are **deleted**, with their
  events (ON DELETE CASCADE); their args may hold message text. Periodic-defer rows keep their
  once-per-period record (procrastinate's trigger unlinks the job).

Age is `created_at` for messages, `updated_at` (the last change: decision, execution or expiry)
for drafts, the newest event for jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from storage.models import Draft, DraftStatus, DraftVersion, Message

FINAL_STATUSES = (DraftStatus.EXECUTED, DraftStatus.REJECTED, DraftStatus.EXPIRED)
ANONYMISED: dict[str, Any] = {"anonymised": True, "subject": "", "body": ""}

_FINISHED_JOBS = text(
    "DELETE FROM procrastinate_jobs WHERE id IN ("
    " SELECT job.id FROM procrastinate_jobs job"
    " WHERE job.status IN ('succeeded', 'failed', 'cancelled', 'aborted')"
    " AND (SELECT max(event.at) FROM procrastinate_events event"
    "      WHERE event.job_id = job.id) < :before"
    " LIMIT :limit)"
)


class RetentionRepository:
    """One batch per call; the caller commits each batch and calls again until one is short."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def delete_messages(self, before: datetime, *, limit: int) -> int:
        """Delete up to `limit` conversation messages created before `before`; how many."""
        old = select(Message.id).where(Message.created_at < before).limit(limit)
        stmt = delete(Message).where(Message.id.in_(old.scalar_subquery()))
        return _count(self.session.execute(stmt))

    def anonymise_drafts(self, before: datetime, *, limit: int) -> int:
        """Blank the content of up to `limit` finished drafts last changed before `before`, and
        of all their versions; how many drafts."""
        due = (
            select(Draft.id)
            .where(
                Draft.status.in_(FINAL_STATUSES),
                Draft.updated_at < before,
                Draft.payload["anonymised"].as_boolean().is_(None),
            )
            .limit(limit)
        )
        ids = list(
            self.session.scalars(
                update(Draft)
                .where(Draft.id.in_(due.scalar_subquery()))
                .values(
                    payload=ANONYMISED,
                    approved_diff=None,
                    execution_result={},
                    updated_at=Draft.updated_at,  # keep the real last change, not the purge
                )
                .returning(Draft.id)
            )
        )
        if ids:
            self.session.execute(
                update(DraftVersion)
                .where(DraftVersion.draft_id.in_(ids))
                .values(payload=ANONYMISED)
            )
        self.session.expire_all()  # ORM copies of these rows are stale after a bulk UPDATE
        return len(ids)

    def delete_finished_jobs(self, before: datetime, *, limit: int) -> int:
        """Delete up to `limit` finished job-engine jobs idle since before `before`; 0 where
        there is no job engine (SQLite, or PostgreSQL without procrastinate's schema)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return 0
        exists = self.session.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))
        if not exists:
            return 0
        return _count(self.session.execute(_FINISHED_JOBS, {"before": before, "limit": limit}))


def _count(result: Any) -> int:
    return int(result.rowcount or 0)
