"""Rows already in the database for every key the file defines or refers to: one query per
section (per chunk of keys), used both to check references and to decide insert or update."""

from __future__ import annotations

from dataclasses import dataclass

from storage.crm_import.parse import ParsedDocument
from storage.models import (
    Activity,
    Contact,
    Customer,
    Deal,
    Invoice,
    Order,
    Product,
    Task,
    User,
)
from storage.repositories.crm_writes import CrmWriteRepository


@dataclass
class Known:
    """Existing rows by natural key. The writer adds the rows it creates, so later sections
    resolve references to records created earlier in the same import."""

    users: dict[str, User]
    slack_holders: dict[str, User]
    customers: dict[str, Customer]
    contacts: dict[int, list[Contact]]
    deals: dict[str, Deal]
    orders: dict[str, Order]
    invoices: dict[str, Invoice]
    products: dict[str, Product]
    activities: dict[str, Activity]
    tasks: dict[str, Task]


def load_known(repo: CrmWriteRepository, *, org_id: int, parsed: ParsedDocument) -> Known:
    """Look up, in batches, every existing row the file could touch or point at."""
    customers = repo.by_external_id(Customer, org_id, _mentioned_customers(parsed))
    with_contacts = {e.record.external_id for e in parsed.customers if e.record.contacts}
    slack_ids = {e.record.slack_user_id for e in parsed.users if e.record.slack_user_id}
    return Known(
        users=repo.users_by_email(org_id, _mentioned_emails(parsed)),
        slack_holders=repo.users_by_slack_id(org_id, slack_ids),
        customers=customers,
        contacts=repo.contacts_by_customer(
            [row.id for key, row in customers.items() if key in with_contacts]
        ),
        deals=repo.by_external_id(Deal, org_id, _mentioned_deals(parsed)),
        orders=repo.by_external_id(Order, org_id, _mentioned_orders(parsed)),
        invoices=repo.by_external_id(
            Invoice, org_id, {e.record.external_id for e in parsed.invoices}
        ),
        products=repo.products_by_sku(org_id, {e.record.sku for e in parsed.products}),
        activities=repo.by_import_key(
            Activity, org_id, {e.record.import_key for e in parsed.activities}
        ),
        tasks=repo.by_import_key(Task, org_id, {e.record.import_key for e in parsed.tasks}),
    )


def _mentioned_emails(parsed: ParsedDocument) -> set[str]:
    mentioned = {
        *parsed.declared.emails,
        *(e.record.manager_email for e in parsed.users),
        *(e.record.owner_email for e in parsed.customers),
        *(e.record.owner_email for e in parsed.deals),
        *(e.record.user_email for e in parsed.activities),
        *(e.record.assignee_email for e in parsed.tasks),
    }
    return {email for email in mentioned if email is not None}


def _mentioned_customers(parsed: ParsedDocument) -> set[str]:
    mentioned = {
        *parsed.declared.customers,
        *(e.record.customer for e in parsed.deals),
        *(e.record.customer for e in parsed.orders),
        *(e.record.customer for e in parsed.invoices),
        *(e.record.customer for e in parsed.activities),
        *(e.record.customer for e in parsed.tasks),
    }
    return {external_id for external_id in mentioned if external_id is not None}


def _mentioned_deals(parsed: ParsedDocument) -> set[str]:
    mentioned = {*parsed.declared.deals, *(e.record.deal for e in parsed.activities)}
    return {external_id for external_id in mentioned if external_id is not None}


def _mentioned_orders(parsed: ParsedDocument) -> set[str]:
    mentioned = {*parsed.declared.orders, *(e.record.order for e in parsed.invoices)}
    return {external_id for external_id in mentioned if external_id is not None}
