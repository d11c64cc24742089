"""Insert or update every record, in dependency order, inside the caller's transaction.

Only fields present in a record are written: an omitted optional field keeps what the
database has (a Slack id learned at runtime survives a CRM re-import); an explicit null
clears it. New rows get the model defaults for what the record omits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from storage.crm_import.known import Known
from storage.crm_import.parse import Entry, ParsedDocument
from storage.crm_import.report import ImportReport, Outcome, SectionCounts
from storage.crm_import.schema import (
    ActivityRecord,
    ContactRecord,
    CustomerRecord,
    DealRecord,
    InvoiceRecord,
    OrderRecord,
    ProductRecord,
    TaskRecord,
    UserRecord,
)
from storage.models import (
    Activity,
    Base,
    Contact,
    Customer,
    Deal,
    Invoice,
    Order,
    Product,
    Task,
    User,
)

M = TypeVar("M", bound=Base)


def write_document(
    session: Session, *, org_id: int, parsed: ParsedDocument, known: Known
) -> ImportReport:
    """Upsert all sections of an already checked document; the caller commits."""
    writer = _Writer(session, org_id, known)
    users = writer.users(parsed.users)
    products = writer.section(parsed.products, writer.product)
    customers, contacts = writer.customers(parsed.customers)
    return ImportReport(
        source=parsed.source,
        users=users,
        products=products,
        customers=customers,
        contacts=contacts,
        deals=writer.section(parsed.deals, writer.deal),
        orders=writer.section(parsed.orders, writer.order),
        invoices=writer.section(parsed.invoices, writer.invoice),
        activities=writer.section(parsed.activities, writer.activity),
        tasks=writer.section(parsed.tasks, writer.task),
    )


def _fields(record: BaseModel, *, exclude: set[str] | None = None) -> dict[str, Any]:
    return record.model_dump(exclude_unset=True, exclude=exclude)


class _Writer:
    def __init__(self, session: Session, org_id: int, known: Known) -> None:
        self.session = session
        self.org_id = org_id
        self.known = known
        self._claimed_contacts: set[Contact] = set()

    def upsert(
        self, model: type[M], existing: M | None, values: dict[str, Any]
    ) -> tuple[M, Outcome]:
        """Create the row, or change only the differing columns (a no-op import writes nothing)."""
        if existing is None:
            row = model(org_id=self.org_id, **values)
            self.session.add(row)
            return row, Outcome.CREATED
        changed = {key: value for key, value in values.items() if getattr(existing, key) != value}
        for key, value in changed.items():
            setattr(existing, key, value)
        return existing, Outcome.UPDATED if changed else Outcome.UNCHANGED

    def section(self, entries: list[Entry[Any]], write: Callable[[Any], Outcome]) -> SectionCounts:
        """Write a section, then flush so the next sections can point at its new ids."""
        counts = SectionCounts.of(write(entry.record) for entry in entries)
        self.session.flush()
        return counts

    @staticmethod
    def link(
        values: dict[str, Any], record: BaseModel, field: str, rows: Mapping[str, Any]
    ) -> None:
        """Set `<field>_id` from a reference, if the record gives the field at all."""
        if field not in record.model_fields_set:
            return
        key = getattr(record, field)
        column = field.removesuffix("_email") + "_id"
        values[column] = None if key is None else rows[key].id

    # --- users: two passes, because a manager may come later in the file ---------------

    def users(self, entries: list[Entry[UserRecord]]) -> SectionCounts:
        """Upsert users, flush for ids, then point each at its manager."""
        outcomes: dict[str, Outcome] = {}
        for entry in entries:
            values = _fields(entry.record, exclude={"manager_email"})
            user, outcomes[entry.record.email] = self.upsert(
                User, self.known.users.get(entry.record.email), values
            )
            self.known.users[entry.record.email] = user
        self.session.flush()
        for entry in entries:
            if (
                self._set_manager(entry.record)
                and outcomes[entry.record.email] is Outcome.UNCHANGED
            ):
                outcomes[entry.record.email] = Outcome.UPDATED
        self.session.flush()
        return SectionCounts.of(outcomes.values())

    def _set_manager(self, record: UserRecord) -> bool:
        values: dict[str, Any] = {}
        self.link(values, record, "manager_email", self.known.users)
        _, outcome = self.upsert(User, self.known.users[record.email], values)
        return outcome is Outcome.UPDATED

    # --- customers and their contacts --------------------------------------------------

    def customers(
        self, entries: list[Entry[CustomerRecord]]
    ) -> tuple[SectionCounts, SectionCounts]:
        """Upsert customers, then their contacts (which need the customer ids)."""
        counts = self.section(entries, self.customer)
        contacts = [
            self.contact(entry.record, contact)
            for entry in entries
            for contact in entry.record.contacts
        ]
        self.session.flush()
        return counts, SectionCounts.of(contacts)

    def customer(self, record: CustomerRecord) -> Outcome:
        values = _fields(record, exclude={"owner_email", "contacts"})
        self.link(values, record, "owner_email", self.known.users)
        row, outcome = self.upsert(Customer, self.known.customers.get(record.external_id), values)
        self.known.customers[record.external_id] = row
        return outcome

    def contact(self, customer: CustomerRecord, record: ContactRecord) -> Outcome:
        customer_id = self.known.customers[customer.external_id].id
        existing = self.known.contacts.setdefault(customer_id, [])
        match = self._match_contact(existing, record)
        row, outcome = self.upsert(Contact, match, {"customer_id": customer_id, **_fields(record)})
        if match is None:
            existing.append(row)
        self._claimed_contacts.add(row)
        return outcome

    def _match_contact(self, existing: list[Contact], record: ContactRecord) -> Contact | None:
        # By email first; else a same-named contact without email (it may just be gaining one).
        free = [c for c in existing if c not in self._claimed_contacts]
        if record.email is not None:
            by_email = next((c for c in free if c.email == record.email), None)
            if by_email is not None:
                return by_email
        name = record.name.casefold()
        return next((c for c in free if c.email is None and c.name.casefold() == name), None)

    # --- everything else: one record at a time -----------------------------------------

    def product(self, record: ProductRecord) -> Outcome:
        row, outcome = self.upsert(Product, self.known.products.get(record.sku), _fields(record))
        self.known.products[record.sku] = row
        return outcome

    def deal(self, record: DealRecord) -> Outcome:
        values = _fields(record, exclude={"customer", "owner_email"})
        values["status"] = record.effective_status
        self.link(values, record, "customer", self.known.customers)
        self.link(values, record, "owner_email", self.known.users)
        row, outcome = self.upsert(Deal, self.known.deals.get(record.external_id), values)
        self.known.deals[record.external_id] = row
        return outcome

    def order(self, record: OrderRecord) -> Outcome:
        values = _fields(record, exclude={"customer"})
        self.link(values, record, "customer", self.known.customers)
        row, outcome = self.upsert(Order, self.known.orders.get(record.external_id), values)
        self.known.orders[record.external_id] = row
        return outcome

    def invoice(self, record: InvoiceRecord) -> Outcome:
        values = _fields(record, exclude={"customer", "order"})
        self.link(values, record, "customer", self.known.customers)
        self.link(values, record, "order", self.known.orders)
        row, outcome = self.upsert(Invoice, self.known.invoices.get(record.external_id), values)
        self.known.invoices[record.external_id] = row
        return outcome

    def activity(self, record: ActivityRecord) -> Outcome:
        values = _fields(record, exclude={"customer", "deal", "user_email"})
        values["import_key"] = record.import_key
        self.link(values, record, "customer", self.known.customers)
        self.link(values, record, "deal", self.known.deals)
        self.link(values, record, "user_email", self.known.users)
        row, outcome = self.upsert(Activity, self.known.activities.get(record.import_key), values)
        self.known.activities[record.import_key] = row
        return outcome

    def task(self, record: TaskRecord) -> Outcome:
        values = _fields(record, exclude={"customer", "assignee_email"})
        values["import_key"] = record.import_key
        self.link(values, record, "customer", self.known.customers)
        self.link(values, record, "assignee_email", self.known.users)
        row, outcome = self.upsert(Task, self.known.tasks.get(record.import_key), values)
        self.known.tasks[record.import_key] = row
        return outcome
