"""Drafts and their versions. State changes are compare-and-set: one UPDATE … WHERE status …
RETURNING, so of two racing clicks exactly one sees a row come back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Draft, DraftExecution, DraftStatus, DraftVersion
from storage.repositories.upsert import insert_ignoring_conflict
from storage.types import utcnow


class DraftRepository:
    """Every method takes the org id first: a draft is only ever seen by its own org."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, draft: Draft, *, created_by_id: int | None = None) -> Draft:
        """Store a new draft and its version 1."""
        self.session.add(draft)
        self.session.flush()
        self.add_version(draft, source="model", created_by_id=created_by_id)
        return draft

    def add_version(self, draft: Draft, *, source: str, created_by_id: int | None) -> None:
        """Keep the draft's current content as a numbered version."""
        self.session.add(
            DraftVersion(
                draft_id=draft.id,
                version=draft.version,
                payload=dict(draft.payload),
                content_hash=draft.content_hash,
                source=source,
                created_by_id=created_by_id,
            )
        )
        self.session.flush()

    def get(self, org_id: int, draft_id: int) -> Draft | None:
        """One draft of the org."""
        return self.session.scalar(
            select(Draft).where(Draft.org_id == org_id, Draft.id == draft_id)
        )

    def version(self, draft_id: int, version: int) -> DraftVersion | None:
        """One stored version."""
        return self.session.scalar(
            select(DraftVersion).where(
                DraftVersion.draft_id == draft_id, DraftVersion.version == version
            )
        )

    def transition(
        self,
        org_id: int,
        draft_id: int,
        *,
        from_status: Iterable[DraftStatus],
        to_status: DraftStatus,
        version: int | None = None,
        unexpired_at: datetime | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Move the draft to `to_status` only if it is still in `from_status` (and, when given,
        still at `version` and not expired at `unexpired_at`). True when this call won."""
        stmt = update(Draft).where(
            Draft.org_id == org_id, Draft.id == draft_id, Draft.status.in_(list(from_status))
        )
        if version is not None:
            stmt = stmt.where(Draft.version == version)
        if unexpired_at is not None:
            stmt = stmt.where(Draft.expires_at > unexpired_at)
        stmt = stmt.values(status=to_status, updated_at=utcnow(), **(values or {}))
        won = self.session.execute(stmt.returning(Draft.id)).first() is not None
        self.session.expire_all()  # the ORM copy of the row is stale after a bulk UPDATE
        return won

    def expire_due(self, now: datetime, *, limit: int = 500) -> list[int]:
        """Mark pending drafts past their expiry as expired; the ids this call expired."""
        due = select(Draft.id).where(Draft.status == DraftStatus.PENDING, Draft.expires_at <= now)
        stmt = (
            update(Draft)
            .where(
                Draft.id.in_(due.limit(limit).scalar_subquery()),
                Draft.status == DraftStatus.PENDING,
            )
            .values(status=DraftStatus.EXPIRED, updated_at=utcnow())
            .returning(Draft.id)
        )
        return list(self.session.scalars(stmt))

    def pending(self, org_id: int, *, limit: int = 200) -> Sequence[Draft]:
        """The org's drafts waiting for a decision, oldest first."""
        return self.session.scalars(
            select(Draft)
            .where(Draft.org_id == org_id, Draft.status == DraftStatus.PENDING)
            .order_by(Draft.created_at)
            .limit(limit)
        ).all()

    def requested_by(
        self, org_id: int, user_id: int, statuses: Iterable[DraftStatus], *, limit: int = 50
    ) -> Sequence[Draft]:
        """Drafts a person asked for, in the given states, newest first."""
        return self.session.scalars(
            select(Draft)
            .where(
                Draft.org_id == org_id,
                Draft.requested_by_id == user_id,
                Draft.status.in_(list(statuses)),
            )
            .order_by(Draft.created_at.desc())
            .limit(limit)
        ).all()

    def claim_execution(self, draft_id: int, version: int) -> bool:
        """Take the right to execute this version; False when it already ran, is running, or
        failed and was not re-armed by an approver's Retry (see rearm_execution)."""
        key = execution_key(draft_id, version)
        inserted = insert_ignoring_conflict(
            self.session,
            DraftExecution,
            {"draft_id": draft_id, "version": version, "idempotency_key": key, "status": "running"},
            conflict_columns=["idempotency_key"],
        )
        if inserted:
            return True
        retried = self.session.execute(
            update(DraftExecution)
            .where(DraftExecution.idempotency_key == key, DraftExecution.status == "retry")
            .values(status="running", attempts=DraftExecution.attempts + 1, error=None)
            .returning(DraftExecution.id)
        )
        return retried.first() is not None

    def rearm_execution(self, draft_id: int, version: int) -> None:
        """An approver's Retry: let the failed execution of this version be claimed once more.

        Only a re-armed row can be claimed again, so an execute() racing a failure can never
        take the failed row and act for a draft that is already shown as failed."""
        self.session.execute(
            update(DraftExecution)
            .where(
                DraftExecution.idempotency_key == execution_key(draft_id, version),
                DraftExecution.status == "failed",
            )
            .values(status="retry")
        )

    def finish_execution(
        self, draft_id: int, version: int, *, now: datetime, error: str | None = None
    ) -> None:
        """Record how the claimed execution ended."""
        self.session.execute(
            update(DraftExecution)
            .where(DraftExecution.idempotency_key == execution_key(draft_id, version))
            .values(status="failed" if error else "done", finished_at=now, error=error)
        )

    def executions(self, draft_id: int) -> Sequence[DraftExecution]:
        """Every execution claim of a draft (one per executed version)."""
        return self.session.scalars(
            select(DraftExecution).where(DraftExecution.draft_id == draft_id)
        ).all()

    def outcomes_by_prompt_version(self, org_id: int) -> list[tuple[str, DraftStatus, int]]:
        """(prompt version, final status, count) — the acceptance rate of each prompt."""
        rows = self.session.execute(
            select(Draft.prompt_version, Draft.status, func.count())
            .where(Draft.org_id == org_id)
            .group_by(Draft.prompt_version, Draft.status)
            .order_by(Draft.prompt_version, Draft.status)
        )
        return [(p, s, n) for p, s, n in rows]


def execution_key(draft_id: int, version: int) -> str:
    """The idempotency key of one draft version's execution."""
    return f"draft:{draft_id}:v{version}"
