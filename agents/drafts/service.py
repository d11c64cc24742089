"""The approval flow: propose, approve, edit, reject, retry, expire — each state change one
compare-and-set, each decision audited, each approved version executed at most once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.content import content_hash, diff_text, with_text
from agents.drafts.email import SmtpSettings
from agents.drafts.execution import DraftExecutor
from agents.drafts.policy import ApprovalPolicy, Verdict
from agents.drafts.records import owner_of, record_audit
from agents.drafts.snapshot import DraftSnapshot
from agents.drafts.views import snapshot_of
from storage.models import Draft, DraftStatus, User
from storage.models.enums import DraftKind
from storage.types import utcnow
from storage.uow import UnitOfWork


class Result(StrEnum):
    """How a click ended."""

    DONE = "done"  # it changed the draft
    DENIED = "denied"  # the clicker may not do that; nothing changed
    STALE = "stale"  # the card showed an older version than the current one
    SETTLED = "settled"  # someone decided first (or it is no longer open)
    EXPIRED = "expired"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Outcome:
    """What the clicker is told, and the draft as it now stands (for the card)."""

    result: Result
    message: str
    draft: DraftSnapshot | None = None

    @property
    def changed(self) -> bool:
        """Whether the card and thread should hear about it."""
        return self.result in (Result.DONE, Result.EXPIRED)


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A new draft from a specialist run."""

    org_id: int
    kind: DraftKind
    payload: dict[str, Any]
    requested_by_id: int | None
    customer_id: int | None
    conversation_id: int | None
    channel_id: str | None
    thread_ts: str | None
    agent: str
    prompt_version: str
    model: str


@dataclass(frozen=True)
class Actor:
    """The person clicking, resolved from Slack ids."""

    org_id: int
    user: User


