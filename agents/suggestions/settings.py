"""COUNTERSIGN_SUGGEST_* settings: rule thresholds and how reps are nudged."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.repositories.suggestion_rules import Thresholds


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"COUNTERSIGN_SUGGEST_{name}")


class SuggestionSettings(BaseSettings):
    """When a rule fires, and when and how often a rep hears about it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    silent_days: int = Field(
        default=7,
        ge=1,
        validation_alias=_env("SILENT_DAYS"),
        description="An active customer with no activity for this many days is 'silent'.",
    )
    stale_deal_days: int = Field(
        default=14,
        ge=1,
        validation_alias=_env("STALE_DEAL_DAYS"),
        description="An open deal in the same stage this long is 'stuck'.",
    )
    upsell_window_days: int = Field(
        default=30,
        ge=1,
        validation_alias=_env("UPSELL_WINDOW_DAYS"),
        description="A won deal or a good meeting this recent suggests an upsell.",
    )
    dismiss_quiet_days: int = Field(
        default=30,
        ge=1,
        validation_alias=_env("DISMISS_QUIET_DAYS"),
        description="A dismissed suggestion stays away this long.",
    )
    nudge_top: int = Field(
        default=3,
        ge=1,
        le=10,
        validation_alias=_env("NUDGE_TOP"),
        description="Suggestions per nudge message (a rep's highest-scored open ones).",
    )
    work_start_hour: int = Field(
        default=9,
        ge=0,
        le=23,
        validation_alias=_env("WORK_START_HOUR"),
        description="Nudges go out from this hour, in each rep's own timezone …",
    )
    work_end_hour: int = Field(
        default=17,
        ge=1,
        le=24,
        validation_alias=_env("WORK_END_HOUR"),
        description="… until this hour, Monday to Friday.",
    )
    nudge_channel: str | None = Field(
        default=None,
        validation_alias=_env("NUDGE_CHANNEL"),
        description="Post every rep's nudge in this channel (mentioning them) instead of a DM.",
    )
    channel_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias=_env("CHANNEL_INTERVAL_SECONDS"),
        description="At most one nudge per this many seconds into any one channel "
        "(Slack's posting limit), across every worker.",
    )

    @model_validator(mode="after")
    def _hours_in_order(self) -> SuggestionSettings:
        if self.work_start_hour >= self.work_end_hour:
            raise ValueError(
                "COUNTERSIGN_SUGGEST_WORK_START_HOUR must be before "
                "COUNTERSIGN_SUGGEST_WORK_END_HOUR"
            )
        return self

    def thresholds(self) -> Thresholds:
        """The storage rules' thresholds from these settings (the rest at their defaults)."""
        return Thresholds(
            silent_days=self.silent_days,
            stale_deal_days=self.stale_deal_days,
            upsell_window_days=self.upsell_window_days,
            dismiss_quiet_days=self.dismiss_quiet_days,
        )
