"""Orders tools: a customer's orders and invoices, one order by number, and every overdue
invoice of the book. Order drafts go through the gated create_order_draft."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.specs import money
from agents.tools.base import ToolContext, ToolInputError, ToolSpec, tool
from storage.models import Customer, Invoice, Order
from storage.repositories.sales import SalesRepository
from storage.uow import UnitOfWork

InvoiceState = Literal["paid", "overdue", "due"]
# Order statuses after which nothing more happens to the order (anything else is in flight).
SETTLED_STATUSES = frozenset({"delivered", "completed", "closed", "cancelled", "canceled"})
CENT = Decimal("0.01")
CUSTOMER_ID = Field(description="The customer's id (from search_customers).")


class ListOrdersArgs(BaseModel):
    """List one customer's orders."""

    customer_id: int = CUSTOMER_ID
    status: str | None = Field(
        default=None, max_length=30, description="Only orders in this status, e.g. shipped."
    )
    limit: int = Field(default=10, ge=1, le=50, description="Most recent orders to return.")


class GetOrderArgs(BaseModel):
    """Look at one order."""

    number: str = Field(min_length=1, max_length=100, description="Order number, e.g. SO-24017.")


class ListInvoicesArgs(BaseModel):
    """List one customer's invoices."""

    customer_id: int = CUSTOMER_ID
    state: Literal["all", "open", "overdue", "paid"] = Field(
        default="all", description="open = not paid yet (due or overdue)."
    )


class OverdueInvoicesArgs(BaseModel):
    """List overdue invoices across all customers."""

    limit: int = Field(default=20, ge=1, le=100, description="Oldest overdue invoices to return.")


@tool(ListOrdersArgs)
def list_orders(ctx: ToolContext, args: ListOrdersArgs) -> dict[str, Any]:
    """A customer's orders, newest first: number, status, total, date and the state of its
    invoice, plus _meta hints (order count and lifetime value, last order date and days since,
    orders still in flight, draft orders)."""
    with UnitOfWork(ctx.factory) as uow:
        customer = require_customer(uow, ctx, args.customer_id)
        sales = SalesRepository(uow.session)
        orders = sales.orders(ctx.org_id, customer.id, status=args.status, limit=args.limit)
        count, value = sales.order_totals(ctx.org_id, customer.id)
        last_order_at = uow.crm.last_order_at(ctx.org_id, customer.id)
        invoices = sales.invoices_for_orders(ctx.org_id, [o.id for o in orders])
    by_order = {i.order_id: i for i in invoices}
    ctx.state.customer_id = customer.id
    in_flight = [o for o in orders if _in_flight(o)]
    return {
        "customer": {"id": customer.id, "name": customer.name},
        "orders": [order_view(o, by_order.get(o.id), ctx.now) for o in orders],
        "_meta": {
            "order_count": count,
            "lifetime_value": exact(value),
            "last_order_date": last_order_at.date().isoformat() if last_order_at else None,
            "days_since_last_order": _days(last_order_at, ctx.now),
            "in_flight": [o.number for o in in_flight],
            "drafts": sum(o.status == "draft" for o in orders),
            "filtered_by_status": args.status,
        },
        "_display": {
            "title": f"Orders — {customer.name}",
            "subtitle": f"{count} order(s), {money(value)} in total",
            "badge": f"{len(in_flight)} in flight" if in_flight else "all settled",
        },
    }


@tool(GetOrderArgs)
def get_order(ctx: ToolContext, args: GetOrderArgs) -> dict[str, Any]:
    """One order by its number (e.g. SO-24017): customer, status, total, date and its invoices,
    plus _meta hints (invoiced, paid and outstanding amounts, the part not invoiced yet)."""
    with UnitOfWork(ctx.factory) as uow:
        sales = SalesRepository(uow.session)
        order = sales.order_by_number(ctx.org_id, args.number)
        if order is None:
            raise ToolInputError(
                f"no order numbered {args.number!r}; use list_orders to see a customer's orders"
            )
        customer = require_customer(uow, ctx, order.customer_id)
        invoices = sales.invoices_for_orders(ctx.org_id, [order.id])
    ctx.state.customer_id = customer.id
    invoiced = sum((i.amount for i in invoices), Decimal(0))
    outstanding = sum((i.amount for i in invoices if i.paid_at is None), Decimal(0))
    return {
        "customer": {"id": customer.id, "name": customer.name},
        "order": order_view(order, None, ctx.now),
        "invoices": [invoice_view(i, order.number, ctx.now) for i in invoices],
        "_meta": {
            "invoiced": exact(invoiced),
            "paid": exact(invoiced - outstanding),
            "outstanding": exact(outstanding),
            "not_invoiced": exact(max(Decimal(0), order.total - invoiced)),
            "overdue": any(invoice_state(i, ctx.now) == "overdue" for i in invoices),
        },
        "_display": {"title": order.number, "subtitle": customer.name, "badge": order.status},
    }


@tool(ListInvoicesArgs)
def list_invoices(ctx: ToolContext, args: ListInvoicesArgs) -> dict[str, Any]:
    """A customer's invoices (all, open, overdue or paid), latest due first: amount, due date,
    state (paid, due or overdue), days overdue or until due, paid late or on time, plus _meta
    hints (amount owed, overdue count and amount, oldest days overdue, next due date)."""
    with UnitOfWork(ctx.factory) as uow:
        customer = require_customer(uow, ctx, args.customer_id)
        sales = SalesRepository(uow.session)
        every = sales.invoices(ctx.org_id, customer.id)
        numbers = sales.order_numbers(ctx.org_id, {i.order_id for i in every if i.order_id})
    ctx.state.customer_id = customer.id
    shown = [i for i in every if _matches(invoice_state(i, ctx.now), args.state)]
    meta = invoices_meta(every, ctx.now)
    return {
        "customer": {"id": customer.id, "name": customer.name},
        "state_filter": args.state,
        "invoices": [invoice_view(i, numbers.get(i.order_id or 0), ctx.now) for i in shown],
        "_meta": meta,
        "_display": {
            "title": f"Invoices — {customer.name}",
            "subtitle": f"{money(Decimal(meta['owed']['amount']))} owed",
            "badge": "overdue" if meta["overdue"]["count"] else "no overdue",
        },
    }


