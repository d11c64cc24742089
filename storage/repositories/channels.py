"""Per-channel settings: where the bot speaks and what it does there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ChannelSetting
from storage.repositories.upsert import insert_ignoring_conflict
from storage.types import utcnow


class ChannelSettingsRepository:
    """One row per (org, channel) an admin configured; no row means the defaults."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, org_id: int, slack_channel_id: str) -> ChannelSetting | None:
        return self.session.scalar(
            select(ChannelSetting).where(
                ChannelSetting.org_id == org_id, ChannelSetting.slack_channel_id == slack_channel_id
            )
        )

    def update(
        self, org_id: int, slack_channel_id: str, *, by: str, **changes: Any
    ) -> ChannelSetting:
        """Change some settings of a channel, creating its row on first change."""
        insert_ignoring_conflict(
            self.session,
            ChannelSetting,
            {"org_id": org_id, "slack_channel_id": slack_channel_id, "specialists": None},
            conflict_columns=["org_id", "slack_channel_id"],
        )
        setting = self.get(org_id, slack_channel_id)
        assert setting is not None  # inserted by us or by a racer
        for name, value in changes.items():
            setattr(setting, name, value)
        setting.updated_by = by
        setting.updated_at = utcnow()
        return setting
