"""Suggestions: the scan that keeps them current, what reps and managers read, their decisions.

Never commits (the unit of work does). Every method takes the org id first. Decisions are
compare-and-set like drafts: one UPDATE … WHERE status IN (open, snoozed) RETURNING, so of two
clicks on the same card exactly one wins. Single-row updates go through the ORM, which applies
them to loaded objects too; the scan's statements are Core over the whole table, so it expires
what the session holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from storage.models import Org, Suggestion, SuggestionDecision, SuggestionRule, SuggestionStatus
from storage.repositories.suggestion_rules import DEFAULT_THRESHOLDS, RuleContext, Thresholds
from storage.repositories.suggestion_scan import resolve_missing, upsert_rule

OPEN = SuggestionStatus.OPEN
DECIDABLE = (SuggestionStatus.OPEN, SuggestionStatus.SNOOZED)


@dataclass(frozen=True)
class RuleScan:
    """One rule after a scan: open now, opened at this scan's instant, resolved at it."""

    open: int = 0
    opened: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class ScanResult:
    """What one scan of an org left behind, per rule."""

    rules: dict[SuggestionRule, RuleScan]

    @property
    def open(self) -> int:
        """Open suggestions of the org after the scan."""
        return sum(r.open for r in self.rules.values())


@dataclass(frozen=True)
class OpenSummary:
    """Open suggestions of an org or a team, for /ai-suggest and App Home."""

    total: int = 0
    by_rule: dict[SuggestionRule, int] = field(default_factory=dict)
    by_owner: dict[int | None, int] = field(default_factory=dict)  # None: nobody owns them
    by_owner_rule: dict[tuple[int | None, SuggestionRule], int] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleAcceptance:
    """People's decisions on one rule's suggestions over a period."""

    accepted: int = 0
    dismissed: int = 0
    snoozed: int = 0

    @property
    def rate(self) -> float | None:
        """Accepted out of accepted + dismissed (a snooze is no verdict); None if neither."""
        decided = self.accepted + self.dismissed
        return self.accepted / decided if decided else None


