"""In-memory state of the emulated Slack workspace: users, channels, messages, files, views."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "U_BOT"
BOT_ID = "B_BOT"
BOT_NAME = "countersign"
# Fixed epoch so transcripts and ts values are reproducible from run to run.
_TS_EPOCH_MICROS = 1_700_000_000 * 1_000_000
_TS_STEP_MICROS = 100


class SlackError(Exception):
    """A Web API method failed; `error` is the Slack error code put in the response."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class SlackUser:
    """A member of the workspace."""

    id: str
    name: str
    email: str
    team_id: str
    tz: str = "America/New_York"
    is_admin: bool = False
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        """The `user` object as users.info returns it."""
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.name,
            "deleted": False,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": self.name,
                "display_name": self.name,
                "email": self.email,
                "team": self.team_id,
            },
        }


@dataclass
class Channel:
    """A public channel or a direct-message conversation (`is_im`)."""

    id: str
    name: str
    is_im: bool = False
    user: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The `channel` object as conversations.info returns it."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_im,
            "is_im": self.is_im,
            "is_private": self.is_im,
            "is_member": True,
            "is_archived": False,
        }
        if self.user is not None:
            data["user"] = self.user
        return data


@dataclass
class PostedMessage:
    """One message as it stands now (after edits and streaming)."""

    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    edited: bool = False
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    streaming: bool = False
    ephemeral_to: str | None = None

    @property
    def is_bot(self) -> bool:
        """True when the bot posted it."""
        return self.bot_id is not None

    def to_api(self, team_id: str) -> dict[str, Any]:
        """The message object as Slack returns it from chat.* and conversations.replies."""
        data: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "text": self.text,
            "team": team_id,
        }
        if self.user is not None:
            data["user"] = self.user
        if self.bot_id is not None:
            data["bot_id"] = self.bot_id
        optional = {
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "metadata": self.metadata,
            "files": self.files,
        }
        data.update({key: value for key, value in optional.items() if value})
        if self.edited:
            data["edited"] = {"user": self.user or BOT_USER_ID, "ts": self.ts}
        if self.reactions:
            data["reactions"] = [{"name": name, "count": 1} for name in self.reactions]
        return data


@dataclass(frozen=True)
class UploadedFile:
    """A file shared through files.getUploadURLExternal + completeUploadExternal."""

    id: str
    name: str
    title: str
    size: int
    channel: str | None
    thread_ts: str | None
    content: bytes


@dataclass
class PendingUpload:
    """A file whose upload URL was handed out but not completed yet."""

    id: str
    name: str
    length: int
    content: bytes | None = None


class Workspace:
    """All mutable state of one emulated workspace. Callers hold the emulator's lock."""

    def __init__(self, team_id: str, team_name: str) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.users: dict[str, SlackUser] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[PostedMessage]] = {}
        self.ephemerals: list[PostedMessage] = []
        self.pending_uploads: dict[str, PendingUpload] = {}
        self.files: list[UploadedFile] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.assistant_threads: dict[tuple[str, str], dict[str, Any]] = {}
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self.add_user(BOT_USER_ID, BOT_NAME, "bot@countersign.invalid", is_bot=True)

    def next_ts(self) -> str:
        """A fresh, strictly increasing message timestamp like "1700000000.000100"."""
        micros = _TS_EPOCH_MICROS + next(self._ts_counter) * _TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        """A fresh object id such as "F00000001" or "V00000002"."""
        return f"{prefix}{next(self._id_counter):08d}"

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str,
        *,
        tz: str = "America/New_York",
        is_admin: bool = False,
        is_bot: bool = False,
    ) -> SlackUser:
        """Add (or replace) a member of the workspace."""
        user = SlackUser(user_id, name, email, self.team_id, tz, is_admin, is_bot)
        self.users[user_id] = user
        return user

    def user(self, user_id: str) -> SlackUser:
        """Look up a user or fail with Slack's `user_not_found`."""
        if user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def add_channel(self, channel_id: str, name: str, *, is_im: bool = False) -> Channel:
        """Add (or replace) a conversation."""
        channel = Channel(channel_id, name, is_im=is_im)
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def channel(self, channel_id: str) -> Channel:
        """Look up a conversation or fail with `channel_not_found`."""
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return self.channels[channel_id]

    def ensure_channel(self, channel_id: str) -> Channel:
        """Get a conversation, creating it on first use so tests need no setup for posts."""
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id not in self.channels:
            return self.add_channel(channel_id, channel_id.lower(), is_im=channel_id[0] == "D")
        return self.channels[channel_id]

    def open_dm(self, user_id: str) -> Channel:
        """The DM channel between the bot and `user_id`, created on first use."""
        self.user(user_id)
        for channel in self.channels.values():
            if channel.is_im and channel.user == user_id:
                return channel
        channel = self.add_channel("D" + user_id.removeprefix("U"), user_id, is_im=True)
        channel.user = user_id
        return channel

    def add_message(self, message: PostedMessage) -> PostedMessage:
        """Store a message in its channel (the channel is created if unknown)."""
        self.ensure_channel(message.channel)
        self.messages[message.channel].append(message)
        return message

    def message(self, channel_id: str, ts: str) -> PostedMessage:
        """Find a message or fail with `message_not_found`."""
        for message in self.messages.get(channel_id, []):
            if message.ts == ts:
                return message
        raise SlackError("message_not_found")

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Remove a message from its channel."""
        self.messages[channel_id].remove(self.message(channel_id, ts))

    def thread(self, channel_id: str, thread_ts: str) -> list[PostedMessage]:
        """The thread's parent (when known) followed by its replies, oldest first."""
        in_thread = [
            message
            for message in self.messages.get(channel_id, [])
            if message.ts == thread_ts or message.thread_ts == thread_ts
        ]
        return sorted(in_thread, key=lambda message: ts_key(message.ts))


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack timestamps ("seconds.micros"), exact where floats are not."""
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros.ljust(6, "0")[:6] or 0)
