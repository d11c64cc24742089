"""From a stored draft to the DraftSnapshot the Slack side renders."""

from __future__ import annotations

from agents.drafts.content import display_fields
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.snapshot import DraftSnapshot, Person
from storage.models import Draft, User
from storage.uow import UnitOfWork


def snapshot_of(uow: UnitOfWork, draft: Draft, policy: ApprovalPolicy) -> DraftSnapshot:
    """Everything a card needs, read inside the caller's unit of work."""
    requester = _user(uow, draft.org_id, draft.requested_by_id)
    decider = _user(uow, draft.org_id, draft.decided_by_id)
    customer = uow.crm.customer(draft.org_id, draft.customer_id) if draft.customer_id else None
    payload = draft.payload
    return DraftSnapshot(
        id=draft.id,
        org_id=draft.org_id,
        version=draft.version,
        kind=draft.kind,
        status=draft.status,
        customer_name=customer.name if customer else None,
        subject=str(payload.get("subject", "")),
        body=str(payload.get("body", "")),
        fields=display_fields(draft.kind, payload),
        requested_by=_person(requester),
        approvers=policy.describe(draft.kind, requester),
        agent=draft.agent,
        model=draft.model,
        tokens=draft.tokens,
        cost_micro_usd=draft.cost_micro_usd,
        prompt_version=draft.prompt_version,
        created_at=draft.created_at,
        expires_at=draft.expires_at,
        decided_by=_person(decider),
        decided_at=draft.decided_at,
        reject_reason=draft.reject_reason,
        executed_at=draft.executed_at,
        execution_error=draft.execution_error,
        execution_summary=(draft.execution_result or {}).get("summary"),
        attempts=draft.attempts,
        channel_id=draft.channel_id,
        thread_ts=draft.thread_ts,
        card_ts=draft.card_ts,
        notices=_notices(uow, draft),
    )


def _user(uow: UnitOfWork, org_id: int, user_id: int | None) -> User | None:
    return uow.orgs.user(org_id, user_id) if user_id else None


def _person(user: User | None) -> Person | None:
    return Person(name=user.name, slack_user_id=user.slack_user_id) if user else None


def _notices(uow: UnitOfWork, draft: Draft) -> tuple[str, ...]:
    """Who changed the text since the model wrote it ("v2 edited by Jordan Blake")."""
    if draft.version == 1:
        return ()
    latest = uow.drafts.version(draft.id, draft.version)
    if latest is None:
        return ()
    editor = _user(uow, draft.org_id, latest.created_by_id)
    verb = "edited" if latest.source == "edit" else "regenerated"
    by = f" by {editor.name}" if editor else ""
    return (f"v{draft.version} {verb}{by}",)
