"""Storage settings: where the database and the cache live."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ENV = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)
_SUPPORTED_SCHEMES = ("sqlite", "postgresql")


class StorageSettings(BaseSettings):
    """Database and cache locations. Unset means the embedded default (SQLite, in-process)."""

    model_config = _ENV

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL"),
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Unset: SQLite file.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL"),
        description="redis://host:port/db for dedup, locks and limits. Unset: in-process.",
    )
    data_dir: Path = Field(
        default=Path(".countersign"),
        validation_alias=AliasChoices("COUNTERSIGN_DATA_DIR"),
        description="Folder for the embedded SQLite database.",
    )
    echo_sql: bool = Field(
        default=False,
        validation_alias=AliasChoices("COUNTERSIGN_ECHO_SQL"),
        description="Log every SQL statement (debugging only).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in _SUPPORTED_SCHEMES:
            raise ValueError(f"must start with sqlite:// or postgresql+psycopg://, got {scheme!r}")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the only PostgreSQL driver we ship.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    def resolved_database_url(self) -> str:
        """The URL to connect to: DATABASE_URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'countersign.db').resolve()}"
