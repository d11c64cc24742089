"""Numbers across one org's book of business: set-based aggregates, grouped in the database.

Each query is one aggregate SELECT scoped to one org, on PostgreSQL and SQLite alike: amounts
are cast before they are summed (SQLite keeps money as text); UTC month and quarter buckets are
spelled per dialect. Revenue is orders by `placed_at` ("booked", drafts and cancelled ones
excluded) or invoices by `paid_at` ("collected"). A deal closed at its `stage_changed_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.models import Customer, Deal, DealStage, DealStatus, Invoice, Order, Task, TaskStatus
from storage.models import User as AppUser
from storage.repositories.suggestion_sql import instant, money

PeriodUnit = Literal["month", "quarter"]
RevenueBasis = Literal["booked", "collected"]
NOT_REVENUE = ("draft", "cancelled", "canceled")  # order statuses, lower case


class month_key(FunctionElement[str]):  # lower-case like the SQL function it renders as
    """A UTC timestamp's calendar month as text: '2026-11'."""

    type = String()
    name = "month_key"
    inherit_cache = True


class quarter_key(FunctionElement[str]):
    """A UTC timestamp's calendar quarter as text: '2026-Q4'."""

    type = String()
    name = "quarter_key"
    inherit_cache = True


def _moment(element: FunctionElement[Any], compiler: SQLCompiler, kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return moment


@compiles(month_key, "postgresql")
def _month_key_postgresql(element: month_key, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({_moment(element, compiler, kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(quarter_key, "postgresql")
def _quarter_key_postgresql(element: quarter_key, compiler: SQLCompiler, **kw: Any) -> str:
    return f"""to_char(({_moment(element, compiler, kw)}) AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""


# SQLite stores these columns as UTC text, which strftime reads as it is.
@compiles(month_key, "sqlite")
def _month_key_sqlite(element: month_key, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {_moment(element, compiler, kw)})"


@compiles(quarter_key, "sqlite")
def _quarter_key_sqlite(element: quarter_key, compiler: SQLCompiler, **kw: Any) -> str:
    moment = _moment(element, compiler, kw)
    return (
        f"(strftime('%Y', {moment}) || '-Q' || "
        f"((CAST(strftime('%m', {moment}) AS INTEGER) + 2) / 3))"
    )


@dataclass(frozen=True)
class StageTotal:
    """Open deals in one stage."""

    stage: DealStage
    count: int
    value: Decimal


@dataclass(frozen=True)
class PeriodTotal:
    """Revenue in one calendar bucket ('2026-11' or '2026-Q4')."""

    period: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class WinLoss:
    """Deals closed in a window, for one owner (owner None: everyone, or deals with no owner)."""

    owner_id: int | None
    owner_name: str | None
    won: int
    lost: int
    won_value: Decimal
    lost_value: Decimal


@dataclass(frozen=True)
class CustomerRevenue:
    """One customer's booked revenue in a window."""

    customer_id: int
    name: str
    amount: Decimal
    orders: int


@dataclass(frozen=True)
class StaleDeal:
    """An open deal that has sat in its stage since `stage_changed_at`."""

    deal_id: int
    title: str
    stage: DealStage
    amount: Decimal
    stage_changed_at: datetime
    customer_name: str
    owner_name: str | None


def _amount(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def _total(column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(money(column)), 0)


class AnalyticsRepository:
    """Aggregate reads for the analytics specialist. Every method takes the org id first."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def pipeline_by_stage(self, org_id: int) -> list[StageTotal]:
        """Open deals per stage: how many and their summed amount (stages with none omitted)."""
        stmt = (
            select(Deal.stage, func.count(), _total(Deal.amount))
            .where(Deal.org_id == org_id, Deal.status == DealStatus.OPEN)
            .group_by(Deal.stage)
        )
        return [StageTotal(s, n, _amount(v)) for s, n, v in self.session.execute(stmt)]

    def revenue_by_period(
        self,
        org_id: int,
        *,
        unit: PeriodUnit,
        since: datetime | None,
        until: datetime,
        basis: RevenueBasis = "booked",
    ) -> list[PeriodTotal]:
        """Revenue per UTC month or quarter in [since, until), oldest first; empty buckets
        are not returned."""
        moment, amount, where = self._revenue(basis, org_id, since, until)
        bucket = (quarter_key(moment) if unit == "quarter" else month_key(moment)).label("period")
        stmt = (
            select(bucket, _total(amount), func.count())
            .where(*where)
            .group_by(bucket)
            .order_by(bucket)
        )
        return [PeriodTotal(p, _amount(a), n) for p, a, n in self.session.execute(stmt)]

    def revenue_total(
        self,
        org_id: int,
        *,
        since: datetime | None,
        until: datetime,
        basis: RevenueBasis = "booked",
    ) -> Decimal:
        """Revenue in [since, until) (since None: from the first record)."""
        _when, amount, where = self._revenue(basis, org_id, since, until)
        stmt = select(_total(amount)).where(*where)
        return _amount(self.session.scalar(stmt))

    def win_loss(
        self, org_id: int, *, since: datetime | None, until: datetime, by_owner: bool
    ) -> list[WinLoss]:
        """Deals won and lost in [since, until), in total (one row) or per owner."""
        won = Deal.status == DealStatus.WON
        lost = Deal.status == DealStatus.LOST
        measures = (
            func.count().filter(won),
            func.count().filter(lost),
            _total(case((won, Deal.amount))),
            _total(case((lost, Deal.amount))),
        )
        where = [Deal.org_id == org_id, Deal.status.in_((DealStatus.WON, DealStatus.LOST))]
        where += [Deal.stage_changed_at < instant(until)]
        if since is not None:
            where.append(Deal.stage_changed_at >= instant(since))
        if not by_owner:
            row = self.session.execute(select(*measures).where(*where)).one()
            return [WinLoss(None, None, row[0], row[1], _amount(row[2]), _amount(row[3]))]
        stmt = (
            select(Deal.owner_id, AppUser.name, *measures)
            .outerjoin(AppUser, AppUser.id == Deal.owner_id)
            .where(*where)
            .group_by(Deal.owner_id, AppUser.name)
            .order_by(AppUser.name)
        )
        return [
            WinLoss(o, name, w, lo, _amount(wv), _amount(lv))
            for o, name, w, lo, wv, lv in self.session.execute(stmt)
        ]

    def top_customers(
        self, org_id: int, *, since: datetime | None, until: datetime, limit: int
    ) -> list[CustomerRevenue]:
        """The customers with the most booked revenue in [since, until), biggest first."""
        revenue = _total(Order.total)
        stmt = (
            select(Customer.id, Customer.name, revenue, func.count())
            .join(Customer, Customer.id == Order.customer_id)
            .where(*self._revenue("booked", org_id, since, until)[2])
            .group_by(Customer.id, Customer.name)
            .order_by(revenue.desc(), Customer.name)
            .limit(limit)
        )
        return [CustomerRevenue(i, n, _amount(a), c) for i, n, a, c in self.session.execute(stmt)]

    def stale_deals(self, org_id: int, *, before: datetime, limit: int) -> list[StaleDeal]:
        """Open deals whose stage last changed before `before`, longest-stuck first."""
        stmt = (
            select(Deal, Customer.name, AppUser.name)
            .join(Customer, Customer.id == Deal.customer_id)
            .outerjoin(AppUser, AppUser.id == Deal.owner_id)
            .where(*self._stale(org_id, before))
            .order_by(Deal.stage_changed_at, Deal.id)
            .limit(limit)
        )
        return [
            StaleDeal(d.id, d.title, d.stage, d.amount, d.stage_changed_at, customer, owner)
            for d, customer, owner in self.session.execute(stmt)
        ]

    def stale_totals(self, org_id: int, *, before: datetime) -> tuple[int, Decimal]:
        """How many open deals are stuck since before `before`, and their summed amount."""
        return self._count_and_sum(Deal.amount, self._stale(org_id, before))

    def open_totals(self, org_id: int) -> tuple[int, Decimal]:
        """How many deals are open, and their summed amount."""
        return self._count_and_sum(
            Deal.amount, [Deal.org_id == org_id, Deal.status == DealStatus.OPEN]
        )

    def overdue_totals(self, org_id: int, *, now: datetime) -> tuple[int, Decimal, int]:
        """Unpaid invoices past due (count, summed amount) and open tasks past due (count)."""
        invoices = [
            Invoice.org_id == org_id,
            Invoice.paid_at.is_(None),
            Invoice.due_at < instant(now),
        ]
        count, amount = self._count_and_sum(Invoice.amount, invoices)
        tasks = select(func.count()).where(
            Task.org_id == org_id, Task.status == TaskStatus.OPEN, Task.due_at < instant(now)
        )
        return count, amount, int(self.session.scalar(tasks) or 0)

    def _count_and_sum(self, amount: Any, where: list[Any]) -> tuple[int, Decimal]:
        stmt = select(func.count(), _total(amount)).where(*where)
        count, value = self.session.execute(stmt).one()
        return int(count), _amount(value)

    @staticmethod
    def _revenue(
        basis: RevenueBasis, org_id: int, since: datetime | None, until: datetime
    ) -> tuple[Any, Any, list[Any]]:
        """The moment, the amount and the filter of the revenue rows in [since, until)."""
        if basis == "collected":
            moment, amount, where = Invoice.paid_at, Invoice.amount, [Invoice.org_id == org_id]
        else:
            moment, amount = Order.placed_at, Order.total
            where = [Order.org_id == org_id, func.lower(Order.status).not_in(NOT_REVENUE)]
        where += [moment.is_not(None), moment < instant(until)]
        if since is not None:
            where.append(moment >= instant(since))
        return moment, amount, where

    @staticmethod
    def _stale(org_id: int, before: datetime) -> list[Any]:
        return [
            Deal.org_id == org_id,
            Deal.status == DealStatus.OPEN,
            Deal.stage_changed_at < instant(before),
        ]
