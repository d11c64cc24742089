"""Read access to the CRM, always scoped to one org."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Activity,
    Contact,
    Customer,
    Deal,
    DealStatus,
    Invoice,
    Order,
    Task,
    TaskStatus,
)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class CrmRepository:
    """Queries a specialist's tools need. Every method takes the org id first."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def search_customers(self, org_id: int, query: str, *, limit: int = 10) -> list[Customer]:
        """Customers whose name, company, external id or a contact name matches `query`."""
        pattern = _like_pattern(query.strip())
        contact_match = select(Contact.customer_id).where(
            Contact.org_id == org_id, func.lower(Contact.name).like(pattern, escape="\\")
        )
        stmt = (
            select(Customer)
            .where(
                Customer.org_id == org_id,
                or_(
                    func.lower(Customer.name).like(pattern, escape="\\"),
                    func.lower(Customer.company).like(pattern, escape="\\"),
                    func.lower(Customer.external_id).like(pattern, escape="\\"),
                    Customer.id.in_(contact_match),
                ),
            )
            .order_by(Customer.name)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def customer_names(self, org_id: int) -> list[str]:
        """Every customer name of the org (the pre-router matches mentions against them)."""
        return list(self.session.scalars(select(Customer.name).where(Customer.org_id == org_id)))

    def all_customers(self, org_id: int) -> list[Customer]:
        """Every customer of the org, by name (small orgs and the offline planner)."""
        return list(
            self.session.scalars(
                select(Customer).where(Customer.org_id == org_id).order_by(Customer.name)
            )
        )

    def customers_owned_by(self, org_id: int, owner_id: int) -> list[Customer]:
        """The customers one rep owns, by name."""
        return list(
            self.session.scalars(
                select(Customer)
                .where(Customer.org_id == org_id, Customer.owner_id == owner_id)
                .order_by(Customer.name)
            )
        )

    def customer(self, org_id: int, customer_id: int) -> Customer | None:
        """One customer with contacts and owner, only if it belongs to the org."""
        return self.session.scalar(
            select(Customer)
            .options(selectinload(Customer.contacts), selectinload(Customer.owner))
            .where(Customer.org_id == org_id, Customer.id == customer_id)
        )

    def customers_by_id(self, org_id: int, ids: Collection[int]) -> list[Customer]:
        """The org's customers among `ids` (others' ids are ignored)."""
        if not ids:
            return []
        stmt = select(Customer).where(Customer.org_id == org_id, Customer.id.in_(list(ids)))
        return list(self.session.scalars(stmt))

    def open_deals(self, org_id: int, customer_id: int) -> list[Deal]:
        """The customer's open deals, biggest first (sorted here: SQLite keeps money as text)."""
        deals = self.session.scalars(
            select(Deal).where(
                Deal.org_id == org_id,
                Deal.customer_id == customer_id,
                Deal.status == DealStatus.OPEN,
            )
        )
        return sorted(deals, key=lambda deal: deal.amount, reverse=True)

    def recent_activities(self, org_id: int, customer_id: int, *, limit: int) -> list[Activity]:
        """The customer's latest activities, newest first."""
        return list(
            self.session.scalars(
                select(Activity)
                .where(Activity.org_id == org_id, Activity.customer_id == customer_id)
                .order_by(Activity.occurred_at.desc())
                .limit(limit)
            )
        )

    def overdue_invoices(self, org_id: int, customer_id: int, *, now: datetime) -> list[Invoice]:
        """Unpaid invoices past their due date, oldest first."""
        return list(
            self.session.scalars(
                select(Invoice)
                .where(
                    Invoice.org_id == org_id,
                    Invoice.customer_id == customer_id,
                    Invoice.paid_at.is_(None),
                    Invoice.due_at < now,
                )
                .order_by(Invoice.due_at)
            )
        )

    def last_order_at(self, org_id: int, customer_id: int) -> datetime | None:
        """When the customer last placed an order."""
        return self.session.scalar(
            select(func.max(Order.placed_at)).where(
                Order.org_id == org_id, Order.customer_id == customer_id
            )
        )

    def open_tasks(self, org_id: int, customer_id: int) -> list[Task]:
        """The customer's open tasks, soonest due first."""
        return list(
            self.session.scalars(
                select(Task)
                .where(
                    Task.org_id == org_id,
                    Task.customer_id == customer_id,
                    Task.status == TaskStatus.OPEN,
                )
                .order_by(Task.due_at)
            )
        )

    def activities_since(
        self, org_id: int, customer_id: int, since: datetime, *, limit: int = 50
    ) -> list[Activity]:
        """The customer's activities after `since`, newest first."""
        return list(
            self.session.scalars(
                select(Activity)
                .where(
                    Activity.org_id == org_id,
                    Activity.customer_id == customer_id,
                    Activity.occurred_at >= since,
                )
                .order_by(Activity.occurred_at.desc())
                .limit(limit)
            )
        )

    def recent_orders(self, org_id: int, customer_id: int, *, limit: int) -> list[Order]:
        """The customer's latest orders (drafts, which have no date yet, first)."""
        return list(
            self.session.scalars(
                select(Order)
                .where(Order.org_id == org_id, Order.customer_id == customer_id)
                .order_by(Order.placed_at.desc().nulls_first(), Order.id.desc())
                .limit(limit)
            )
        )

    def add(self, row: Activity | Task | Order) -> None:
        """Write a CRM record (only approved drafts do this)."""
        self.session.add(row)
        self.session.flush()
