"""Reads for the training export: approved drafts beside the model's first version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from storage.models import Draft, DraftStatus, DraftVersion

# A person approved these (a failed one was approved, then the send failed).
APPROVED_STATUSES = (DraftStatus.APPROVED, DraftStatus.EXECUTED, DraftStatus.FAILED)


@dataclass(frozen=True)
class ApprovedDraft:
    """An approved draft: how it was made, and its first and approved content."""

    draft: Draft
    first_payload: dict[str, Any]


class TrainingRepository:
    """Pages through an org's approved drafts by id (keyset: no offset scans)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def approved_drafts(
        self, org_id: int, *, since: datetime | None, after_id: int, limit: int
    ) -> list[ApprovedDraft]:
        """Up to `limit` approved drafts with id > `after_id` (created at or after `since`),
        oldest first; anonymised drafts (retention) have nothing left to learn from."""
        first = and_(DraftVersion.draft_id == Draft.id, DraftVersion.version == 1)
        query = (
            select(Draft, DraftVersion.payload)
            .join(DraftVersion, first)
            .where(
                Draft.org_id == org_id,
                Draft.status.in_(APPROVED_STATUSES),
                Draft.id > after_id,
                Draft.payload["anonymised"].as_boolean().is_(None),
            )
            .order_by(Draft.id)
            .limit(limit)
        )
        if since is not None:
            query = query.where(Draft.created_at >= since)
        return [ApprovedDraft(draft, payload) for draft, payload in self.session.execute(query)]
