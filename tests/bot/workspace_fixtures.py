"""A served app with OAuth installs (SLACK_CLIENT_ID) and the Slack emulator behind it."""

from __future__ import annotations

import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.emulator import SlackEmulator
from bot.emulator.signing import EventSender
from bot.serve import make_http_server
from bot.services import Services, build_services
from bot.settings import AccessSettings, JobSettings, RuntimeSettings, Settings, SlackSettings
from storage import migrate
from storage.settings import StorageSettings
from tests.stack import offline_agents

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-" + secrets.token_hex(4)


@dataclass
class Installs:
    slack: SlackEmulator
    services: Services
    settings: Settings
    url: str
    sender: EventSender
    keys: list[str]

    def get(self, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Cookie": cookie} if cookie else {}
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers.items()), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers.items()), error.read().decode()

    def install(self, team_id: str, team_name: str) -> str:
        """Open the install page, approve on "Slack", follow the redirect: the bot token."""
        status, headers, page = self.get("/slack/install")
        assert status == 200, page
        state = re.search(r"state=([\w\-]+)", page)
        assert state, page
        cookie = headers["Set-Cookie"].split(";")[0]
        code, token = self.slack.approve_install(team_id, team_name)
        status, _, page = self.get(f"/slack/oauth_redirect?code={code}&state={state[1]}", cookie)
        assert status == 200, page
        return token

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.services.runner.idle():
            assert time.monotonic() < deadline, "jobs still running"
            time.sleep(0.01)


@contextmanager
def oauth_app(
    tmp_path: Path,
    *,
    database_url: str | None = None,
    previous_secret: str | None = None,
    access: AccessSettings | None = None,
) -> Iterator[Installs]:
    keys = [Fernet.generate_key().decode()]
    secret = secrets.token_hex(16)
    with SlackEmulator(tokens={}) as slack:
        slack.register_app(CLIENT_ID, CLIENT_SECRET)
        settings = Settings(
            slack=SlackSettings(
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
                token_keys=SecretStr(",".join(keys)),
                signing_secret=SecretStr(secret),
                signing_secret_previous=SecretStr(previous_secret) if previous_secret else None,
                api_url=slack.api_url,
            ),
            agents=offline_agents(),
            storage=StorageSettings(data_dir=tmp_path, database_url=database_url),
            runtime=RuntimeSettings(log_level="WARNING", workers=2),
            jobs=JobSettings(engine="inprocess"),
            access=access or AccessSettings(),
        )
        if database_url is None:
            migrate.upgrade(settings.storage.resolved_database_url())
        services = build_services(settings)
        server: Any = make_http_server(settings, services, host="127.0.0.1", port=0)
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{server.effective_port}"
        try:
            yield Installs(slack, services, settings, url, EventSender(url, secret), keys)
        finally:
            server.close()
            services.close()
