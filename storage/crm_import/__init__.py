"""Import a CRM export (the public JSON format in `schema`) into one org, atomically."""

from storage.crm_import.loader import import_crm_document, import_crm_file
from storage.crm_import.parse import parse_json_text
from storage.crm_import.problems import CrmImportError, Problem
from storage.crm_import.report import ImportReport, SectionCounts

__all__ = [
    "CrmImportError",
    "ImportReport",
    "Problem",
    "SectionCounts",
    "import_crm_document",
    "import_crm_file",
    "parse_json_text",
]
