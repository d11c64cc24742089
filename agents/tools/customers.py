"""Customer tools: find a customer, then see everything that matters about them."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from agents.tools.base import ToolContext, ToolInputError, tool
from agents.tools.health import HealthInputs, health_score
from storage.models import Activity, Customer, CustomerStatus, Deal, Invoice, Task
from storage.uow import UnitOfWork

_STOPWORDS = frozenset(
    "a an and any are about account accounts can customer customers do does for from give has "
    "have how is it its me my of on or please show status tell that the their them there this "
    "to update us was what whats what's where which who with you your going on".split()
)
_WORD = re.compile(r"[\w'&-]+", re.UNICODE)


class SearchCustomersArgs(BaseModel):
    """Find customers by name, company, contact or external id."""

    query: str = Field(min_length=1, max_length=500, description="Name or words to look for.")
    limit: int = Field(default=5, ge=1, le=20, description="Maximum matches to return.")


class GetCustomerArgs(BaseModel):
    """Look at one customer."""

    customer_id: int = Field(description="The id returned by search_customers.")


def _terms(query: str) -> list[str]:
    words = [w.strip("'-").lower() for w in _WORD.findall(query)]
    return [w for w in words if len(w) >= 3 and w not in _STOPWORDS]


def _score(customer: Customer, terms: list[str]) -> int:
    haystack = f"{customer.name} {customer.company or ''} {customer.external_id}".lower()
    return sum(term in haystack for term in terms)


@tool(SearchCustomersArgs)
def search_customers(ctx: ToolContext, args: SearchCustomersArgs) -> dict[str, Any]:
    """Search the CRM for customers matching a name, company, contact name or external id.

    Accepts a plain name ("Halvorsen") or a whole phrase; returns the best matches first
    with their id (which get_customer takes) and a match score (words of the query matched)."""
    terms = _terms(args.query) or [args.query.strip().lower()]
    found: dict[int, Customer] = {}
    with UnitOfWork(ctx.factory) as uow:
        for term in terms[:8]:
            for customer in uow.crm.search_customers(ctx.org_id, term, limit=args.limit * 2):
                found[customer.id] = customer
    scored = sorted(
        ((_score(c, terms), c) for c in found.values()), key=lambda p: (-p[0], p[1].name)
    )
    ranked = scored[: args.limit]
    return {
        "customers": [
            {"id": c.id, "name": c.name, "company": c.company, "status": c.status.value, "score": s}
            for s, c in ranked
        ],
        "_meta": {"count": len(ranked), "terms": terms},
        "_display": {"title": f"{len(ranked)} customer(s) found", "subtitle": args.query},
    }


@tool(GetCustomerArgs)
def get_customer(ctx: ToolContext, args: GetCustomerArgs) -> dict[str, Any]:
    """Everything about one customer: profile, contacts, open deals, recent activity, open tasks
    and overdue invoices, plus _meta hints (health score 0-100 with reasons, overdue invoices,
    days since last order and last activity, open deal count and value)."""
    with UnitOfWork(ctx.factory) as uow:
        customer = uow.crm.customer(ctx.org_id, args.customer_id)
        if customer is None:
            raise ToolInputError(f"no customer with id {args.customer_id}; use search_customers")
        deals = uow.crm.open_deals(ctx.org_id, customer.id)
        activities = uow.crm.recent_activities(ctx.org_id, customer.id, limit=8)
        tasks = uow.crm.open_tasks(ctx.org_id, customer.id)
        overdue = uow.crm.overdue_invoices(ctx.org_id, customer.id, now=ctx.now)
        last_order_at = uow.crm.last_order_at(ctx.org_id, customer.id)
        owner = customer.owner.name if customer.owner else None
        contacts = [contact_view(c) for c in customer.contacts]
    ctx.state.customer_id = customer.id
    return {
        "customer": profile_view(customer, owner),
        "contacts": contacts,
        "open_deals": [deal_view(d, ctx.now) for d in deals],
        "recent_activities": [activity_view(a, ctx.now) for a in activities],
        "open_tasks": [task_view(t, ctx.now) for t in tasks],
        "overdue_invoices": [invoice_view(i, ctx.now) for i in overdue],
        "_meta": customer_meta(customer, deals, activities, tasks, overdue, last_order_at, ctx.now),
        "_display": {
            "title": customer.name,
            "subtitle": customer.company,
            "badge": customer.status.value,
        },
    }


def _days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


def customer_meta(
    customer: Customer,
    deals: list[Deal],
    activities: list[Activity],
    tasks: list[Task],
    overdue: list[Invoice],
    last_order_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    last_activity = activities[0].occurred_at if activities else None
    overdue_tasks = [t for t in tasks if t.due_at is not None and t.due_at < now]
    facts = HealthInputs(
        days_since_last_activity=_days(last_activity, now),
        overdue_invoice_count=len(overdue),
        overdue_task_count=len(overdue_tasks),
        days_since_last_order=_days(last_order_at, now),
        churned=customer.status == CustomerStatus.CHURNED,
    )
    score, reasons = health_score(facts)
    return {
        "health_score": score,
        "health_reasons": reasons,
        "overdue_invoices": {
            "count": len(overdue),
            "amount": str(sum((i.amount for i in overdue), Decimal(0))),
        },
        "days_since_last_order": facts.days_since_last_order,
        "days_since_last_activity": facts.days_since_last_activity,
        "open_deals": {
            "count": len(deals),
            "value": str(sum((d.amount for d in deals), Decimal(0))),
        },
        "overdue_tasks": len(overdue_tasks),
    }


def profile_view(c: Customer, owner: str | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "company": c.company,
        "status": c.status.value,
        "tags": c.tags,
        "owner": owner,
        "external_id": c.external_id,
    }


def contact_view(c: Any) -> dict[str, Any]:
    return {"name": c.name, "title": c.title, "email": c.email, "phone": c.phone}


def deal_view(d: Deal, now: datetime) -> dict[str, Any]:
    return {
        "title": d.title,
        "stage": d.stage.value,
        "amount": str(d.amount),
        "days_in_stage": _days(d.stage_changed_at, now),
        "expected_close": d.expected_close_at.date().isoformat() if d.expected_close_at else None,
    }


def activity_view(a: Activity, now: datetime) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "summary": a.summary,
        "date": a.occurred_at.date().isoformat(),
        "days_ago": _days(a.occurred_at, now),
    }


def task_view(t: Task, now: datetime) -> dict[str, Any]:
    return {
        "title": t.title,
        "due": t.due_at.date().isoformat() if t.due_at else None,
        "overdue": bool(t.due_at and t.due_at < now),
    }


def invoice_view(i: Invoice, now: datetime) -> dict[str, Any]:
    return {
        "invoice": i.external_id,
        "amount": str(i.amount),
        "due": i.due_at.date().isoformat(),
        "days_overdue": _days(i.due_at, now),
    }


CUSTOMER_TOOLS = (search_customers, get_customer)
