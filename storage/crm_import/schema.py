"""The public CRM import format: one pydantic model per record type, unknown fields rejected.

Field types normalise what a spreadsheet export gets wrong harmlessly (case and whitespace
on enum values and emails, blank optional text) and reject what would lose information
(naive timestamps, binary floats as money, amounts PostgreSQL would round).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from storage.crm_import.problems import short_repr
from storage.models.enums import CustomerStatus, DealStage, DealStatus, Role, TaskStatus

# Money columns are NUMERIC(18, 4): PostgreSQL would round a 5th decimal place, SQLite not.
MONEY_PLACES = 4
MONEY_LIMIT = Decimal(10) ** 14
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E = TypeVar("E", bound=StrEnum)


def _fail(kind: str, message: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(f"crm_{kind}", f"{message}, got {{got}}", {"got": short_repr(value)})


def _to_decimal(value: Any) -> Decimal | None:
    # A float is converted through its shortest repr, so 19.99 stays 19.99, not 19.989999…
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def parse_money(value: Any) -> Decimal:
    """An exact, finite, non-negative amount from a decimal string or a JSON number."""
    amount = _to_decimal(value)
    if amount is None or not amount.is_finite():
        raise _fail("money", "must be a decimal amount", value)
    if amount < 0:
        raise _fail("money", "must not be negative", value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES:
        raise _fail("money", f"must have at most {MONEY_PLACES} decimal places", value)
    if amount >= MONEY_LIMIT:
        raise _fail("money", "is too large", value)
    return amount


def parse_timestamp(value: Any) -> datetime:
    """An ISO-8601 timestamp that states its UTC offset; a naive one is ambiguous."""
    if not isinstance(value, str):
        raise _fail("timestamp", "must be an ISO-8601 timestamp string", value)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail("timestamp", "must be an ISO-8601 timestamp", value) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _fail("timestamp", "must include a UTC offset such as +00:00 or Z", value)
    return parsed


def parse_email(value: Any) -> str:
    """A lower-cased email address (users are looked up case-insensitively)."""
    email = value.strip().lower() if isinstance(value, str) else ""
    if len(email) > 254 or not _EMAIL.match(email):
        raise _fail("email", "must be an email address", value)
    return email


def _enum_parser(enum: type[E]) -> Callable[[Any], E]:
    choices = ", ".join(member.value for member in enum)

    def parse(value: Any) -> E:
        if isinstance(value, str):
            try:
                return enum(value.strip().lower())
            except ValueError:
                pass
        raise _fail("enum", f"must be one of {choices}", value)

    return parse


def _blank_to_none(value: Any) -> Any:
    # Exports write empty cells as "", which means "no value" for an optional field.
    return None if isinstance(value, str) and not value.strip() else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _text(max_length: int | None) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Text = Annotated[str, _text(None)]
Str30 = Annotated[str, _text(30)]
Str50 = Annotated[str, _text(50)]
Str100 = Annotated[str, _text(100)]
Str200 = Annotated[str, _text(200)]
Str300 = Annotated[str, _text(300)]
OptStr32 = Annotated[Annotated[str, _text(32)] | None, BeforeValidator(_blank_to_none)]
OptStr50 = Annotated[Str50 | None, BeforeValidator(_blank_to_none)]
OptStr100 = Annotated[Str100 | None, BeforeValidator(_blank_to_none)]
OptStr200 = Annotated[Str200 | None, BeforeValidator(_blank_to_none)]
Kind = Annotated[Str30, BeforeValidator(_lower)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
OptTimestamp = Annotated[Timestamp | None, BeforeValidator(_blank_to_none)]
Email = Annotated[str, BeforeValidator(parse_email)]
OptEmail = Annotated[Email | None, BeforeValidator(_blank_to_none)]
RoleValue = Annotated[Role, BeforeValidator(_enum_parser(Role))]
CustomerStatusValue = Annotated[CustomerStatus, BeforeValidator(_enum_parser(CustomerStatus))]
StageValue = Annotated[DealStage, BeforeValidator(_enum_parser(DealStage))]
DealStatusValue = Annotated[DealStatus, BeforeValidator(_enum_parser(DealStatus))]
TaskStatusValue = Annotated[TaskStatus, BeforeValidator(_enum_parser(TaskStatus))]

CLOSED_STAGE_STATUS = {DealStage.CLOSED_WON: DealStatus.WON, DealStage.CLOSED_LOST: DealStatus.LOST}


def content_key(*parts: str) -> str:
    """sha256 hex of a record's natural content: the stand-in for a missing external id."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _utc_text(moment: datetime | None) -> str:
    # The same instant written with different offsets must give the same key.
    return "" if moment is None else moment.astimezone(UTC).isoformat()


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserRecord(_Record):
    """A person at the org; `manager_email` names another user (this file or the database)."""

    email: Email
    name: Str200
    slack_user_id: OptStr32 = None
    role: RoleValue = Role.REP
    manager_email: OptEmail = None

    @model_validator(mode="after")
    def _not_own_manager(self) -> Self:
        if self.manager_email == self.email:
            raise _fail("manager", "manager_email must name someone else", self.manager_email)
        return self


