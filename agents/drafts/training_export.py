"""`countersign export-training`: approved drafts with their edits, one JSON object per line.

Each line holds how the draft was made (kind, agent, prompt version, model) and two texts: the
model's first version and the version a person approved, so a model can learn from the edits.
PII is replaced by placeholders with a fresh vault per draft (the same address is the same
`<EMAIL_1>` in both versions of one draft) that is thrown away: nothing maps them back. Names
in free text are not PII the redactor can find; the recipient's name field is dropped."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.privacy.redactor import Redactor, Vault, map_strings
from storage.repositories.training import ApprovedDraft, TrainingRepository
from storage.uow import UnitOfWork

PAGE = 500
# Fields that name a person outright: no pattern finds a name, so they are left out.
_DROPPED = frozenset({"to_name"})


def export_training(
    factory: sessionmaker[Session],
    org_id: int,
    path: Path,
    *,
    redactor: Redactor,
    since: datetime | None = None,
) -> int:
    """Write the org's approved drafts (created at or after `since`) to `path` as JSONL; the
    number written. The file appears whole or not at all (written beside it, then renamed)."""
    count = 0
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", text=True)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for approved in _approved(factory, org_id, since):
                out.write(json.dumps(training_record(approved, redactor), ensure_ascii=False))
                out.write("\n")
                count += 1
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def training_record(approved: ApprovedDraft, redactor: Redactor) -> dict[str, Any]:
    """One line of the export: provenance, and the first and approved content, redacted."""
    draft, vault = approved.draft, Vault()
    first = _content(approved.first_payload, redactor, vault)
    final = _content(draft.payload, redactor, vault)
    return {
        "draft_id": draft.id,
        "kind": draft.kind.value,
        "agent": draft.agent,
        "prompt_version": draft.prompt_version,
        "model": draft.model,
        "status": draft.status.value,
        "created_at": draft.created_at.isoformat(),
        "approved_at": draft.decided_at.isoformat() if draft.decided_at else None,
        "versions": draft.version,
        "edited": first != final,
        "first": first,
        "final": final,
    }


def _content(payload: dict[str, Any], redactor: Redactor, vault: Vault) -> dict[str, Any]:
    kept = {key: value for key, value in payload.items() if key not in _DROPPED}
    redacted: dict[str, Any] = map_strings(kept, lambda text: redactor.redact(text, vault))
    return redacted


def _approved(
    factory: sessionmaker[Session], org_id: int, since: datetime | None
) -> Iterator[ApprovedDraft]:
    after_id = 0
    while True:
        with UnitOfWork(factory) as uow:
            page = TrainingRepository(uow.session).approved_drafts(
                org_id, since=since, after_id=after_id, limit=PAGE
            )
        yield from page
        if len(page) < PAGE:
            return
        after_id = page[-1].draft.id
