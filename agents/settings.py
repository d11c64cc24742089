"""Settings for the model side: credentials, models and the limits of every tool loop."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.models.enums import Role


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class AgentSettings(BaseSettings):
    """Which models run, how hard the SDK retries, and how far one request may go."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("ANTHROPIC_API_KEY"),
        description="Anthropic API key. Unset: the offline adapter (rules + templates, $0).",
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=_env("ANTHROPIC_BASE_URL"),
        description="Messages API base URL (a proxy, or a local fake in tests).",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        validation_alias=_env("COUNTERSIGN_ANTHROPIC_MAX_RETRIES"),
        description="Retries the Anthropic SDK makes on 429/5xx/timeouts before giving up.",
    )
    timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias=_env("COUNTERSIGN_ANTHROPIC_TIMEOUT_SECONDS"),
        description="Per-request timeout for model calls.",
    )
    offline: bool = Field(
        default=False,
        validation_alias=_env("COUNTERSIGN_OFFLINE"),
        description="Force the offline adapter even when an API key is set.",
    )
    stream_replies: bool = Field(
        default=True,
        validation_alias=_env("COUNTERSIGN_STREAM_REPLIES"),
        description="Stream model answers into Slack as they are written (chat streaming, "
        "falling back to updating a placeholder message).",
    )
    triage_model: str = Field(
        default="claude-haiku-5-5",
        validation_alias=_env("COUNTERSIGN_TRIAGE_MODEL"),
        description="Small model used for routing when the local rules are unsure.",
    )
    specialist_model: str = Field(
        default="claude-sonnet-5-5",
        validation_alias=_env("COUNTERSIGN_SPECIALIST_MODEL"),
        description="Model the specialists run their tool loops on.",
    )
    max_turns: int = Field(
        default=6,
        ge=1,
        le=20,
        validation_alias=_env("COUNTERSIGN_MAX_TURNS"),
        description="Model calls one specialist run may make.",
    )
    max_output_tokens: int = Field(
        default=1024,
        ge=64,
        validation_alias=_env("COUNTERSIGN_MAX_OUTPUT_TOKENS"),
        description="max_tokens of each specialist model call.",
    )
    max_run_tokens: int = Field(
        default=40_000,
        ge=1_000,
        validation_alias=_env("COUNTERSIGN_MAX_RUN_TOKENS"),
        description="Total input+output tokens one specialist run may spend before it stops.",
    )
    max_request_cost_usd: Decimal = Field(
        default=Decimal("0.50"),
        gt=0,
        validation_alias=_env("COUNTERSIGN_MAX_REQUEST_COST_USD"),
        description="Model cost one request may reach before its run stops (checked after each "
        "call, so it can be passed by at most one call).",
    )
    tools_off: dict[str, list[str]] = Field(
        default_factory=dict,
        validation_alias=_env("COUNTERSIGN_TOOLS_OFF"),
        description='Feature flags: tools switched off, per Slack team id or "*" for every '
        'org, as JSON, e.g. {"*": ["configure_system"], "T0123": ["list_overdue_invoices"]}.',
    )
    tool_roles: dict[str, Role] = Field(
        default_factory=dict,
        validation_alias=_env("COUNTERSIGN_TOOL_ROLES"),
        description="Role a tool needs (rep < manager < admin) as JSON, e.g. "
        '{"list_overdue_invoices": "manager"}; tools not named need rep.',
    )
    history_turns: int = Field(
        default=20,
        ge=0,
        validation_alias=_env("COUNTERSIGN_HISTORY_TURNS"),
        description="Earlier turns of the thread given to the model.",
    )
    history_tokens: int = Field(
        default=6_000,
        ge=0,
        validation_alias=_env("COUNTERSIGN_HISTORY_TOKENS"),
        description="Token budget of the thread history sent with a question: the newest "
        "exchanges that fit are kept, the oldest dropped.",
    )
    working_memory_seconds: int = Field(
        default=3_600,
        ge=0,
        validation_alias=_env("COUNTERSIGN_WORKING_MEMORY_SECONDS"),
        description="How long a thread remembers what its runs looked at (Redis, or "
        "in-process embedded); 0 switches working memory off.",
    )
    max_question_chars: int = Field(
        default=8_000,
        ge=100,
        validation_alias=_env("COUNTERSIGN_MAX_QUESTION_CHARS"),
        description="Longer questions are refused, naming the limit, before triage or any "
        "model call. The default is far above a typed question and above the longest "
        "request the bot builds itself (a shortcut quotes at most ~6,300 characters of a "
        "thread); Slack allows 40,000 per message.",
    )

    @property
    def uses_model(self) -> bool:
        """Whether a real model is configured (otherwise the offline adapter answers)."""
        return self.anthropic_api_key is not None and not self.offline
