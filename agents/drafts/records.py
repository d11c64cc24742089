"""Small shared steps of the draft flow: who asked for a draft, and writing its audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import AuditEvent, Draft, User
from storage.uow import UnitOfWork

SUBJECT = "draft"


def owner_of(uow: UnitOfWork, draft: Draft) -> User | None:
    """The person who asked for the draft."""
    if draft.requested_by_id is None:
        return None
    return uow.orgs.user(draft.org_id, draft.requested_by_id)


def record_audit(
    uow: UnitOfWork,
    draft: Draft,
    actor_id: int | None,
    action: str,
    result: str,
    *,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Append one audit event about `draft` (its version and content hash included)."""
    detail: dict[str, Any] = {"version": draft.version, "content_hash": draft.content_hash}
    if reason:
        detail["reason"] = reason
    uow.audit.add(
        AuditEvent(
            org_id=draft.org_id,
            actor_id=actor_id,
            action=action,
            subject_type=SUBJECT,
            subject_id=str(draft.id),
            result=result,
            detail=detail,
            created_at=at,
        )
    )
