"""What a draft says, per kind, and the hash that binds an approval to exactly that content."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from typing import Any

from agents.specs import money
from storage.models.enums import DraftKind

# Invisible characters that hide instructions or make text read differently than it is:
# every format character (category Cf: zero-width, bidi controls, tag characters, soft hyphen),
# variation selectors, and the blank fillers U+034F, U+115F, U+1160, U+3164, U+FFA0.
_INVISIBLE_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0}
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def _visible(char: str) -> bool:
    code = ord(char)
    if unicodedata.category(char) == "Cf" or code in _INVISIBLE:
        return False
    return not any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def clean_text(text: str) -> str:
    """What a card shows is what would be sent: invisible characters dropped, every kind of
    line break made a plain newline."""
    text = _LINE_BREAKS.sub("\n", text)
    return "".join(char for char in text if _visible(char)).strip()


def one_line(text: str) -> str:
    """A subject or title: cleaned, all whitespace runs (line breaks included) made one space."""
    return " ".join(clean_text(text).split())


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
        updated["subject"] = one_line(subject)
    if body is not None:
        updated["body"] = clean_text(body)
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
