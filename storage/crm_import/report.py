"""What an import did, per section."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one record."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class SectionCounts:
    """How many records of one section were created, updated or already up to date."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> SectionCounts:
        """Tally a section's outcomes."""
        tally = Counter(outcomes)
        return cls(tally[Outcome.CREATED], tally[Outcome.UPDATED], tally[Outcome.UNCHANGED])

    @property
    def total(self) -> int:
        """Records of this section in the file."""
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class ImportReport:
    """Per-section counts of one successful import (contacts are counted apart from customers)."""

    source: str
    users: SectionCounts
    products: SectionCounts
    customers: SectionCounts
    contacts: SectionCounts
    deals: SectionCounts
    orders: SectionCounts
    invoices: SectionCounts
    activities: SectionCounts
    tasks: SectionCounts

    def sections(self) -> dict[str, SectionCounts]:
        """Counts by section name, in import order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    @property
    def changed(self) -> bool:
        """Whether the import created or updated anything."""
        return any(c.created or c.updated for c in self.sections().values())

    def summary(self) -> str:
        """One line, e.g. `crm.json: users 4 (4 created); deals 9 (1 updated, 8 unchanged)`."""
        parts = [
            f"{name} {counts.total} ({_breakdown(counts)})"
            for name, counts in self.sections().items()
            if counts.total
        ]
        return f"{self.source}: {'; '.join(parts) if parts else 'no records'}"


def _breakdown(counts: SectionCounts) -> str:
    shown = [
        (counts.created, "created"),
        (counts.updated, "updated"),
        (counts.unchanged, "unchanged"),
    ]
    return ", ".join(f"{number} {label}" for number, label in shown if number)
