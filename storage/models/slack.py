"""Slack installations (OAuth), per-channel settings.

The installation tables are slack_sdk's own (`SQLAlchemyInstallationStore` and
`SQLAlchemyOAuthStateStore` query them), declared here so Alembic creates and checks them. Their
token columns are wider than slack_sdk's 200 characters because we store tokens encrypted
(storage/slack_installs.py): a Fernet token is about 1.4 × the plaintext plus 77 characters.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped, json_list
from storage.types import utcnow

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"
TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
ENCRYPTED_TOKEN_LENGTH = 600


def _widen_tokens(table: Table) -> Table:
    for name in TOKEN_COLUMNS:
        if name in table.c:
            table.c[name].type = String(ENCRYPTED_TOKEN_LENGTH)
    return table


slack_installations = _widen_tokens(
    SQLAlchemyInstallationStore.build_installations_table(Base.metadata, INSTALLATIONS_TABLE)
)
slack_bots = _widen_tokens(SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE))
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, OAUTH_STATES_TABLE
)


class ChannelSetting(Timestamped, Base):
    """How the bot behaves in one channel of an org; no row means the defaults."""

    __tablename__ = "channel_setting"
    __table_args__ = (UniqueConstraint("org_id", "slack_channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    slack_channel_id: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Specialists the channel may use; None means every one.
    specialists: Mapped[list[str] | None] = mapped_column(json_list(), nullable=True)
    # Answer replies in threads the bot started without a new @mention.
    follow_ups: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
