"""Budgets admins set, the fallback's reservations, and once-only claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import (
    Budget,
    BudgetMetric,
    BudgetPeriod,
    BudgetReservation,
    BudgetScope,
    OnceClaim,
    Org,
)
from storage.repositories.upsert import insert_ignoring_conflict


class BudgetRepository:
    """Admin-set budgets (overriding the defaults) and in-flight reservations."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def for_org(self, org_id: int) -> Sequence[Budget]:
        """Every budget row of the org."""
        stmt = select(Budget).where(Budget.org_id == org_id).order_by(Budget.id)
        return self.session.scalars(stmt).all()

    def put(
        self,
        org_id: int,
        *,
        scope: BudgetScope,
        target: str,
        period: BudgetPeriod,
        metric: BudgetMetric,
        limit_value: int,
        soft_pct: int,
        updated_by_id: int | None,
    ) -> Budget:
        """Create or replace the budget for (scope, target, period, metric)."""
        row = self.session.scalars(
            select(Budget).where(
                Budget.org_id == org_id,
                Budget.scope == scope,
                Budget.target == target,
                Budget.period == period,
                Budget.metric == metric,
            )
        ).one_or_none()
        if row is None:
            row = Budget(org_id=org_id, scope=scope, target=target, period=period, metric=metric)
            self.session.add(row)
        row.limit_value = limit_value
        row.soft_pct = soft_pct
        row.updated_by_id = updated_by_id
        self.session.flush()
        return row

    def lock_org(self, org_id: int) -> None:
        """Serialise the fallback's reservations for one org (a row lock on PostgreSQL;
        SQLite serialises writers anyway)."""
        self.session.execute(select(Org.id).where(Org.id == org_id).with_for_update())

    def reserved(
        self,
        org_id: int,
        now: datetime,
        *,
        user_id: int | None = None,
        customer_id: int | None = None,
        request_type: str | None = None,
    ) -> tuple[int, int]:
        """(µUSD, count) of the live reservations in a scope."""
        stmt = select(
            func.coalesce(func.sum(BudgetReservation.cost_micro_usd), 0), func.count()
        ).where(BudgetReservation.org_id == org_id, BudgetReservation.expires_at > now)
        if user_id is not None:
            stmt = stmt.where(BudgetReservation.user_id == user_id)
        if customer_id is not None:
            stmt = stmt.where(BudgetReservation.customer_id == customer_id)
        if request_type is not None:
            stmt = stmt.where(BudgetReservation.request_type == request_type)
        cost, count = self.session.execute(stmt).one()
        return int(cost), int(count)

    def hold(self, reservation: BudgetReservation) -> None:
        """Record a reservation."""
        self.session.add(reservation)
        self.session.flush()

    def drop(self, reservation_id: str) -> None:
        """Remove a reservation (settled or released)."""
        self.session.execute(
            delete(BudgetReservation).where(BudgetReservation.id == reservation_id)
        )

    def purge_expired(self, now: datetime) -> int:
        """Delete reservations of crashed processes."""
        result = self.session.execute(
            delete(BudgetReservation).where(BudgetReservation.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class ClaimRepository:
    """Once-only work: the first insert of (org, kind, key) wins."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, org_id: int, kind: str, key: str, *, by: str) -> bool:
        """True when this caller is the first to claim (org, kind, key)."""
        return insert_ignoring_conflict(
            self.session,
            OnceClaim,
            {"org_id": org_id, "kind": kind, "key": key, "claimed_by": by},
            conflict_columns=["org_id", "kind", "key"],
        )

    def finish(self, org_id: int, kind: str, key: str, *, result: str, at: datetime) -> None:
        """Note the outcome of claimed work."""
        row = self.session.scalars(
            select(OnceClaim).where(
                OnceClaim.org_id == org_id, OnceClaim.kind == kind, OnceClaim.key == key
            )
        ).one_or_none()
        if row is not None:
            row.done_at = at
            row.result = result[:200]

    def release(self, org_id: int, kind: str, key: str) -> None:
        """Undo a claim whose work failed, so that a later attempt may claim it again."""
        self.session.execute(
            delete(OnceClaim).where(
                OnceClaim.org_id == org_id, OnceClaim.kind == kind, OnceClaim.key == key
            )
        )

    def get(self, org_id: int, kind: str, key: str) -> OnceClaim | None:
        """The claim, if someone made it."""
        return self.session.scalars(
            select(OnceClaim).where(
                OnceClaim.org_id == org_id, OnceClaim.kind == kind, OnceClaim.key == key
            )
        ).one_or_none()
