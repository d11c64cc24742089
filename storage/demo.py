"""The demo org's CRM: a marine equipment seller, with its dates moved up to "now".

The packaged file is written as of a fixed moment (`as_of`); seeding shifts every
timestamp by `now - as_of`, so the meeting "two days ago" is two days ago whenever the
demo runs, and the overdue invoice is always overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from storage.crm_import import ImportReport, import_crm_document, parse_json_text

DEMO_FILE = "demo_crm.json"
AS_OF = "as_of"


def load_demo_document() -> dict[str, Any]:
    """The packaged demo document as written, `as_of` included."""
    text = (files("storage") / "data" / DEMO_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = parse_json_text(text, source=DEMO_FILE)
    return document


def shift_to(document: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A copy without `as_of`, every `*_at` timestamp moved by `now - as_of`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    delta = now - datetime.fromisoformat(document[AS_OF])
    return {
        section: [_shift_record(record, delta) for record in records]
        for section, records in document.items()
        if section != AS_OF
    }


def _shift_record(record: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    # The import format names every timestamp `*_at`; nested contacts have none.
    return {
        key: (datetime.fromisoformat(value) + delta).isoformat()
        if key.endswith("_at") and isinstance(value, str)
        else value
        for key, value in record.items()
    }


def seed_demo(factory: sessionmaker[Session], *, org_id: int, now: datetime) -> ImportReport:
    """Import the demo CRM into the org as if `now` were its `as_of`; the same `now` twice
    changes nothing (a different `now` moves deal dates and adds activities and tasks
    again, since those are identified by their content, times included)."""
    document = shift_to(load_demo_document(), now=now)
    return import_crm_document(factory, org_id=org_id, document=document, source=DEMO_FILE)
