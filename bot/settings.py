"""The one settings object: built and validated once in main(), then passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.drafts.email import SmtpSettings
from agents.drafts.settings import DraftSettings
from agents.metering.settings import CostSettings
from agents.privacy.settings import PrivacySettings
from agents.settings import AgentSettings
from agents.suggestions.settings import SuggestionSettings
from bot.observability.settings import ObservabilitySettings

# Re-exported: bot.settings stays the one place to import any settings class from.
from bot.slack_settings import AccessSettings as AccessSettings
from bot.slack_settings import SlackSettings as SlackSettings
from storage.settings import StorageSettings

_ENV = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


class RuntimeSettings(BaseSettings):
    """How this process runs."""

    model_config = _ENV

    workers: int = Field(
        default=4,
        ge=1,
        le=64,
        validation_alias=AliasChoices("COUNTERSIGN_WORKERS"),
        description="Threads of the in-process job runner.",
    )
    http_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        validation_alias=AliasChoices("COUNTERSIGN_HTTP_THREADS"),
        description="Threads serving HTTP requests.",
    )
    http_connection_limit: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        validation_alias=AliasChoices("COUNTERSIGN_HTTP_CONNECTION_LIMIT"),
        description="Open HTTP connections one web process accepts (waitress's default of 100 "
        "counts idle keep-alives and refused new ones under load: bench/load.py).",
    )
    dedup_ttl_seconds: int = Field(
        default=3600,
        ge=600,
        validation_alias=AliasChoices("COUNTERSIGN_DEDUP_TTL_SECONDS"),
        description="How long a Slack delivery id is remembered (Slack retries for ~1 h).",
    )
    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices("COUNTERSIGN_LOG_LEVEL"),
        description="Python logging level.",
    )


class DigestSettings(BaseSettings):
    """Where cost news goes: the daily digest and budget alerts."""

    model_config = _ENV

    admin_channel: str | None = Field(
        default=None,
        validation_alias=AliasChoices("COUNTERSIGN_ADMIN_CHANNEL"),
        description="Channel id for the daily cost digest and budget alerts (unset: neither "
        "is posted; /ai-cost still works).",
    )
    digest_time: str = Field(
        default="08:30",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        validation_alias=AliasChoices("COUNTERSIGN_DIGEST_TIME"),
        description="Local time (HH:MM, in each org's timezone) to post yesterday's digest.",
    )


JobEngine = Literal["inprocess", "procrastinate"]


class JobSettings(BaseSettings):
    """Where background jobs and periodic tasks run (see `engine_for`)."""

    model_config = _ENV

    engine: Literal["auto", "inprocess", "procrastinate"] = Field(
        default="auto",
        validation_alias=AliasChoices("COUNTERSIGN_JOBS"),
        description="auto: procrastinate when DATABASE_URL is PostgreSQL (jobs run in "
        "`countersign worker`), else in-process (jobs run inside `countersign serve`).",
    )
    heartbeat_seconds: float = Field(
        default=10,
        gt=0,
        validation_alias=AliasChoices("COUNTERSIGN_JOBS_HEARTBEAT_SECONDS"),
        description="How often a worker tells the database it is alive.",
    )
    stalled_seconds: float = Field(
        default=30,
        gt=0,
        validation_alias=AliasChoices("COUNTERSIGN_JOBS_STALLED_SECONDS"),
        description="A worker silent this long is dead: its running jobs are queued again.",
    )
    stalled_check_seconds: int = Field(
        default=60,
        ge=1,
        validation_alias=AliasChoices("COUNTERSIGN_JOBS_STALLED_CHECK_SECONDS"),
        description="How often a worker looks for the jobs of dead workers.",
    )
    suggestion_scan_seconds: int = Field(
        default=3600,
        ge=1,
        validation_alias=AliasChoices("COUNTERSIGN_SUGGEST_SCAN_SECONDS"),
        description="Period of the suggestion scan.",
    )
    retention_purge_seconds: int = Field(
        default=86400,
        ge=1,
        validation_alias=AliasChoices("COUNTERSIGN_RETENTION_PURGE_SECONDS"),
        description="Period of the retention purge.",
    )

    @model_validator(mode="after")
    def _heartbeat_before_stall(self) -> JobSettings:
        # A live worker must beat several times before it could be taken for dead, or its
        # jobs would run twice.
        if self.stalled_seconds < 3 * self.heartbeat_seconds:
            raise ValueError(
                "COUNTERSIGN_JOBS_STALLED_SECONDS must be at least three heartbeats "
                "(COUNTERSIGN_JOBS_HEARTBEAT_SECONDS)"
            )
        return self

    def engine_for(self, database_url: str) -> JobEngine:
        """The engine for this database: procrastinate needs PostgreSQL."""
        postgres = database_url.startswith("postgresql")
        if self.engine == "auto":
            return "procrastinate" if postgres else "inprocess"
        if self.engine == "procrastinate" and not postgres:
            raise SettingsError("COUNTERSIGN_JOBS=procrastinate needs DATABASE_URL on PostgreSQL")
        return self.engine


class RetentionSettings(BaseSettings):
    """How long conversations and draft contents are kept (bot/retention_jobs.py)."""

    model_config = _ENV

    days: int = Field(
        default=90,
        ge=1,
        validation_alias=AliasChoices("COUNTERSIGN_RETENTION_DAYS"),
        description="Conversation messages older than this are deleted; finished drafts last "
        "changed before it are anonymised; finished job-engine jobs are deleted.",
    )
    batch_size: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("COUNTERSIGN_RETENTION_BATCH"),
        description="Rows per purge transaction (short transactions, short locks).",
    )


class Settings(BaseModel):
    """Every section, each reading its own environment variables."""

    slack: SlackSettings
    agents: AgentSettings
    storage: StorageSettings
    runtime: RuntimeSettings
    drafts: DraftSettings = Field(default_factory=DraftSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    suggest: SuggestionSettings = Field(default_factory=SuggestionSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @classmethod
    def load(cls) -> Settings:
        """Read the environment (and .env); a bad value raises SettingsError naming it."""
        try:
            return cls(
                slack=SlackSettings(),
                agents=AgentSettings(),
                storage=StorageSettings(),
                runtime=RuntimeSettings(),
                drafts=DraftSettings(),
                smtp=SmtpSettings(),
                cost=CostSettings(),
                digest=DigestSettings(),
                jobs=JobSettings(),
                suggest=SuggestionSettings(),
                privacy=PrivacySettings(),
                retention=RetentionSettings(),
                access=AccessSettings(),
                observability=ObservabilitySettings(),
            )
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    def require_slack_auth(self, *names: str) -> None:
        """Like `require`, plus a way to call Slack: one bot token, or OAuth installs."""
        missing = [name for name in names if _lookup(self, name) in (None, "")]
        if self.slack.bot_token is None and not self.slack.multi_workspace:
            missing.append(
                "SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                "COUNTERSIGN_TOKEN_KEYS (OAuth installs)"
            )
        if missing:
            raise SettingsError(f"missing required setting(s): {', '.join(missing)}")

    def require(self, *names: str) -> None:
        """Fail with the names of required settings that are unset (e.g. 'SLACK_BOT_TOKEN')."""
        missing = [name for name in names if _lookup(self, name) in (None, "")]
        if missing:
            raise SettingsError(f"missing required setting(s): {', '.join(missing)}")


_ENV_NAMES = {
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
}


def _lookup(settings: Settings, env_name: str) -> object:
    section, field = _ENV_NAMES[env_name]
    return getattr(getattr(settings, section), field)


def _describe(exc: ValidationError) -> str:
    # Name the environment variable (the alias), never echo the value: it may be a secret.
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return "invalid setting " + "; ".join(parts)