class ContactRecord(_Record):
    """A person at a customer; matched by email, or by name when there is no email."""

    name: Str200
    email: OptEmail = None
    phone: OptStr50 = None
    title: OptStr200 = None

    @property
    def key(self) -> str:
        """What identifies this contact within its customer."""
        return f"email:{self.email}" if self.email else f"name:{self.name.casefold()}"


class CustomerRecord(_Record):
    """An account, keyed by external id."""

    external_id: Str100
    name: Str200
    company: OptStr200 = None
    status: CustomerStatusValue = CustomerStatus.ACTIVE
    tags: list[Str50] = []
    owner_email: OptEmail = None
    contacts: list[ContactRecord] = []


class DealRecord(_Record):
    """An opportunity; status, when omitted, follows from the stage."""

    external_id: Str100
    customer: Str100
    title: Str300
    stage: StageValue
    amount: Money
    owner_email: OptEmail = None
    stage_changed_at: Timestamp
    expected_close_at: OptTimestamp = None
    status: DealStatusValue | None = None

    @model_validator(mode="after")
    def _status_fits_stage(self) -> Self:
        implied = CLOSED_STAGE_STATUS.get(self.stage)
        if implied is not None and self.status not in (None, implied):
            message = f"stage {self.stage.value} needs status {implied.value}"
            raise _fail("deal_status", message, self.status.value if self.status else None)
        return self

    @property
    def effective_status(self) -> DealStatus:
        """The given status, else won/lost for closed stages and open for the rest."""
        return self.status or CLOSED_STAGE_STATUS.get(self.stage, DealStatus.OPEN)


class ActivityRecord(_Record):
    """A call, meeting, email or note; identified by its content (it has no external id)."""

    customer: Str100
    deal: OptStr100 = None
    kind: Kind
    summary: Text
    occurred_at: Timestamp
    user_email: OptEmail = None

    @property
    def import_key(self) -> str:
        """Hash of customer, kind, time and summary."""
        return content_key(self.customer, self.kind, _utc_text(self.occurred_at), self.summary)


class TaskRecord(_Record):
    """A to-do; identified by its content (it has no external id)."""

    customer: OptStr100 = None
    title: Str300
    due_at: OptTimestamp = None
    status: TaskStatusValue = TaskStatus.OPEN
    assignee_email: OptEmail = None

    @property
    def import_key(self) -> str:
        """Hash of customer, title and due time."""
        return content_key(self.customer or "", self.title, _utc_text(self.due_at))


class OrderRecord(_Record):
    """A placed order, keyed by external id."""

    external_id: Str100
    customer: Str100
    number: Str100
    status: Str30
    total: Money
    placed_at: OptTimestamp = None


class InvoiceRecord(_Record):
    """What a customer owes, keyed by external id; `order` is an order external id."""

    external_id: Str100
    customer: Str100
    order: OptStr100 = None
    amount: Money
    due_at: Timestamp
    paid_at: OptTimestamp = None


class ProductRecord(_Record):
    """A catalog item, keyed by SKU."""

    sku: Str100
    name: Str300
    unit_price: Money
    category: OptStr100 = None
