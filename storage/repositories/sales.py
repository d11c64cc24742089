"""Read access to what was sold: orders, invoices and the product catalog. Every method is
scoped to one org; nothing here commits.

Money sums are done in Python over exact Decimals: SQLite stores Money as text, and its SUM()
would turn the amounts into floats."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.models import Customer, Invoice, Order, Product


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class SalesRepository:
    """Orders, invoices and products of one org at a time (the org id comes first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- orders -----------------------------------------------------------------------------

    def orders(
        self, org_id: int, customer_id: int, *, status: str | None = None, limit: int = 10
    ) -> list[Order]:
        """The customer's orders, newest first (drafts, which have no date yet, first)."""
        stmt = select(Order).where(Order.org_id == org_id, Order.customer_id == customer_id)
        if status is not None:
            stmt = stmt.where(func.lower(Order.status) == status.lower())
        stmt = stmt.order_by(Order.placed_at.desc().nulls_first(), Order.id.desc()).limit(limit)
        return list(self.session.scalars(stmt))

    def order_totals(self, org_id: int, customer_id: int) -> tuple[int, Decimal]:
        """How many orders the customer has placed or drafted, and their exact total value."""
        totals = self.session.scalars(
            select(Order.total).where(Order.org_id == org_id, Order.customer_id == customer_id)
        ).all()
        return len(totals), sum(totals, Decimal(0))

    def order_by_number(self, org_id: int, number: str) -> Order | None:
        """One order by its number (e.g. SO-24017) or external id, case-insensitively."""
        key = number.strip().lower()
        return self.session.scalars(
            select(Order)
            .where(
                Order.org_id == org_id,
                or_(func.lower(Order.number) == key, func.lower(Order.external_id) == key),
            )
            .limit(1)
        ).first()

    def order_numbers(self, org_id: int, order_ids: Collection[int]) -> dict[int, str]:
        """Order id → order number for the org's orders among `order_ids`."""
        if not order_ids:
            return {}
        stmt = select(Order.id, Order.number).where(
            Order.org_id == org_id, Order.id.in_(list(order_ids))
        )
        return {row.id: row.number for row in self.session.execute(stmt)}

    # --- invoices ---------------------------------------------------------------------------

    def invoices(self, org_id: int, customer_id: int) -> list[Invoice]:
        """All of the customer's invoices, latest due date first."""
        return list(
            self.session.scalars(
                select(Invoice)
                .where(Invoice.org_id == org_id, Invoice.customer_id == customer_id)
                .order_by(Invoice.due_at.desc(), Invoice.id.desc())
            )
        )

    def invoices_for_orders(self, org_id: int, order_ids: Collection[int]) -> list[Invoice]:
        """The invoices raised against any of `order_ids` (others' orders are ignored)."""
        if not order_ids:
            return []
        return list(
            self.session.scalars(
                select(Invoice)
                .where(Invoice.org_id == org_id, Invoice.order_id.in_(list(order_ids)))
                .order_by(Invoice.due_at)
            )
        )

    def overdue_invoices(
        self, org_id: int, *, now: datetime, limit: int
    ) -> list[tuple[Invoice, str]]:
        """Unpaid invoices past due across every customer, oldest due first, with the
        customer's name."""
        rows = self.session.execute(
            select(Invoice, Customer.name)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.org_id == org_id, Invoice.paid_at.is_(None), Invoice.due_at < now)
            .order_by(Invoice.due_at, Invoice.id)
            .limit(limit)
        )
        return [(invoice, name) for invoice, name in rows]

    def overdue_totals(self, org_id: int, *, now: datetime) -> tuple[int, Decimal, int]:
        """Across the org: how many invoices are overdue, what they add up to, and how many
        customers owe them."""
        rows = self.session.execute(
            select(Invoice.amount, Invoice.customer_id).where(
                Invoice.org_id == org_id, Invoice.paid_at.is_(None), Invoice.due_at < now
            )
        ).all()
        total = sum((amount for amount, _ in rows), Decimal(0))
        return len(rows), total, len({customer_id for _, customer_id in rows})

    # --- products ---------------------------------------------------------------------------

    def search_products(
        self, org_id: int, words: Collection[str], *, category: str | None = None, limit: int
    ) -> list[Product]:
        """Products whose SKU, name or category contains any of `words` (all products when
        there are none), optionally in one category; by category, then name."""
        stmt = select(Product).where(Product.org_id == org_id)
        if words:
            stmt = stmt.where(
                or_(
                    *(
                        func.lower(column).like(_like(word), escape="\\")
                        for word in words
                        for column in (Product.sku, Product.name, Product.category)
                    )
                )
            )
        if category:
            stmt = stmt.where(func.lower(Product.category) == category.strip().lower())
        stmt = stmt.order_by(Product.category, Product.name).limit(limit)
        return list(self.session.scalars(stmt))

    def products_by_sku(self, org_id: int, skus: Collection[str]) -> dict[str, Product]:
        """The org's products among `skus`, keyed by SKU (unknown SKUs are simply absent)."""
        if not skus:
            return {}
        stmt = select(Product).where(Product.org_id == org_id, Product.sku.in_(sorted(set(skus))))
        return {product.sku: product for product in self.session.scalars(stmt)}

    def categories(self, org_id: int) -> list[str]:
        """The catalog's categories, alphabetically."""
        stmt = (
            select(Product.category)
            .where(Product.org_id == org_id, Product.category.is_not(None))
            .distinct()
            .order_by(Product.category)
        )
        return [category for category in self.session.scalars(stmt) if category]
