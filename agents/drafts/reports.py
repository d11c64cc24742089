"""What reports read about drafts: the audit trail, and how often each prompt's drafts are
accepted (approved, with or without edits) rather than rejected or left to expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from storage.models import DraftStatus
from storage.uow import UnitOfWork

_ACCEPTED = {DraftStatus.APPROVED, DraftStatus.EXECUTED, DraftStatus.FAILED}
_DECLINED = {DraftStatus.REJECTED, DraftStatus.EXPIRED}


@dataclass(frozen=True)
class PromptAcceptance:
    """Decided drafts of one prompt version and the share that was accepted."""

    prompt_version: str
    accepted: int
    declined: int
    pending: int

    @property
    def rate(self) -> float | None:
        """accepted / decided; None before any decision."""
        decided = self.accepted + self.declined
        return self.accepted / decided if decided else None


@dataclass(frozen=True)
class AuditLine:
    """One audit event, readable."""

    at: datetime
    actor: str
    action: str
    subject: str
    result: str
    detail: dict[str, object]


def acceptance_by_prompt(factory: sessionmaker[Session], org_id: int) -> list[PromptAcceptance]:
    """Acceptance per prompt version, for the reports."""
    with UnitOfWork(factory) as uow:
        rows = uow.drafts.outcomes_by_prompt_version(org_id)
    totals: dict[str, list[int]] = {}
    for prompt, status, count in rows:
        bucket = totals.setdefault(prompt, [0, 0, 0])
        bucket[0 if status in _ACCEPTED else 1 if status in _DECLINED else 2] += count
    return [PromptAcceptance(p, *counts) for p, counts in sorted(totals.items())]


def audit_trail(
    factory: sessionmaker[Session],
    org_id: int,
    *,
    draft_id: int | None = None,
    slack_user_id: str | None = None,
) -> list[AuditLine]:
    """A draft's history (oldest first) or a person's decisions (newest first)."""
    with UnitOfWork(factory) as uow:
        if draft_id is not None:
            events = uow.audit.for_subject(org_id, "draft", str(draft_id))
        else:
            user = uow.orgs.user_by_slack_id(org_id, slack_user_id or "")
            events = uow.audit.by_actor(org_id, user.id) if user else []
        names = {u.id: u.name for u in uow.orgs.users(org_id)}
        return [
            AuditLine(
                at=e.created_at,
                actor=names.get(e.actor_id, "system") if e.actor_id else "system",
                action=e.action,
                subject=f"{e.subject_type} {e.subject_id}",
                result=e.result or "",
                detail=dict(e.detail),
            )
            for e in events
        ]