class SuggestionRepository:
    """Read and write suggestions of one org at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- the scan ------------------------------------------------------------------------

    def scan(
        self,
        org_id: int,
        *,
        now: datetime,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        rules: Iterable[SuggestionRule] = tuple(SuggestionRule),
    ) -> ScanResult:
        """Run `rules` over the org's CRM as of `now`: two statements per rule, no loop over
        customers. Idempotent: scanning again refreshes, never duplicates. The result counts
        every rule (zeros included), scanned or not."""
        currency = self.session.scalar(select(Org.currency).where(Org.id == org_id)) or "USD"
        ctx = RuleContext(org_id=org_id, now=now, thresholds=thresholds, currency=currency)
        for rule in rules:
            upsert_rule(self.session, rule, ctx)
            resolve_missing(self.session, rule, ctx)
        self.session.expire_all()  # ORM copies of rows the statements changed are stale
        counts = self._scan_counts(org_id, now)
        return ScanResult({rule: counts.get(rule, RuleScan()) for rule in SuggestionRule})

    def _scan_counts(self, org_id: int, now: datetime) -> dict[SuggestionRule, RuleScan]:
        s = Suggestion
        is_open = s.status == OPEN
        rows = self.session.execute(
            select(
                s.rule,
                func.sum(_flag(is_open)),
                func.sum(_flag(is_open & (s.first_seen_at == now))),
                func.sum(_flag((s.status == SuggestionStatus.RESOLVED) & (s.resolved_at == now))),
            )
            .where(s.org_id == org_id)
            .group_by(s.rule)
        )
        return {rule: RuleScan(int(o or 0), int(n or 0), int(r or 0)) for rule, o, n, r in rows}

    def resolve_silent_account(
        self,
        org_id: int,
        customer_id: int,
        *,
        activity_at: datetime,
        now: datetime,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> int:
        """New activity on a customer ends its silence now, not at the next scan; called from
        the CRM write path. An activity backdated past the silence threshold changes nothing.
        Returns how many suggestions it resolved (0 or 1)."""
        if activity_at <= now - timedelta(days=thresholds.silent_days):
            return 0
        result = self.session.execute(
            update(Suggestion)
            .where(
                Suggestion.org_id == org_id,
                Suggestion.customer_id == customer_id,
                Suggestion.rule == SuggestionRule.SILENT_ACCOUNT,
                Suggestion.status == OPEN,
            )
            .values(status=SuggestionStatus.RESOLVED, resolved_at=now, updated_at=now)
            .returning(Suggestion.id)
        )
        resolved = len(result.all())
        return resolved

    # --- reading -------------------------------------------------------------------------

    def get(self, org_id: int, suggestion_id: int) -> Suggestion | None:
        """One suggestion of the org."""
        return self.session.scalar(
            select(Suggestion).where(Suggestion.org_id == org_id, Suggestion.id == suggestion_id)
        )

    def top_open(
        self,
        org_id: int,
        *,
        owner_ids: Collection[int] | None = None,
        not_nudged_since: datetime | None = None,
        limit: int = 5,
    ) -> list[Suggestion]:
        """Open suggestions, highest score first (oldest first among equals): of the whole org,
        or of `owner_ids` (a rep, or a manager's team); with `not_nudged_since`, only those not
        nudged since then (the nudge job passes the start of its window)."""
        stmt = select(Suggestion).where(Suggestion.org_id == org_id, Suggestion.status == OPEN)
        if owner_ids is not None:
            stmt = stmt.where(Suggestion.owner_id.in_(list(owner_ids)))
        if not_nudged_since is not None:
            stmt = stmt.where(
                (Suggestion.nudged_at.is_(None)) | (Suggestion.nudged_at < not_nudged_since)
            )
        order = (Suggestion.priority_score.desc(), Suggestion.first_seen_at, Suggestion.id)
        return list(self.session.scalars(stmt.order_by(*order).limit(limit)))

    def top_for_rep(
        self, org_id: int, owner_id: int, *, not_nudged_since: datetime, limit: int = 5
    ) -> list[Suggestion]:
        """A rep's top `limit` open suggestions not yet nudged in the current window."""
        return self.top_open(
            org_id, owner_ids=[owner_id], not_nudged_since=not_nudged_since, limit=limit
        )

    def owners_to_nudge(self, org_id: int, *, not_nudged_since: datetime) -> list[int]:
        """Reps who own open suggestions not nudged since `not_nudged_since`."""
        stmt = (
            select(Suggestion.owner_id)
            .where(
                Suggestion.org_id == org_id,
                Suggestion.status == OPEN,
                Suggestion.owner_id.is_not(None),
                (Suggestion.nudged_at.is_(None)) | (Suggestion.nudged_at < not_nudged_since),
            )
            .distinct()
            .order_by(Suggestion.owner_id)
        )
        return [owner for owner in self.session.scalars(stmt) if owner is not None]

    def open_for_customer(self, org_id: int, customer_id: int) -> list[Suggestion]:
        """A customer's open suggestions, highest score first."""
        stmt = (
            select(Suggestion)
            .where(
                Suggestion.org_id == org_id,
                Suggestion.customer_id == customer_id,
                Suggestion.status == OPEN,
            )
            .order_by(Suggestion.priority_score.desc(), Suggestion.id)
        )
        return list(self.session.scalars(stmt))

    def open_summary(self, org_id: int, *, owner_ids: Collection[int] | None = None) -> OpenSummary:
        """Counts of open suggestions per rule and per rep, for the org or for `owner_ids`."""
        stmt = select(Suggestion.owner_id, Suggestion.rule, func.count()).where(
            Suggestion.org_id == org_id, Suggestion.status == OPEN
        )
        if owner_ids is not None:
            stmt = stmt.where(Suggestion.owner_id.in_(list(owner_ids)))
        rows = self.session.execute(stmt.group_by(Suggestion.owner_id, Suggestion.rule)).all()
        by_owner_rule = {(owner, rule): count for owner, rule, count in rows}
        return OpenSummary(
            total=sum(by_owner_rule.values()),
            by_rule=_totals(by_owner_rule, lambda key: key[1]),
            by_owner=_totals(by_owner_rule, lambda key: key[0]),
            by_owner_rule=by_owner_rule,
        )

    def acceptance_by_rule(
        self, org_id: int, *, since: datetime, until: datetime
    ) -> dict[SuggestionRule, RuleAcceptance]:
        """Accepts, dismissals and snoozes per rule decided in [since, until)."""
        d = SuggestionDecision
        rows = self.session.execute(
            select(d.rule, d.decision, func.count())
            .where(d.org_id == org_id, d.decided_at >= since, d.decided_at < until)
            .group_by(d.rule, d.decision)
        ).all()
        counts: dict[SuggestionRule, dict[str, int]] = {}
        for rule, decision, count in rows:
            counts.setdefault(rule, {})[decision.value] = count
        return {rule: RuleAcceptance(**by_decision) for rule, by_decision in counts.items()}

    # --- decisions -----------------------------------------------------------------------

    def accept(self, org_id: int, suggestion_id: int, *, by_user_id: int, at: datetime) -> bool:
        """Accept an open (or snoozed) suggestion; False when it is no longer decidable."""
        return self._decide(org_id, suggestion_id, SuggestionStatus.ACCEPTED, by_user_id, at)

    def dismiss(
        self,
        org_id: int,
        suggestion_id: int,
        *,
        by_user_id: int,
        at: datetime,
        reason: str | None = None,
    ) -> bool:
        """Dismiss it, with an optional reason; it stays quiet for the dismiss quiet period."""
        return self._decide(
            org_id, suggestion_id, SuggestionStatus.DISMISSED, by_user_id, at, reason=reason
        )

    def snooze(
        self, org_id: int, suggestion_id: int, *, by_user_id: int, at: datetime, until: datetime
    ) -> bool:
        """Snooze it until `until` (after `at`); a scan after that may reopen it."""
        if until <= at:
            raise ValueError("a snooze must end after it starts")
        return self._decide(
            org_id, suggestion_id, SuggestionStatus.SNOOZED, by_user_id, at, until=until
        )

    def attach_draft(self, org_id: int, suggestion_id: int, draft_id: int) -> bool:
        """Link an accepted suggestion to the draft its Accept produced."""
        result = self.session.execute(
            update(Suggestion)
            .where(
                Suggestion.org_id == org_id,
                Suggestion.id == suggestion_id,
                Suggestion.status == SuggestionStatus.ACCEPTED,
            )
            .values(draft_id=draft_id)
            .returning(Suggestion.id)
        )
        linked = result.first() is not None
        return linked

    def mark_nudged(self, org_id: int, suggestion_ids: Collection[int], *, at: datetime) -> int:
        """Record that these suggestions were just sent to their rep; how many were marked."""
        result = self.session.execute(
            update(Suggestion)
            .where(Suggestion.org_id == org_id, Suggestion.id.in_(list(suggestion_ids)))
            .values(nudged_at=at)
            .returning(Suggestion.id)
        )
        marked = len(result.all())
        return marked

    def nudged_together(self, org_id: int, owner_id: int, at: datetime) -> list[Suggestion]:
        """The suggestions sent to a rep in one nudge (marked at the same instant), in the
        order the message showed them."""
        stmt = select(Suggestion).where(
            Suggestion.org_id == org_id, Suggestion.owner_id == owner_id, Suggestion.nudged_at == at
        )
        order = (Suggestion.priority_score.desc(), Suggestion.first_seen_at, Suggestion.id)
        return list(self.session.scalars(stmt.order_by(*order)))

    def clear_nudged(self, org_id: int, suggestion_ids: Collection[int]) -> None:
        """Forget that these were sent (their message failed to post): the next scan retries."""
        self.session.execute(
            update(Suggestion)
            .where(Suggestion.org_id == org_id, Suggestion.id.in_(list(suggestion_ids)))
            .values(nudged_at=None)
            .execution_options(synchronize_session=False)
        )

    def _decide(
        self,
        org_id: int,
        suggestion_id: int,
        decision: SuggestionStatus,
        by_user_id: int,
        at: datetime,
        *,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> bool:
        row = self.session.execute(
            update(Suggestion)
            .where(
                Suggestion.org_id == org_id,
                Suggestion.id == suggestion_id,
                Suggestion.status.in_(DECIDABLE),
            )
            .values(
                status=decision,
                decided_by_id=by_user_id,
                decided_at=at,
                dismiss_reason=reason,
                snoozed_until=until,
                updated_at=at,
            )
            .returning(Suggestion.rule)
        ).first()
        if row is None:
            return False
        self.session.add(
            SuggestionDecision(
                org_id=org_id,
                suggestion_id=suggestion_id,
                rule=row[0],
                decision=decision,
                decided_by_id=by_user_id,
                decided_at=at,
                reason=reason,
                snoozed_until=until,
            )
        )
        self.session.flush()
        return True


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _totals(counts: dict[Any, int], key: Any) -> dict[Any, int]:
    totals: dict[Any, int] = {}
    for k, count in counts.items():
        totals[key(k)] = totals.get(key(k), 0) + count
    return totals
