"""Problems only visible across records: duplicates in the file and references to nothing."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from itertools import chain
from typing import TypeVar

from pydantic import BaseModel

from storage.crm_import.known import Known
from storage.crm_import.parse import Entry, ParsedDocument
from storage.crm_import.problems import Problem
from storage.crm_import.schema import CustomerRecord

R = TypeVar("R", bound=BaseModel)


def find_duplicates(parsed: ParsedDocument) -> list[Problem]:
    """Records that share a natural key: the second one would silently overwrite the first."""
    src = parsed.source
    return list(
        chain(
            _duplicates(src, "users", parsed.users, lambda r: r.email, "email"),
            _duplicates(src, "users", parsed.users, lambda r: r.slack_user_id, "slack_user_id"),
            _duplicates(src, "customers", parsed.customers, lambda r: r.external_id, "external_id"),
            _duplicate_contacts(src, parsed.customers),
            _duplicates(src, "deals", parsed.deals, lambda r: r.external_id, "external_id"),
            _duplicates(src, "orders", parsed.orders, lambda r: r.external_id, "external_id"),
            _duplicates(src, "invoices", parsed.invoices, lambda r: r.external_id, "external_id"),
            _duplicates(src, "products", parsed.products, lambda r: r.sku, "sku"),
            _duplicates(src, "activities", parsed.activities, lambda r: r.import_key, ""),
            _duplicates(src, "tasks", parsed.tasks, lambda r: r.import_key, ""),
        )
    )


def find_unknown_references(parsed: ParsedDocument, known: Known) -> list[Problem]:
    """References to users, customers, deals or orders in neither the file nor the database."""
    src, declared = parsed.source, parsed.declared
    emails = _Either(declared.emails, known.users)
    customers = _Either(declared.customers, known.customers)
    deals = _Either(declared.deals, known.deals)
    orders = _Either(declared.orders, known.orders)
    return list(
        chain(
            _unknown(src, "users", parsed.users, "manager_email", emails, "user"),
            _unknown(src, "customers", parsed.customers, "owner_email", emails, "user"),
            _unknown(src, "deals", parsed.deals, "customer", customers, "customer"),
            _unknown(src, "deals", parsed.deals, "owner_email", emails, "user"),
            _unknown(src, "orders", parsed.orders, "customer", customers, "customer"),
            _unknown(src, "invoices", parsed.invoices, "customer", customers, "customer"),
            _unknown(src, "invoices", parsed.invoices, "order", orders, "order"),
            _unknown(src, "activities", parsed.activities, "customer", customers, "customer"),
            _unknown(src, "activities", parsed.activities, "deal", deals, "deal"),
            _unknown(src, "activities", parsed.activities, "user_email", emails, "user"),
            _unknown(src, "tasks", parsed.tasks, "customer", customers, "customer"),
            _unknown(src, "tasks", parsed.tasks, "assignee_email", emails, "user"),
        )
    )


def find_slack_id_conflicts(parsed: ParsedDocument, known: Known) -> list[Problem]:
    """Slack user ids the file gives to one user while another user in the org holds them."""
    problems = []
    for entry in parsed.users:
        slack_id = entry.record.slack_user_id
        holder = known.slack_holders.get(slack_id) if slack_id else None
        if holder is not None and holder.email != entry.record.email:
            message = f"{slack_id!r} already belongs to {holder.email}"
            problems.append(Problem(parsed.source, entry.index, "users", "slack_user_id", message))
    return problems


class _Either(Container[str]):
    """Defined in the file or present in the database."""

    def __init__(self, declared: Container[str], existing: Container[str]) -> None:
        self._declared, self._existing = declared, existing

    def __contains__(self, key: object) -> bool:
        return key in self._declared or key in self._existing


def _duplicates(
    src: str,
    section: str,
    entries: Sequence[Entry[R]],
    key: Callable[[R], str | None],
    field: str,
) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for entry in entries:
        value = key(entry.record)
        if value is None:
            continue
        if value in first:
            shown = f" {field} {value!r}" if field else " record (same content)"
            message = f"duplicate{shown}, first at {section}[{first[value]}]"
            yield Problem(src, entry.index, section, field, message)
        else:
            first[value] = entry.index


def _duplicate_contacts(src: str, customers: Sequence[Entry[CustomerRecord]]) -> Iterator[Problem]:
    for entry in customers:
        first: dict[str, int] = {}
        for position, contact in enumerate(entry.record.contacts):
            if contact.key in first:
                field = f"contacts[{position}].{'email' if contact.email else 'name'}"
                message = f"duplicate contact, first at contacts[{first[contact.key]}]"
                yield Problem(src, entry.index, "customers", field, message)
            first.setdefault(contact.key, position)


def _unknown(
    src: str,
    section: str,
    entries: Sequence[Entry[R]],
    field: str,
    known: Container[str],
    what: str,
) -> Iterator[Problem]:
    for entry in entries:
        value = getattr(entry.record, field)
        if value is not None and value not in known:
            message = f"unknown {what} {value!r} (not in this file or the database)"
            yield Problem(src, entry.index, section, field, message)
