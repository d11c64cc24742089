"""The customer 360 a drafting specialist writes from: contacts, the last 30 days, deals,
tasks, orders and invoices, with the same `_meta` hints as get_customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from agents.tools.base import ToolContext, ToolInputError, tool
from agents.tools.customers import (
    activity_view,
    contact_view,
    customer_meta,
    deal_view,
    invoice_view,
    profile_view,
    task_view,
)
from storage.models import Order
from storage.uow import UnitOfWork

ACTIVITY_WINDOW = timedelta(days=30)


class CustomerContextArgs(BaseModel):
    """Read one customer's context before drafting."""

    customer_id: int = Field(description="The id returned by search_customers.")


@tool(CustomerContextArgs)
def get_customer_context(ctx: ToolContext, args: CustomerContextArgs) -> dict[str, Any]:
    """What to know before writing to or about a customer: profile and account notes, contacts
    with their email addresses (the only valid email recipients), activity of the last 30 days,
    open deals, pending tasks, recent orders and overdue invoices, plus _meta hints."""
    if ctx.throttle is not None and (refusal := ctx.throttle("context_build")):
        raise ToolInputError(f"{refusal} Work from what you have already read.")
    with UnitOfWork(ctx.factory) as uow:
        customer = uow.crm.customer(ctx.org_id, args.customer_id)
        if customer is None:
            raise ToolInputError(f"no customer with id {args.customer_id}; use search_customers")
        recent = uow.crm.activities_since(ctx.org_id, customer.id, ctx.now - ACTIVITY_WINDOW)
        latest = recent[:1] or uow.crm.recent_activities(ctx.org_id, customer.id, limit=1)
        deals = uow.crm.open_deals(ctx.org_id, customer.id)
        tasks = uow.crm.open_tasks(ctx.org_id, customer.id)
        orders = uow.crm.recent_orders(ctx.org_id, customer.id, limit=5)
        overdue = uow.crm.overdue_invoices(ctx.org_id, customer.id, now=ctx.now)
        last_order_at = uow.crm.last_order_at(ctx.org_id, customer.id)
        owner = customer.owner.name if customer.owner else None
        contacts = [contact_view(c) for c in customer.contacts]
    ctx.state.customer_id = customer.id
    return {
        "customer": {**profile_view(customer, owner), "account_notes": customer.notes},
        "contacts": contacts,
        "activities_last_30_days": [activity_view(a, ctx.now) for a in recent],
        "open_deals": [deal_view(d, ctx.now) for d in deals],
        "pending_tasks": [task_view(t, ctx.now) for t in tasks],
        "recent_orders": [_order(o) for o in orders],
        "overdue_invoices": [invoice_view(i, ctx.now) for i in overdue],
        "_meta": customer_meta(customer, deals, latest, tasks, overdue, last_order_at, ctx.now),
        "_display": {
            "title": customer.name,
            "subtitle": f"{len(recent)} activities in 30 days",
            "badge": customer.status.value,
        },
    }


def _order(o: Order) -> dict[str, Any]:
    return {
        "number": o.number,
        "status": o.status,
        "total": str(o.total),
        "placed": o.placed_at.date().isoformat() if o.placed_at else None,
    }
