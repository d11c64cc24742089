"""Gated write tools. None of them acts: each checks its input, stores a pending draft for a
person to approve, and ends the run. Approval and execution live in agents.drafts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from agents.drafts.content import clean_text, one_line
from agents.drafts.service import Proposal
from agents.tools.base import ToolContext, ToolInputError, ToolSpec, tool
from storage.models import Customer
from storage.models.enums import DraftKind
from storage.repositories.crm_writes import CrmWriteRepository
from storage.uow import UnitOfWork

Args = TypeVar("Args", bound=BaseModel)
Build = Callable[[ToolContext, Args], tuple[int, dict[str, Any]]]

CUSTOMER_ID = Field(description="The customer's id (from search_customers).")
NEXT_STEP = (
    "Stop here. Nothing was sent or written: the draft waits for a person to approve it. "
    "Tell the rep in one short sentence what you drafted and who must approve it."
)


def gated(args_model: type[Args], kind: DraftKind) -> Callable[[Build[Args]], ToolSpec[Args]]:
    """Turn `build(ctx, args) -> (customer_id, payload)` into a tool that proposes a draft."""

    def wrap(build: Build[Args]) -> ToolSpec[Args]:
        def propose(ctx: ToolContext, args: Args) -> dict[str, Any]:
            customer_id, payload = build(ctx, args)
            return _propose(ctx, kind, customer_id, payload)

        propose.__name__, propose.__doc__ = build.__name__, build.__doc__
        return dataclasses.replace(tool(args_model)(propose), gated=True)

    return wrap


class EmailDraftArgs(BaseModel):
    """Draft an email to one of the customer's contacts."""

    customer_id: int = CUSTOMER_ID
    to: str = Field(description="Email address of one of the customer's contacts.")
    subject: str = Field(min_length=1, max_length=250)
    body: str = Field(min_length=1, max_length=10_000, description="Plain text, signed by the rep.")


class NoteDraftArgs(BaseModel):
    """Draft a note for the customer's CRM activity log."""

    customer_id: int = CUSTOMER_ID
    headline: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=10_000)


class TaskDraftArgs(BaseModel):
    """Draft a CRM task (a reminder) for the rep."""

    customer_id: int = CUSTOMER_ID
    title: str = Field(min_length=1, max_length=300)
    details: str = Field(default="", max_length=5_000)
    due_date: date | None = Field(default=None, description="YYYY-MM-DD")


class OrderLine(BaseModel):
    """One catalog item and how many."""

    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000)


class OrderDraftArgs(BaseModel):
    """Draft an order (status draft) from catalog items."""

    customer_id: int = CUSTOMER_ID
    lines: list[OrderLine] = Field(min_length=1, max_length=50)
    note: str = Field(default="", max_length=5_000)


class CustomerNotesArgs(BaseModel):
    """Propose new account notes for the customer."""

    customer_id: int = CUSTOMER_ID
    notes: str = Field(min_length=1, max_length=10_000)


@gated(EmailDraftArgs, DraftKind.EMAIL)
def send_email_draft(ctx: ToolContext, args: EmailDraftArgs) -> tuple[int, dict[str, Any]]:
    """Propose an email to a contact of the customer. It is NOT sent: a manager must approve it
    first. The recipient must be one of the customer's contacts (see get_customer_context)."""
    with UnitOfWork(ctx.factory) as uow:
        customer = _customer(uow, ctx, args.customer_id)
        contacts = {c.email.lower(): c for c in customer.contacts if c.email}
    contact = contacts.get(args.to.strip().lower())
    if contact is None:
        known = ", ".join(sorted(contacts)) or "none on file"
        raise ToolInputError(
            f"{args.to!r} is not a contact of {customer.name}; emails may only go to the "
            f"customer's contacts: {known}"
        )
    return customer.id, {
        "to_address": contact.email,
        "to_name": contact.name,
        "subject": one_line(args.subject),
        "body": clean_text(args.body),
    }


@gated(NoteDraftArgs, DraftKind.NOTE)
def add_crm_note(ctx: ToolContext, args: NoteDraftArgs) -> tuple[int, dict[str, Any]]:
    """Propose a note on the customer's CRM activity log. Nothing is written until approved."""
    with UnitOfWork(ctx.factory) as uow:
        customer = _customer(uow, ctx, args.customer_id)
    return customer.id, {"subject": one_line(args.headline), "body": clean_text(args.text)}


