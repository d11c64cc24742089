"""How the bot reaches Slack (one bot token or OAuth installs, signing secrets) and where it
may speak (allowlists). Part of the one settings object (bot/settings.py)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ENV = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)


class SlackSettings(BaseSettings):
    """How the bot talks to Slack."""

    model_config = _ENV

    bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN"),
        description="xoxb- token of a single-workspace install.",
    )
    signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET"),
        description="Verifies that HTTP requests come from Slack.",
    )
    signing_secret_previous: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET_PREVIOUS"),
        description="During a signing-secret rotation, the old secret: requests signed with "
        "either are accepted. Remove it once Slack signs with the new one.",
    )
    app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN"),
        description="xapp- token with connections:write, for Socket Mode.",
    )
    client_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_CLIENT_ID"),
        description="OAuth client id (multi-workspace installs).",
    )
    client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_CLIENT_SECRET"),
        description="OAuth client secret (multi-workspace installs).",
    )
    token_keys: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("COUNTERSIGN_TOKEN_KEYS"),
        description="Comma-separated Fernet keys that encrypt installed workspaces' tokens "
        "at rest, newest first (the first encrypts, all decrypt). Required with SLACK_CLIENT_ID.",
    )
    api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("SLACK_API_URL"),
        description="Web API base URL (GovSlack, or a local emulator in tests and the demo).",
    )

    def api_base(self) -> str:
        """The base URL with the trailing slash slack_sdk expects."""
        return self.api_url if self.api_url.endswith("/") else self.api_url + "/"

    @property
    def multi_workspace(self) -> bool:
        """OAuth installs (any number of workspaces) rather than one SLACK_BOT_TOKEN."""
        return self.client_id is not None

    def signing_secrets(self) -> list[str]:
        """Every secret a request may be signed with, current first."""
        secrets = (self.signing_secret, self.signing_secret_previous)
        return [s.get_secret_value() for s in secrets if s and s.get_secret_value()]

    def token_key_list(self) -> list[str]:
        keys = self.token_keys.get_secret_value() if self.token_keys else ""
        return [key.strip() for key in keys.split(",") if key.strip()]

    @model_validator(mode="after")
    def _one_install_mode(self) -> SlackSettings:
        # Bolt takes a token or OAuth settings, never both; OAuth needs all three pieces.
        if self.client_id is None:
            return self
        if self.bot_token is not None:
            raise ValueError(
                "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID (OAuth), not both"
            )
        if self.client_secret is None:
            raise ValueError("SLACK_CLIENT_ID needs SLACK_CLIENT_SECRET")
        if not self.token_key_list():
            raise ValueError("SLACK_CLIENT_ID needs COUNTERSIGN_TOKEN_KEYS to encrypt tokens")
        for number, key in enumerate(self.token_key_list(), start=1):
            try:
                Fernet(key.encode())
            except ValueError:
                # Name the position, never the value.
                raise ValueError(
                    f"COUNTERSIGN_TOKEN_KEYS: key {number} is not a Fernet key "
                    "(generate one with `countersign token-key`)"
                ) from None
        return self


class AccessSettings(BaseSettings):
    """Who may ask the bot, and where (per-channel settings: `/ai-channel`)."""

    model_config = _ENV

    allowed_channels: str = Field(
        default="",
        validation_alias=AliasChoices("COUNTERSIGN_ALLOWED_CHANNELS"),
        description="Comma-separated channel ids the bot answers in (empty: every channel it "
        "is in). DMs with the bot are governed by COUNTERSIGN_ALLOWED_USERS only.",
    )
    allowed_users: str = Field(
        default="",
        validation_alias=AliasChoices("COUNTERSIGN_ALLOWED_USERS"),
        description="Comma-separated Slack user ids who may ask the bot (empty: everyone). "
        "Approving drafts is still decided by CRM role.",
    )

    def channels(self) -> frozenset[str]:
        return _ids(self.allowed_channels)

    def users(self) -> frozenset[str]:
        return _ids(self.allowed_users)


def _ids(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())
