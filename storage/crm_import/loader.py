"""Import a CRM export into one org: validate everything, then write it all in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from storage.crm_import.checks import (
    find_duplicates,
    find_slack_id_conflicts,
    find_unknown_references,
)
from storage.crm_import.known import load_known
from storage.crm_import.parse import parse_document, read_json_file
from storage.crm_import.problems import CrmImportError, in_report_order
from storage.crm_import.report import ImportReport
from storage.crm_import.writer import write_document
from storage.models import Org
from storage.repositories.crm_writes import CrmWriteRepository
from storage.uow import UnitOfWork


def import_crm_file(factory: sessionmaker[Session], *, org_id: int, path: Path) -> ImportReport:
    """Import the JSON file at `path` into the org; see `import_crm_document`."""
    document = read_json_file(path)
    return import_crm_document(factory, org_id=org_id, document=document, source=path.name)


def import_crm_document(
    factory: sessionmaker[Session],
    *,
    org_id: int,
    document: Mapping[str, Any],
    source: str = "<document>",
) -> ImportReport:
    """Upsert every record of a decoded import document into the org, all or nothing.

    Records are matched by natural key (email, external id, SKU, content hash), so
    importing the same document again changes nothing. Any problem — schema, duplicate,
    unknown reference — raises CrmImportError listing all of them, and nothing is written;
    a database error part-way also rolls back the whole document.
    """
    parsed = parse_document(document, source=source)
    with UnitOfWork(factory) as uow:
        if uow.session.get(Org, org_id) is None:
            raise ValueError(f"no org with id {org_id}")
        known = load_known(CrmWriteRepository(uow.session), org_id=org_id, parsed=parsed)
        problems = [
            *parsed.problems,
            *find_duplicates(parsed),
            *find_unknown_references(parsed, known),
            *find_slack_id_conflicts(parsed, known),
        ]
        if problems:
            raise CrmImportError(in_report_order(problems))
        report = write_document(uow.session, org_id=org_id, parsed=parsed, known=known)
        uow.commit()
    return report