@gated(TaskDraftArgs, DraftKind.TASK)
def create_task(ctx: ToolContext, args: TaskDraftArgs) -> tuple[int, dict[str, Any]]:
    """Propose a CRM task for the rep about the customer. Nothing is created until approved."""
    with UnitOfWork(ctx.factory) as uow:
        customer = _customer(uow, ctx, args.customer_id)
    if args.due_date is not None and args.due_date < ctx.now.date():
        raise ToolInputError(f"due_date {args.due_date} is in the past (today is {ctx.now.date()})")
    return customer.id, {
        "subject": one_line(args.title),
        "body": clean_text(args.details),
        "due_date": args.due_date.isoformat() if args.due_date else None,
    }


@gated(OrderDraftArgs, DraftKind.ORDER)
def create_order_draft(ctx: ToolContext, args: OrderDraftArgs) -> tuple[int, dict[str, Any]]:
    """Propose an order (status draft) of catalog items at list price. Nothing is created
    until approved. Unknown SKUs are refused."""
    with UnitOfWork(ctx.factory) as uow:
        customer = _customer(uow, ctx, args.customer_id)
        skus = {line.sku for line in args.lines}
        products = CrmWriteRepository(uow.session).products_by_sku(ctx.org_id, skus)
    unknown = sorted({line.sku for line in args.lines} - set(products))
    if unknown:
        raise ToolInputError(f"unknown SKU(s): {', '.join(unknown)}")
    lines = [
        {
            "sku": line.sku,
            "name": products[line.sku].name,
            "quantity": line.quantity,
            "unit_price": str(products[line.sku].unit_price),
        }
        for line in args.lines
    ]
    total = sum((products[x.sku].unit_price * x.quantity for x in args.lines), Decimal(0))
    return customer.id, {
        "subject": f"Order draft for {customer.name}",
        "body": clean_text(args.note),
        "lines": lines,
        "total": str(total),
    }


@gated(CustomerNotesArgs, DraftKind.CUSTOMER_NOTES)
def update_customer_notes(ctx: ToolContext, args: CustomerNotesArgs) -> tuple[int, dict[str, Any]]:
    """Propose replacing the customer's account notes. Nothing changes until approved."""
    with UnitOfWork(ctx.factory) as uow:
        customer = _customer(uow, ctx, args.customer_id)
    return customer.id, {"subject": "Account notes", "body": clean_text(args.notes)}


def _customer(uow: UnitOfWork, ctx: ToolContext, customer_id: int) -> Customer:
    customer = uow.crm.customer(ctx.org_id, customer_id)
    if customer is None:
        raise ToolInputError(f"no customer with id {customer_id}; use search_customers")
    return customer


def _propose(
    ctx: ToolContext, kind: DraftKind, customer_id: int, payload: dict[str, Any]
) -> dict[str, Any]:
    if ctx.drafts is None:
        raise ToolInputError("drafts cannot be proposed from here")
    if not payload.get("body") and kind != DraftKind.ORDER:
        raise ToolInputError("the draft has no text")
    ctx.state.customer_id = customer_id
    target = ctx.state.revise
    if target is None:
        draft_id = ctx.drafts.propose(_proposal(ctx, kind, customer_id, payload))
    elif target.kind != kind:
        raise ToolInputError(f"you are revising a {target.kind.value} draft; keep its kind")
    elif ctx.drafts.revise(ctx.org_id, target.draft_id, target.version, payload, by=ctx.user_id):
        draft_id = target.draft_id
    else:
        return {"status": "not_revised", "_meta": {"next": "The draft changed or was decided."}}
    ctx.state.draft_ids.append(draft_id)
    return {"draft_id": draft_id, "status": "pending_approval", "_meta": {"next": NEXT_STEP}}


def _proposal(
    ctx: ToolContext, kind: DraftKind, customer_id: int, payload: dict[str, Any]
) -> Proposal:
    return Proposal(
        org_id=ctx.org_id,
        kind=kind,
        payload=payload,
        requested_by_id=ctx.user_id,
        customer_id=customer_id,
        conversation_id=ctx.conversation_id,
        channel_id=ctx.channel_id,
        thread_ts=ctx.thread_ts,
        agent=ctx.state.agent,
        prompt_version=ctx.state.prompt_version,
        model=ctx.state.model,
    )


GATED_TOOLS = (
    send_email_draft,
    add_crm_note,
    create_task,
    create_order_draft,
    update_customer_notes,
)
