"""The scan's two statements per rule: upsert what the rule finds, resolve what it no longer finds.

The upsert is one INSERT … SELECT … ON CONFLICT (org_id, fingerprint) DO UPDATE. On conflict
the existing row is
- open: refreshed (owner, score, title, reasoning, action; last_seen_at moves forward only);
- resolved, snoozed past `snoozed_until`, dismissed or accepted past its quiet period:
  reopened as a new occurrence (first_seen_at = now, decision and nudge cleared);
- otherwise (still quiet): left alone, because the DO UPDATE's WHERE is false.
Rows go in fingerprint order, so two scans racing on PostgreSQL take the row locks in the same
order: the second waits for the first to commit, then updates instead of inserting (no
duplicate, no unique violation, no deadlock).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Suggestion, SuggestionRule, SuggestionStatus
from storage.repositories.suggestion_rules import RULES, RuleContext
from storage.repositories.suggestion_sql import as_text, instant, joined

SUGGESTION = cast(Table, Suggestion.__table__)
COLUMNS = SUGGESTION.c
OPEN = SuggestionStatus.OPEN


def fingerprint(customer_id: int, rule: SuggestionRule, subject: str = "") -> str:
    """The identity of a suggestion within its org: customer, rule and subject."""
    return f"{customer_id}:{rule.value}:{subject}"


def upsert_rule(session: Session, rule: SuggestionRule, ctx: RuleContext) -> None:
    """Insert, refresh or reopen the suggestions `rule` finds now."""
    candidate = RULES[rule].candidates(ctx).subquery("candidate")
    key = joined(as_text(candidate.c.customer_id), f":{rule.value}:", candidate.c.subject)
    now = instant(ctx.now)
    values: dict[str, Any] = {
        "org_id": literal(ctx.org_id),
        "customer_id": candidate.c.customer_id,
        "owner_id": candidate.c.owner_id,
        "rule": literal(rule.value),
        "subject": candidate.c.subject,
        "fingerprint": key,
        "priority_score": candidate.c.priority_score,
        "title": candidate.c.title,
        "reasoning": candidate.c.reasoning,
        "proposed_action": literal(RULES[rule].action.value),
        "status": literal(OPEN.value),
        "first_seen_at": now,
        "last_seen_at": now,
        "created_at": now,
        "updated_at": now,
    }
    # The WHERE also keeps SQLite from reading ON CONFLICT as a join constraint.
    rows = select(*values.values()).where(candidate.c.customer_id.is_not(None)).order_by(key)
    stmt = _insert(session).from_select(list(values), rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "fingerprint"],
        set_=_refresh_or_reopen(stmt.excluded),
        where=_may_change(ctx),
    )
    session.execute(stmt)


def resolve_missing(session: Session, rule: SuggestionRule, ctx: RuleContext) -> None:
    """Resolve the open suggestions of `rule` that this scan's upsert did not confirm."""
    session.execute(
        update(SUGGESTION)
        .where(
            COLUMNS.org_id == ctx.org_id,
            COLUMNS.rule == rule,
            COLUMNS.status == OPEN,
            COLUMNS.last_seen_at < ctx.now,
        )
        .values(status=SuggestionStatus.RESOLVED, resolved_at=ctx.now, updated_at=ctx.now)
    )


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(SUGGESTION)


def _refresh_or_reopen(excluded: Any) -> dict[str, Any]:
    still_open = COLUMNS.status == OPEN
    return {
        "owner_id": excluded.owner_id,
        "priority_score": excluded.priority_score,
        "title": excluded.title,
        "reasoning": excluded.reasoning,
        "proposed_action": excluded.proposed_action,
        "status": excluded.status,
        "first_seen_at": case((still_open, COLUMNS.first_seen_at), else_=excluded.first_seen_at),
        # Never backwards: a scan with an older clock must not make a row look unconfirmed.
        "last_seen_at": case(
            (COLUMNS.last_seen_at > excluded.last_seen_at, COLUMNS.last_seen_at),
            else_=excluded.last_seen_at,
        ),
        "nudged_at": case((still_open, COLUMNS.nudged_at), else_=None),
        # An open row has none of these; a reopened one starts without them.
        "snoozed_until": None,
        "dismiss_reason": None,
        "decided_by_id": None,
        "decided_at": None,
        "resolved_at": None,
        "draft_id": None,
        "updated_at": excluded.updated_at,
    }


def _may_change(ctx: RuleContext) -> ColumnElement[bool]:
    """Open or resolved rows, and decided ones whose quiet time is over."""
    t = ctx.thresholds
    return or_(
        COLUMNS.status.in_([OPEN, SuggestionStatus.RESOLVED]),
        and_(COLUMNS.status == SuggestionStatus.SNOOZED, COLUMNS.snoozed_until <= ctx.now),
        and_(
            COLUMNS.status == SuggestionStatus.DISMISSED,
            COLUMNS.decided_at <= ctx.now - timedelta(days=t.dismiss_quiet_days),
        ),
        and_(
            COLUMNS.status == SuggestionStatus.ACCEPTED,
            COLUMNS.decided_at <= ctx.now - timedelta(days=t.accept_quiet_days),
        ),
    )
