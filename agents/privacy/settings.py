"""COUNTERSIGN_PII_* settings: whether the model sees PII, and the admin's extra patterns."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.privacy.patterns import PatternError, custom_patterns
from agents.privacy.redactor import Redactor


class PrivacySettings(BaseSettings):
    """PII redaction before the model and in the logs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    redaction: bool = Field(
        default=True,
        validation_alias=AliasChoices("COUNTERSIGN_PII_REDACTION"),
        description="Replace emails, phone and card numbers (and the patterns below) with "
        "placeholders before the model sees them and in the logs. Training exports are "
        "redacted either way.",
    )
    patterns: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("COUNTERSIGN_PII_PATTERNS"),
        description='Extra patterns as a JSON object name → regex, e.g. {"employee_id": '
        '"EMP-\\\\d{6}"}; each match becomes <EMPLOYEE_ID_n>.',
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: dict[str, str]) -> dict[str, str]:
        try:
            custom_patterns(patterns)
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return patterns

    def redactor(self) -> Redactor:
        """The built-in kinds plus the configured patterns."""
        return Redactor.with_patterns(self.patterns)

    def model_redactor(self) -> Redactor | None:
        """The redactor for model calls and logs; None when redaction is switched off."""
        return self.redactor() if self.redaction else None