class DraftService:
    """All draft state changes go through here."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        policy: ApprovalPolicy,
        ttl: timedelta,
        smtp: SmtpSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.ttl = ttl
        self.smtp = smtp
        self.clock = clock

    # --- creation -------------------------------------------------------------------------

    def propose(self, proposal: Proposal) -> int:
        """Store a pending draft (version 1) and audit it; returns its id."""
        now = self.clock()
        with UnitOfWork(self.factory) as uow:
            draft = uow.drafts.add(
                Draft(
                    org_id=proposal.org_id,
                    conversation_id=proposal.conversation_id,
                    customer_id=proposal.customer_id,
                    requested_by_id=proposal.requested_by_id,
                    kind=proposal.kind,
                    payload=proposal.payload,
                    content_hash=content_hash(proposal.kind, proposal.payload),
                    expires_at=now + self.ttl,
                    agent=proposal.agent,
                    prompt_version=proposal.prompt_version,
                    model=proposal.model,
                    channel_id=proposal.channel_id,
                    thread_ts=proposal.thread_ts,
                ),
                created_by_id=None,
            )
            self._audit(uow, draft, proposal.requested_by_id, "draft.proposed", "pending")
            uow.commit()
            return draft.id

    def revise(
        self, org_id: int, draft_id: int, version: int, payload: dict[str, Any], *, by: int | None
    ) -> bool:
        """A regenerated text becomes the next version, if `version` is still current."""
        with UnitOfWork(self.factory) as uow:
            draft = uow.drafts.get(org_id, draft_id)
            if draft is None or not self._bump(uow, draft, version, payload, "regenerate", by):
                return False
            uow.commit()
            return True

    def record_run(self, draft_ids: list[int], *, model: str, tokens: int, cost: int) -> None:
        """Add a run's model, tokens and cost to the drafts it produced (a regeneration adds
        to the first run's): the card shows what producing the draft cost."""
        with UnitOfWork(self.factory) as uow:
            for draft_id in draft_ids:
                draft = uow.session.get(Draft, draft_id)
                if draft is not None:
                    draft.model = model
                    draft.tokens = (draft.tokens or 0) + tokens
                    draft.cost_micro_usd = (draft.cost_micro_usd or 0) + cost
            uow.commit()

    def place_card(self, draft_id: int, *, channel_id: str, ts: str) -> None:
        """Remember where the draft's card was posted, so decisions can update it."""
        with UnitOfWork(self.factory) as uow:
            draft = uow.session.get(Draft, draft_id)
            if draft is not None:
                draft.channel_id, draft.card_ts = channel_id, ts
                uow.commit()

    # --- reading --------------------------------------------------------------------------

    def snapshot(self, org_id: int, draft_id: int) -> DraftSnapshot | None:
        """The draft as its card shows it."""
        with UnitOfWork(self.factory) as uow:
            draft = uow.drafts.get(org_id, draft_id)
            return snapshot_of(uow, draft, self.policy) if draft else None

    def home(self, team_id: str, slack_user_id: str) -> tuple[list[DraftSnapshot], ...]:
        """(drafts waiting for this person's approval, this person's own pending drafts)."""
        actor = self.actor(team_id, slack_user_id)
        if actor is None:
            return [], []
        with UnitOfWork(self.factory) as uow:
            waiting = [
                snapshot_of(uow, d, self.policy)
                for d in uow.drafts.pending(actor.org_id)
                if d.expires_at > self.clock()
                and self.policy.may_approve(d.kind, actor.user, owner_of(uow, d)).allowed
                and d.requested_by_id != actor.user.id
            ]
            own = [
                snapshot_of(uow, d, self.policy)
                for d in uow.drafts.requested_by(
                    actor.org_id, actor.user.id, [DraftStatus.PENDING, DraftStatus.FAILED]
                )
            ]
        return waiting, own

    def actor(self, team_id: str, slack_user_id: str) -> Actor | None:
        """The CRM user behind a Slack user, or None when we do not know them."""
        with UnitOfWork(self.factory) as uow:
            return _actor(uow, team_id, slack_user_id)

    def snapshot_for(self, team_id: str, slack_user_id: str, draft_id: int) -> DraftSnapshot | None:
        """The draft as its card shows it, for a CRM user of its org; None for anyone else."""
        with UnitOfWork(self.factory) as uow:
            actor = _actor(uow, team_id, slack_user_id)
            draft = uow.drafts.get(actor.org_id, draft_id) if actor else None
            return snapshot_of(uow, draft, self.policy) if draft else None

    # --- decisions ------------------------------------------------------------------------

    def approve(self, team_id: str, slack_user_id: str, draft_id: int, version: int) -> Outcome:
        """Approve exactly the version that was shown, then carry it out once."""
        return self._decide(team_id, slack_user_id, draft_id, version, self._approve)

    def retry(self, team_id: str, slack_user_id: str, draft_id: int, version: int) -> Outcome:
        """Run a failed execution again (an approver's call); the version stays the same."""
        return self._decide(team_id, slack_user_id, draft_id, version, self._retry)

    def reject(
        self, team_id: str, slack_user_id: str, draft_id: int, version: int, reason: str
    ) -> Outcome:
        """Turn the draft down, with an optional reason the rep will see."""

        def act(uow: UnitOfWork, actor: Actor, draft: Draft) -> Outcome:
            return self._reject(uow, actor, draft, version, reason.strip())

        return self._decide(team_id, slack_user_id, draft_id, version, act)

    def edit(
        self,
        team_id: str,
        slack_user_id: str,
        draft_id: int,
        version: int,
        *,
        subject: str | None,
        body: str | None,
    ) -> Outcome:
        """Save edited text as the next version; that version is what gets approved."""

        def act(uow: UnitOfWork, actor: Actor, draft: Draft) -> Outcome:
            verdict = self.policy.may_edit(actor.user, owner_of(uow, draft))
            if not verdict.allowed:
                return self._denied(uow, actor, draft, "draft.edit_denied", verdict)
            payload = with_text(draft.payload, subject=subject, body=body)
            if not self._bump(uow, draft, version, payload, "edit", actor.user.id):
                return self._lost(uow, draft)
            return Outcome(Result.DONE, f"Saved as version {version + 1}.")

        return self._decide(team_id, slack_user_id, draft_id, version, act)

    def may_regenerate(
        self, team_id: str, slack_user_id: str, draft_id: int, version: int
    ) -> Outcome:
        """Check a Regenerate click before spending a model call on it."""

        def act(uow: UnitOfWork, actor: Actor, draft: Draft) -> Outcome:
            verdict = self.policy.may_edit(actor.user, owner_of(uow, draft))
            if not verdict.allowed:
                return self._denied(uow, actor, draft, "draft.regenerate_denied", verdict)
            return Outcome(Result.DONE, "Regenerating…")

        return self._decide(team_id, slack_user_id, draft_id, version, act)

    def explain(self, team_id: str, slack_user_id: str, draft_id: int, version: int) -> Outcome:
        """Why a click on a decided, changed or expired draft cannot do anything now."""
        return self._decide(
            team_id, slack_user_id, draft_id, version, lambda uow, _a, d: self._lost(uow, d)
        )

    def expire_due(self) -> list[DraftSnapshot]:
        """Expire every pending draft past its time; their snapshots, for card updates."""
        with UnitOfWork(self.factory) as uow:
            expired = uow.drafts.expire_due(self.clock())
            drafts = [d for d in (uow.session.get(Draft, i) for i in expired) if d is not None]
            for draft in drafts:
                self._audit(uow, draft, None, "draft.expired", "expired")
            snapshots = [snapshot_of(uow, d, self.policy) for d in drafts]
            uow.commit()
        return snapshots

    # --- the steps behind the decisions ---------------------------------------------------

    def _decide(
        self,
        team_id: str,
        slack_user_id: str,
        draft_id: int,
        version: int,
        act: Callable[[UnitOfWork, Actor, Draft], Outcome],
    ) -> Outcome:
        with UnitOfWork(self.factory) as uow:
            org = uow.orgs.by_team(team_id)
            draft = uow.drafts.get(org.id, draft_id) if org else None
            if draft is None:
                return Outcome(Result.NOT_FOUND, "I can't find that draft any more.")
            actor = _actor(uow, team_id, slack_user_id)
            if actor is None:
                self._audit(uow, draft, None, "draft.denied", "denied", reason=slack_user_id)
                uow.commit()
                return Outcome(
                    Result.DENIED,
                    "I don't know you as a CRM user yet, so I can't take decisions from you. "
                    "Ask an admin to add you (with your Slack email) to the CRM users.",
                    snapshot_of(uow, draft, self.policy),
                )
            outcome = self._gate(uow, draft, version) or act(uow, actor, draft)
            if outcome.draft is None:  # the draft as this decision left it
                outcome = replace(outcome, draft=snapshot_of(uow, draft, self.policy))
            uow.commit()
        return self._after(outcome, actor, draft_id, version)

    def _gate(self, uow: UnitOfWork, draft: Draft, version: int) -> Outcome | None:
        """Refuse clicks on expired drafts and on versions that are no longer current."""
        now = self.clock()
        if draft.status == DraftStatus.PENDING and draft.expires_at <= now:
            won = uow.drafts.transition(
                draft.org_id,
                draft.id,
                from_status=[DraftStatus.PENDING],
                to_status=DraftStatus.EXPIRED,
            )
            if won:
                self._audit(uow, draft, None, "draft.expired", "expired")
            # Only the call that expired it reports a change (one thread notice, not two).
            return Outcome(
                Result.EXPIRED if won else Result.SETTLED,
                "This draft expired before anyone decided. Ask again for a fresh one.",
                snapshot_of(uow, draft, self.policy),
            )
        if draft.version != version and draft.status in (DraftStatus.PENDING, DraftStatus.FAILED):
            return Outcome(
                Result.STALE,
                f"This card showed version {version}, but the draft is now version "
                f"{draft.version}. I refreshed the card: please review it and decide again.",
                snapshot_of(uow, draft, self.policy),
            )
        return None

    def _approve(self, uow: UnitOfWork, actor: Actor, draft: Draft) -> Outcome:
        owner = owner_of(uow, draft)
        verdict = self.policy.may_approve(draft.kind, actor.user, owner)
        if not verdict.allowed:
            return self._denied(uow, actor, draft, "draft.approve_denied", verdict)
        first = uow.drafts.version(draft.id, 1)
        won = uow.drafts.transition(
            draft.org_id,
            draft.id,
            from_status=[DraftStatus.PENDING],
            to_status=DraftStatus.APPROVED,
            version=draft.version,
            unexpired_at=self.clock(),
            values={
                "decided_by_id": actor.user.id,
                "decided_at": self.clock(),
                "approved_diff": diff_text(first.payload, draft.payload) if first else None,
            },
        )
        if not won:
            return self._lost(uow, draft)
        self._audit(uow, draft, actor.user.id, "draft.approved", "approved")
        return Outcome(Result.DONE, "Approved.")

    def _retry(self, uow: UnitOfWork, actor: Actor, draft: Draft) -> Outcome:
        verdict = self.policy.may_approve(draft.kind, actor.user, owner_of(uow, draft))
        if not verdict.allowed:
            return self._denied(uow, actor, draft, "draft.retry_denied", verdict)
        won = uow.drafts.transition(
            draft.org_id,
            draft.id,
            from_status=[DraftStatus.FAILED],
            to_status=DraftStatus.APPROVED,
            version=draft.version,
            values={"decided_by_id": actor.user.id, "decided_at": self.clock()},
        )
        if not won:
            return self._lost(uow, draft)
        uow.drafts.rearm_execution(draft.id, draft.version)
        self._audit(uow, draft, actor.user.id, "draft.retried", "approved")
        return Outcome(Result.DONE, "Trying again.")

    def _reject(
        self, uow: UnitOfWork, actor: Actor, draft: Draft, version: int, reason: str
    ) -> Outcome:
        verdict = self.policy.may_reject(draft.kind, actor.user, owner_of(uow, draft))
        if not verdict.allowed:
            return self._denied(uow, actor, draft, "draft.reject_denied", verdict)
        won = uow.drafts.transition(
            draft.org_id,
            draft.id,
            from_status=[DraftStatus.PENDING, DraftStatus.FAILED],
            to_status=DraftStatus.REJECTED,
            version=version,
            values={
                "decided_by_id": actor.user.id,
                "decided_at": self.clock(),
                "reject_reason": reason[:500] or None,
            },
        )
        if not won:
            return self._lost(uow, draft)
        self._audit(uow, draft, actor.user.id, "draft.rejected", "rejected", reason=reason[:500])
        return Outcome(Result.DONE, "Rejected; I let the requester know in the thread.")

    def _bump(
        self,
        uow: UnitOfWork,
        draft: Draft,
        version: int,
        payload: dict[str, Any],
        source: str,
        by: int | None,
    ) -> bool:
        """Make `payload` the next version, only if `version` is still the pending current one."""
        digest = content_hash(draft.kind, payload)
        if not uow.drafts.transition(
            draft.org_id,
            draft.id,
            from_status=[DraftStatus.PENDING],
            to_status=DraftStatus.PENDING,
            version=version,
            unexpired_at=self.clock(),
            values={"version": version + 1, "payload": payload, "content_hash": digest},
        ):
            return False
        uow.drafts.add_version(draft, source=source, created_by_id=by)
        self._audit(uow, draft, by, _REVISION_ACTIONS[source], "pending")
        return True

    def _denied(
        self, uow: UnitOfWork, actor: Actor, draft: Draft, action: str, verdict: Verdict
    ) -> Outcome:
        self._audit(uow, draft, actor.user.id, action, "denied", reason=verdict.reason)
        return Outcome(
            Result.DENIED,
            f"You can't do that: {verdict.reason}.",
            snapshot_of(uow, draft, self.policy),
        )

    def _lost(self, uow: UnitOfWork, draft: Draft) -> Outcome:
        """Someone else's decision (or an edit) landed first: say what it was."""
        snapshot = snapshot_of(uow, draft, self.policy)
        return Outcome(Result.SETTLED, _settled_message(snapshot), snapshot)

    def _after(self, outcome: Outcome, actor: Actor, draft_id: int, version: int) -> Outcome:
        """An approval (or retry) that won goes on to execution."""
        snapshot = outcome.draft
        if outcome.result != Result.DONE or snapshot is None:
            return outcome
        if snapshot.status != DraftStatus.APPROVED:
            return outcome
        self.execute(actor.org_id, draft_id, version)
        return Outcome(outcome.result, outcome.message, self.snapshot(actor.org_id, draft_id))

    def execute(self, org_id: int, draft_id: int, version: int) -> None:
        """Carry out an approved version at most once (see agents/drafts/execution.py)."""
        DraftExecutor(self.factory, self.smtp, self.clock).execute(org_id, draft_id, version)

    def _audit(
        self,
        uow: UnitOfWork,
        draft: Draft,
        actor_id: int | None,
        action: str,
        result: str,
        *,
        reason: str | None = None,
    ) -> None:
        record_audit(uow, draft, actor_id, action, result, at=self.clock(), reason=reason)


_REVISION_ACTIONS = {"edit": "draft.edited", "regenerate": "draft.regenerated"}


def _actor(uow: UnitOfWork, team_id: str, slack_user_id: str) -> Actor | None:
    org = uow.orgs.by_team(team_id)
    user = uow.orgs.user_by_slack_id(org.id, slack_user_id) if org else None
    return Actor(org.id, user) if org and user else None


def _settled_message(draft: DraftSnapshot) -> str:
    who = draft.decided_by.name if draft.decided_by else "someone"
    return {
        DraftStatus.PENDING: "The draft changed while you were looking; the card is refreshed.",
        DraftStatus.APPROVED: f"Already approved by {who}; it is being carried out.",
        DraftStatus.EXECUTED: f"Already approved by {who} and done.",
        DraftStatus.FAILED: f"Approved by {who}, but it failed; an approver can retry.",
        DraftStatus.REJECTED: f"Already rejected by {who}.",
        DraftStatus.EXPIRED: "This draft has expired.",
    }[draft.status]