@tool(OverdueInvoicesArgs)
def list_overdue_invoices(ctx: ToolContext, args: OverdueInvoicesArgs) -> dict[str, Any]:
    """Every overdue invoice of the book (all customers), oldest due first, with the customer,
    amount and days overdue, plus _meta hints (how many, the total, customers concerned)."""
    with UnitOfWork(ctx.factory) as uow:
        sales = SalesRepository(uow.session)
        rows = sales.overdue_invoices(ctx.org_id, now=ctx.now, limit=args.limit)
        count, total, customers = sales.overdue_totals(ctx.org_id, now=ctx.now)
        numbers = sales.order_numbers(ctx.org_id, {i.order_id for i, _ in rows if i.order_id})
    return {
        "invoices": [
            {"customer": {"id": i.customer_id, "name": name}}
            | invoice_view(i, numbers.get(i.order_id or 0), ctx.now)
            for i, name in rows
        ],
        "_meta": {
            "count": count,
            "amount": exact(total),
            "customers": customers,
            "shown": len(rows),
            "oldest_days_overdue": _days(rows[0][0].due_at, ctx.now) if rows else None,
        },
        "_display": {
            "title": "Overdue invoices",
            "subtitle": f"{count} invoice(s), {money(total)}",
            "badge": f"{customers} customer(s)",
        },
    }


def invoice_state(invoice: Invoice, now: datetime) -> InvoiceState:
    """paid, overdue (unpaid past its due date) or due (unpaid, not due yet)."""
    if invoice.paid_at is not None:
        return "paid"
    return "overdue" if invoice.due_at < now else "due"


def invoices_meta(invoices: list[Invoice], now: datetime) -> dict[str, Any]:
    """Reasoning hints over all of a customer's invoices, whatever the filter shows."""
    unpaid = [i for i in invoices if i.paid_at is None]
    overdue = [i for i in unpaid if i.due_at < now]
    upcoming = sorted(i.due_at for i in unpaid if i.due_at >= now)
    paid_late = [i for i in invoices if i.paid_at is not None and i.paid_at > i.due_at]
    return {
        "owed": {
            "count": len(unpaid),
            "amount": exact(sum((i.amount for i in unpaid), Decimal(0))),
        },
        "overdue": {
            "count": len(overdue),
            "amount": exact(sum((i.amount for i in overdue), Decimal(0))),
            "oldest_days": max((_days(i.due_at, now) or 0 for i in overdue), default=None),
        },
        "next_due_date": upcoming[0].date().isoformat() if upcoming else None,
        "paid_count": len(invoices) - len(unpaid),
        "paid_late_count": len(paid_late),
    }


def order_view(order: Order, invoice: Invoice | None, now: datetime) -> dict[str, Any]:
    """One order as a tool shows it."""
    return {
        "number": order.number,
        "status": order.status,
        "total": exact(order.total),
        "placed": order.placed_at.date().isoformat() if order.placed_at else None,
        "days_ago": _days(order.placed_at, now),
        "invoice": None
        if invoice is None
        else {"invoice": invoice.external_id, "state": invoice_state(invoice, now)},
    }


def invoice_view(invoice: Invoice, order_number: str | None, now: datetime) -> dict[str, Any]:
    """One invoice as a tool shows it: days overdue, days until due or how it was paid."""
    state = invoice_state(invoice, now)
    view: dict[str, Any] = {
        "invoice": invoice.external_id,
        "order": order_number,
        "amount": exact(invoice.amount),
        "due": invoice.due_at.date().isoformat(),
        "state": state,
    }
    if state == "overdue":
        view["days_overdue"] = _days(invoice.due_at, now)
    elif state == "due":
        view["days_until_due"] = max(0, (invoice.due_at - now).days)
    elif invoice.paid_at is not None:
        view["paid"] = invoice.paid_at.date().isoformat()
        view["paid_days_late"] = max(0, (invoice.paid_at - invoice.due_at).days)
    return view


def _matches(state: InvoiceState, wanted: str) -> bool:
    return wanted == "all" or state == wanted or (wanted == "open" and state != "paid")


def _in_flight(order: Order) -> bool:
    return order.status.lower() not in SETTLED_STATUSES and order.status != "draft"


def require_customer(uow: UnitOfWork, ctx: ToolContext, customer_id: int) -> Customer:
    """The org's customer of that id, or an input error the model can correct."""
    customer = uow.crm.customer(ctx.org_id, customer_id)
    if customer is None:
        raise ToolInputError(f"no customer with id {customer_id}; use search_customers")
    return customer


def exact(amount: Decimal) -> str:
    """An amount as a string with two decimals (more only for sub-cent digits): the same on
    PostgreSQL, which keeps four places, and on SQLite, which keeps what was written."""
    cents = amount.quantize(CENT)
    return str(cents if cents == amount else amount.normalize())


def _days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


ORDER_TOOLS: tuple[ToolSpec[Any], ...] = (
    list_orders,
    get_order,
    list_invoices,
    list_overdue_invoices,
)
