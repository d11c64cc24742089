"""What a draft says, per kind, and the hash that binds an approval to exactly that content."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any

from agents.specs import money
from storage.models.enums import DraftKind

# Invisible characters used to hide instructions or to make text read differently than it is:
# zero-width spaces/joiners, bidi embeddings, overrides and isolates, the BOM, word joiner.
_HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """Drop invisible control characters, so what a card shows is what would be sent."""
    return _HIDDEN.sub("", text).strip()


# Every kind has an editable subject and body; these are each kind's other facts.
EXTRA_FIELDS: dict[DraftKind, tuple[str, ...]] = {
    DraftKind.EMAIL: ("to_address", "to_name"),
    DraftKind.NOTE: (),
    DraftKind.TASK: ("due_date",),
    DraftKind.ORDER: ("lines", "total"),
    DraftKind.CUSTOMER_NOTES: (),
}


def content_hash(kind: DraftKind, payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of kind + content: what the approver saw, bit for bit."""
    canonical = json.dumps(
        {"kind": kind.value, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_text(payload: dict[str, Any], *, subject: str | None, body: str | None) -> dict[str, Any]:
    """A copy of `payload` with a new subject and/or body (None keeps the old one)."""
    updated = dict(payload)
    if subject is not None:
        updated["subject"] = subject.strip()
    if body is not None:
        updated["body"] = body.strip()
    return updated


def display_fields(kind: DraftKind, payload: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The kind-specific facts a card shows next to subject and body."""
    if kind == DraftKind.EMAIL:
        name = payload.get("to_name")
        address = payload.get("to_address", "?")
        return (("To", f"{name} <{address}>" if name else address),)
    if kind == DraftKind.TASK:
        return (("Due", payload.get("due_date") or "no due date"),)
    if kind == DraftKind.ORDER:
        lines = "\n".join(
            f"{line['quantity']} × {line['sku']} {line['name']} @ {money(line['unit_price'])}"
            for line in payload.get("lines", [])
        )
        return (("Lines", lines or "none"), ("Total", money(payload.get("total", "0"))))
    return ()


def diff_text(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """A unified diff of subject and body between two versions; None when they are the same."""

    def lines(payload: dict[str, Any]) -> list[str]:
        return [
            f"Subject: {payload.get('subject', '')}",
            *str(payload.get("body", "")).splitlines(),
        ]

    diff = list(difflib.unified_diff(lines(before), lines(after), "model", "approved", lineterm=""))
    return "\n".join(diff) if diff else None
