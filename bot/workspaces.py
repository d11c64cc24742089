"""The Slack Web API client for a workspace.

One workspace (SLACK_BOT_TOKEN): the same client for every team. OAuth installs: the team's
bot token from the installation store, decrypted, one client per team kept for a minute so a
job that posts ten messages reads the token once (and a revoked token stops being used within
a minute in every process; this process forgets it at once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry import RateLimitErrorRetryHandler, default_retry_handlers
from slack_sdk.oauth.installation_store import InstallationStore

from bot.settings import SlackSettings

CACHE_SECONDS = 60.0


class WorkspaceNotInstalled(Exception):
    """No installation (or no bot token) for this team: it never installed or it uninstalled."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"Countersign is not installed in workspace {team_id}")
        self.team_id = team_id


def web_client(settings: SlackSettings, token: str | None) -> WebClient:
    """A Web API client on the configured base URL; a 429 is retried after its Retry-After
    (nudges, digests, cards), a few times."""
    return WebClient(
        token=token,
        base_url=settings.api_base(),
        retry_handlers=[*default_retry_handlers(), RateLimitErrorRetryHandler(max_retry_count=5)],
    )


class SlackClients:
    """`for_team(team_id)`: the client that speaks for the bot in that workspace."""

    def __init__(
        self,
        settings: SlackSettings,
        installations: InstallationStore | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        token = settings.bot_token
        self.default = web_client(settings, token.get_secret_value() if token else None)
        self._settings = settings
        self._installations = installations
        self._clock = clock
        self._cache: dict[str, tuple[float, WebClient]] = {}
        self._lock = threading.Lock()

    @property
    def installations(self) -> InstallationStore | None:
        """The OAuth installation store, or None with one bot token."""
        return self._installations

    def for_team(self, team_id: str) -> WebClient:
        if self._installations is None:
            return self.default
        now = self._clock()
        with self._lock:
            cached = self._cache.get(team_id)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        client = self._load(team_id)
        with self._lock:
            self._cache[team_id] = (now, client)
        return client

    def forget(self, team_id: str) -> None:
        """Drop the cached client (its tokens were revoked or the app uninstalled)."""
        with self._lock:
            self._cache.pop(team_id, None)

    def _load(self, team_id: str) -> WebClient:
        assert self._installations is not None
        bot = self._installations.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise WorkspaceNotInstalled(team_id)
        return web_client(self._settings, bot.bot_token)
