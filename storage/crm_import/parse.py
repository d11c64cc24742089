"""From JSON text to validated records, collecting every problem instead of stopping at one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from storage.crm_import.problems import (
    SECTIONS,
    CrmImportError,
    Problem,
    from_validation_error,
    short_repr,
)
from storage.crm_import.schema import (
    ActivityRecord,
    CustomerRecord,
    DealRecord,
    InvoiceRecord,
    OrderRecord,
    ProductRecord,
    TaskRecord,
    UserRecord,
    parse_timestamp,
)

# The seed data records the moment its relative dates were written for; importing ignores it.
AS_OF = "as_of"
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Entry(Generic[R]):
    """A valid record and its position in its section (for problems found later)."""

    index: int
    record: R


@dataclass(frozen=True)
class Declared:
    """Keys the file defines, read from the raw records so an invalid one still counts:
    its own problem is reported, its referrers should not be flagged as well."""

    emails: frozenset[str]
    customers: frozenset[str]
    deals: frozenset[str]
    orders: frozenset[str]


@dataclass(frozen=True)
class ParsedDocument:
    """The valid records of each section, what the file declares, and what was wrong."""

    source: str
    users: list[Entry[UserRecord]]
    products: list[Entry[ProductRecord]]
    customers: list[Entry[CustomerRecord]]
    deals: list[Entry[DealRecord]]
    orders: list[Entry[OrderRecord]]
    invoices: list[Entry[InvoiceRecord]]
    activities: list[Entry[ActivityRecord]]
    tasks: list[Entry[TaskRecord]]
    declared: Declared
    problems: list[Problem]


def read_json_file(path: Path) -> Any:
    """The decoded JSON of `path`; unreadable or malformed files raise CrmImportError."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheet tools like to add a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise CrmImportError([Problem(path.name, None, "", "", f"cannot read: {exc}")]) from exc
    return parse_json_text(text, source=path.name)


def parse_json_text(text: str, *, source: str) -> Any:
    """Decoded JSON with every non-integer number as an exact Decimal."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise CrmImportError([Problem(source, None, "", "", message)]) from exc


def parse_document(document: object, *, source: str) -> ParsedDocument:
    """Validate every record of every section; problems are collected, not raised."""
    if not isinstance(document, dict):
        message = f"the document must be a JSON object, got {type(document).__name__}"
        raise CrmImportError([Problem(source, None, "", "", message)])
    return _Parser(document, source).parse()


class _Parser:
    def __init__(self, document: dict[str, Any], source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._check_top_level(document)
        self.raw = {name: self._section_items(document, name) for name in SECTIONS}

    def parse(self) -> ParsedDocument:
        return ParsedDocument(
            source=self.source,
            users=self._validate("users", UserRecord),
            products=self._validate("products", ProductRecord),
            customers=self._validate("customers", CustomerRecord),
            deals=self._validate("deals", DealRecord),
            orders=self._validate("orders", OrderRecord),
            invoices=self._validate("invoices", InvoiceRecord),
            activities=self._validate("activities", ActivityRecord),
            tasks=self._validate("tasks", TaskRecord),
            declared=Declared(
                emails=_raw_keys(self.raw["users"], "email", lower=True),
                customers=_raw_keys(self.raw["customers"], "external_id"),
                deals=_raw_keys(self.raw["deals"], "external_id"),
                orders=_raw_keys(self.raw["orders"], "external_id"),
            ),
            problems=self.problems,
        )

    def _problem(self, section: str, message: str) -> None:
        self.problems.append(Problem(self.source, None, section, "", message))

    def _check_top_level(self, document: dict[str, Any]) -> None:
        for key in document:
            if key not in SECTIONS and key != AS_OF:
                self._problem(str(key), f"unknown section (expected: {', '.join(SECTIONS)})")
        if AS_OF in document:
            try:
                parse_timestamp(document[AS_OF])
            except PydanticCustomError as exc:
                self._problem(AS_OF, exc.message())

    def _section_items(self, document: dict[str, Any], name: str) -> list[Any]:
        items = document.get(name)
        if items is None:
            return []
        if not isinstance(items, list):
            self._problem(name, f"must be a list of records, got {short_repr(items)}")
            return []
        return items

    def _validate(self, section: str, model: type[R]) -> list[Entry[R]]:
        entries: list[Entry[R]] = []
        for index, item in enumerate(self.raw[section]):
            try:
                entries.append(Entry(index, model.model_validate(item)))
            except ValidationError as exc:
                found = from_validation_error(exc, file=self.source, section=section, index=index)
                self.problems.extend(found)
        return entries


def _raw_keys(items: list[Any], field: str, *, lower: bool = False) -> frozenset[str]:
    values = (item.get(field) for item in items if isinstance(item, dict))
    return frozenset(
        v.strip().lower() if lower else v.strip() for v in values if isinstance(v, str)
    )
