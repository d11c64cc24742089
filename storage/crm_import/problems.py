"""What is wrong with an import file, located precisely enough to fix it by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# Sections in the order they are written; problems are reported in this order too.
SECTIONS = ("users", "products", "customers", "deals", "orders", "invoices", "activities", "tasks")
MAX_LISTED = 100
_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "string_too_short": "must not be empty",
    "model_type": "must be an object",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong: `file: section[index].field: message`; empty parts are left out."""

    file: str
    index: int | None
    section: str
    field: str
    message: str

    def __str__(self) -> str:
        where = self.section
        if self.index is not None:
            where += f"[{self.index}]"
        if self.field:
            where += f".{self.field}" if where else self.field
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class CrmImportError(Exception):
    """The file was rejected and nothing of it was written; `problems` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [str(problem) for problem in self.problems[:MAX_LISTED]]
        hidden = len(self.problems) - MAX_LISTED
        if hidden > 0:
            lines.append(f"... and {hidden} more problems")
        return "\n".join(lines)


def short_repr(value: object) -> str:
    """`repr(value)`, cut short so one bad cell cannot flood the report."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def field_path(loc: Iterable[int | str]) -> str:
    """`("contacts", 0, "email")` as `contacts[0].email`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(error: ErrorDetails) -> str:
    plain = _PLAIN_MESSAGES.get(error["type"])
    if plain is not None:
        return plain
    if error["type"].startswith("crm_"):  # our own messages already say what was given
        return error["msg"]
    return f"{error['msg']}, got {short_repr(error['input'])}"


def from_validation_error(
    exc: ValidationError, *, file: str, section: str, index: int
) -> list[Problem]:
    """One problem per pydantic error of the record at `section[index]`."""
    return [
        Problem(file, index, section, field_path(error["loc"]), _message(error))
        for error in exc.errors(include_url=False)
    ]


def in_report_order(problems: Iterable[Problem]) -> list[Problem]:
    """Document-level first, then by section and record; stable within a record."""

    def position(problem: Problem) -> tuple[int, int]:
        section = SECTIONS.index(problem.section) + 1 if problem.section in SECTIONS else 0
        return section, -1 if problem.index is None else problem.index

    return sorted(problems, key=position)
