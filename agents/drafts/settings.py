"""Settings of the approval flow: how long a draft waits, and who may approve what."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.drafts.policy import ApprovalPolicy, KindPolicy
from storage.models.enums import DraftKind


class DraftSettings(BaseSettings):
    """COUNTERSIGN_DRAFT_* settings."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    ttl_hours: float = Field(
        default=72,
        gt=0,
        validation_alias=AliasChoices("COUNTERSIGN_DRAFT_TTL_HOURS"),
        description="A draft nobody decided on expires after this many hours.",
    )
    sweep_seconds: float = Field(
        default=300,
        ge=5,
        validation_alias=AliasChoices("COUNTERSIGN_DRAFT_SWEEP_SECONDS"),
        description="How often a serving process expires overdue drafts and updates their cards.",
    )
    approval_policy: dict[DraftKind, KindPolicy] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("COUNTERSIGN_APPROVAL_POLICY"),
        description='Per-kind overrides as JSON, e.g. {"email": {"approvers": "owner_manager", '
        '"self_approve": false}}. Approvers: owner_manager, any_manager, admin.',
    )

    def policy(self) -> ApprovalPolicy:
        """The effective policy: defaults with these overrides."""
        return ApprovalPolicy(self.approval_policy)
