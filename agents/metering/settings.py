"""Settings for spending: default budgets, rate limits, caching, price overrides and how the
usage ledger is written."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LedgerWrite = Literal["direct", "stream"]
LedgerDrainMode = Literal["thread", "process", "off"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class CostSettings(BaseSettings):
    """What an org may spend by default (admins override per org with `/ai-cost budget set`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    prices_file: Path | None = Field(
        default=None,
        validation_alias=_env("COUNTERSIGN_PRICES_FILE"),
        description="JSON price overrides in the shape of agents/data/prices.json; "
        "its entries are added to the packaged catalog (same model and date: yours wins).",
    )
    org_daily_budget_usd: float = Field(
        default=100.0,
        ge=-1,
        validation_alias=_env("COUNTERSIGN_ORG_DAILY_BUDGET_USD"),
        description="Default org budget per day (-1 = unlimited).",
    )
    user_daily_budget_usd: float = Field(
        default=20.0,
        ge=-1,
        validation_alias=_env("COUNTERSIGN_USER_DAILY_BUDGET_USD"),
        description="Default budget per person per day (-1 = unlimited).",
    )
    monthly_quota_usd: float | None = Field(
        default=None,
        ge=-1,
        validation_alias=_env("COUNTERSIGN_MONTHLY_QUOTA_USD"),
        description="The org's monthly quota; unset: the cost-per-month limit of its plan.",
    )
    soft_limit_pct: int = Field(
        default=80,
        ge=1,
        le=100,
        validation_alias=_env("COUNTERSIGN_BUDGET_SOFT_PCT"),
        description="Default alert threshold, in percent of each budget.",
    )
    budget_fallback: bool = Field(
        default=True,
        validation_alias=_env("COUNTERSIGN_BUDGET_FALLBACK"),
        description="When Redis is down, count budgets in the database instead "
        "(false: refuse to spend until Redis is back).",
    )
    chat_per_minute: int = Field(
        default=20,
        ge=1,
        validation_alias=_env("COUNTERSIGN_RATE_CHAT_PER_MINUTE"),
        description="Questions per person per minute.",
    )
    agent_runs_per_hour: int = Field(
        default=5,
        ge=1,
        validation_alias=_env("COUNTERSIGN_RATE_AGENT_RUNS_PER_HOUR"),
        description="Background agent runs per person per hour.",
    )
    context_builds_per_minute: int = Field(
        default=10,
        ge=1,
        validation_alias=_env("COUNTERSIGN_RATE_CONTEXT_BUILDS_PER_MINUTE"),
        description="Full customer-context builds per person per minute.",
    )
    response_cache_seconds: int = Field(
        default=600,
        ge=0,
        validation_alias=_env("COUNTERSIGN_RESPONSE_CACHE_SECONDS"),
        description="How long an identical model request is answered from cache (0 = off).",
    )
    prompt_cache: Literal["5m", "1h", "off"] = Field(
        default="5m",
        validation_alias=_env("COUNTERSIGN_PROMPT_CACHE"),
        description="Anthropic prompt caching of system prompt and tools, and its lifetime.",
    )
    ledger_write: LedgerWrite | None = Field(
        default=None,
        validation_alias=_env("COUNTERSIGN_LEDGER_WRITE"),
        description="direct: each model call commits its ledger row before it returns. "
        "stream: the row goes to a Redis stream with the budget settle and a drain in every "
        "serving or working process writes it within about the drain interval. "
        "Unset: stream with Redis and PostgreSQL, direct otherwise.",
    )
    ledger_drain: LedgerDrainMode = Field(
        default="process",
        validation_alias=_env("COUNTERSIGN_LEDGER_DRAIN"),
        description="stream: where this process's drain runs. process: a child process of "
        "its own (the calls' p99 does not pay for the drain's work: bench/metering.py); "
        "thread: a thread beside the calls (one process less); off: this process does not "
        "drain, so another process sharing its Redis and database must.",
    )
    ledger_drain_interval_ms: int = Field(
        default=200,
        ge=10,
        le=400,  # a blocking read must end well inside the Redis client's 0.5 s timeout
        validation_alias=_env("COUNTERSIGN_LEDGER_DRAIN_INTERVAL_MS"),
        description="stream: the longest a drain waits before writing what arrived.",
    )
    ledger_drain_batch: int = Field(
        default=500,
        ge=1,
        le=5000,
        validation_alias=_env("COUNTERSIGN_LEDGER_DRAIN_BATCH"),
        description="stream: the most ledger rows a drain writes in one transaction.",
    )

    def ledger_mode(self, *, redis: bool, postgres: bool) -> LedgerWrite:
        """How ledger rows are written with this store (ValueError: stream without Redis)."""
        if self.ledger_write == "stream" and not redis:
            raise ValueError(
                "COUNTERSIGN_LEDGER_WRITE=stream needs REDIS_URL: the ledger stream lives in "
                "Redis (unset it, or set it to direct)"
            )
        if self.ledger_write is not None:
            return self.ledger_write
        return "stream" if redis and postgres else "direct"
