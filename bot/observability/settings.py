"""Settings of the process's operator-facing outputs: log format and the worker's metrics port."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    """How logs are written and where a worker serves /metrics and /readyz."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias=AliasChoices("COUNTERSIGN_LOG_FORMAT"),
        description="text: one readable line per record (a terminal); json: one JSON object "
        "per line with request_id (production log collectors).",
    )
    metrics_host: str = Field(
        default="0.0.0.0",
        validation_alias=AliasChoices("COUNTERSIGN_METRICS_HOST"),
        description="Address `countersign worker` serves /metrics, /healthz and /readyz on.",
    )
    metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("COUNTERSIGN_METRICS_PORT"),
        description="Port of the worker's /metrics, /healthz and /readyz (0: not served). "
        "The web process serves them on its own HTTP port.",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        validation_alias=AliasChoices("COUNTERSIGN_READYZ_TIMEOUT_SECONDS"),
        description="How long each /readyz check (database, Redis, job engine) may take.",
    )
