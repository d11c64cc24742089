"""Batch lookups by natural key for bulk writers (the CRM import). Never commits."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Activity, Contact, Customer, Deal, Invoice, Order, Product, Task, User

# Old SQLite builds allow 999 bound parameters per statement; PostgreSQL allows 65535.
CHUNK_SIZE = 500

WithExternalId = TypeVar("WithExternalId", Customer, Deal, Order, Invoice)
WithImportKey = TypeVar("WithImportKey", Activity, Task)


def _chunks(keys: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), CHUNK_SIZE):
        yield ordered[start : start + CHUNK_SIZE]


class CrmWriteRepository:
    """One query per chunk of keys instead of one per record. Every method is org-scoped."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def users_by_email(self, org_id: int, emails: Collection[str]) -> dict[str, User]:
        """The org's users among `emails` (stored lower-case), keyed by email."""
        found: dict[str, User] = {}
        for chunk in _chunks(emails):
            stmt = select(User).where(User.org_id == org_id, User.email.in_(chunk))
            found.update((user.email, user) for user in self.session.scalars(stmt))
        return found

    def users_by_slack_id(self, org_id: int, slack_user_ids: Collection[str]) -> dict[str, User]:
        """The org's users holding any of `slack_user_ids`, keyed by Slack user id."""
        found: dict[str, User] = {}
        for chunk in _chunks(slack_user_ids):
            stmt = select(User).where(User.org_id == org_id, User.slack_user_id.in_(chunk))
            found.update((str(user.slack_user_id), user) for user in self.session.scalars(stmt))
        return found

    def by_external_id(
        self, model: type[WithExternalId], org_id: int, external_ids: Collection[str]
    ) -> dict[str, WithExternalId]:
        """Rows of `model` in the org whose external id is among `external_ids`."""
        found: dict[str, WithExternalId] = {}
        for chunk in _chunks(external_ids):
            stmt = select(model).where(model.org_id == org_id, model.external_id.in_(chunk))
            found.update((row.external_id, row) for row in self.session.scalars(stmt))
        return found

    def by_import_key(
        self, model: type[WithImportKey], org_id: int, keys: Collection[str]
    ) -> dict[str, WithImportKey]:
        """Rows of `model` in the org whose import key is among `keys`."""
        found: dict[str, WithImportKey] = {}
        for chunk in _chunks(keys):
            stmt = select(model).where(model.org_id == org_id, model.import_key.in_(chunk))
            found.update((str(row.import_key), row) for row in self.session.scalars(stmt))
        return found

    def products_by_sku(self, org_id: int, skus: Collection[str]) -> dict[str, Product]:
        """The org's products among `skus`, keyed by SKU."""
        found: dict[str, Product] = {}
        for chunk in _chunks(skus):
            stmt = select(Product).where(Product.org_id == org_id, Product.sku.in_(chunk))
            found.update((product.sku, product) for product in self.session.scalars(stmt))
        return found

    def contacts_by_customer(self, customer_ids: Collection[int]) -> dict[int, list[Contact]]:
        """Existing contacts of the given customers, oldest first, grouped by customer id."""
        found: dict[int, list[Contact]] = {customer_id: [] for customer_id in customer_ids}
        ids = sorted(found)
        for start in range(0, len(ids), CHUNK_SIZE):
            chunk = ids[start : start + CHUNK_SIZE]
            stmt = select(Contact).where(Contact.customer_id.in_(chunk)).order_by(Contact.id)
            for contact in self.session.scalars(stmt):
                found[contact.customer_id].append(contact)
        return found
