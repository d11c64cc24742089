"""PII redaction: placeholders for the model, scrubbed logs and exports."""

from agents.privacy.llm import RedactingLLM
from agents.privacy.logs import RedactingFilter, install_log_redaction
from agents.privacy.patterns import PatternError
from agents.privacy.redactor import Redactor, Vault
from agents.privacy.settings import PrivacySettings

__all__ = [
    "PatternError",
    "PrivacySettings",
    "RedactingFilter",
    "RedactingLLM",
    "Redactor",
    "Vault",
    "install_log_redaction",
]
