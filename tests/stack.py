"""The real app served over HTTP, talking to the Slack emulator (and optionally the Anthropic
fake), on SQLite or PostgreSQL, with in-process or Redis dedup. Used by scenario tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agents.settings import AgentSettings
from bot.emulator import BOT_USER_ID, EventSender, SlackEmulator, app_mention_event
from bot.emulator.workspace import PostedMessage
from bot.serve import make_http_server
from bot.services import Services, build_services
from bot.settings import RuntimeSettings, Settings, SlackSettings
from storage.db import make_engine, session_factory
from storage.demo import seed_demo
from storage.settings import StorageSettings
from storage.types import utcnow
from storage.uow import UnitOfWork

TEAM = "T_DEMO"
SALES = "C_SALES"
TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
PEOPLE = (
    ("U_REP1", "Maya Chen", "maya@demo.countersign.dev"),
    ("U_REP2", "Leo Okafor", "leo@demo.countersign.dev"),
    ("U_MGR1", "Jordan Blake", "jordan@demo.countersign.dev"),
)


def offline_agents(**overrides: Any) -> AgentSettings:
    return AgentSettings(anthropic_api_key=None, anthropic_base_url=None, **overrides)


def model_agents(base_url: str, **overrides: Any) -> AgentSettings:
    return AgentSettings(
        anthropic_api_key=SecretStr("test-key"),
        anthropic_base_url=base_url,
        max_retries=0,
        timeout_seconds=10,
        **overrides,
    )


@dataclass
class Stack:
    slack: SlackEmulator
    sender: EventSender
    services: Services
    settings: Settings
    org_id: int

    def mention_envelope(
        self, text: str, *, user: str = "U_REP1", thread_ts: str | None = None
    ) -> dict[str, Any]:
        said = self.slack.post_user_message(
            SALES, user, f"<@{BOT_USER_ID}> {text}", thread_ts=thread_ts
        )
        return app_mention_event(TEAM, SALES, user, said.text, said.ts, thread_ts=thread_ts)

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.services.runner.idle():
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still running")
            time.sleep(0.01)

    def bot_replies(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        messages = (
            self.slack.thread(channel, thread_ts)
            if thread_ts
            else self.slack.channel_messages(channel)
        )
        return [m for m in messages if m.user == BOT_USER_ID or m.is_bot]


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    agents: AgentSettings | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> Iterator[Stack]:
    with SlackEmulator(tokens={TOKEN: TEAM}, team_id=TEAM, team_name="Demo Co") as slack:
        for user_id, name, email in PEOPLE:
            slack.add_user(user_id, name, email)
        slack.add_channel(SALES, "sales")
        settings = Settings(
            slack=SlackSettings(
                bot_token=SecretStr(TOKEN), signing_secret=SecretStr(SECRET), api_url=slack.api_url
            ),
            agents=agents or offline_agents(),
            storage=StorageSettings(
                data_dir=tmp_path, database_url=database_url, redis_url=redis_url
            ),
            runtime=RuntimeSettings(log_level="WARNING", workers=4),
        )
        org_id = _prepare(settings)
        services = build_services(settings)
        server = make_http_server(settings, services, host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Stack(
                slack=slack,
                sender=EventSender(f"http://127.0.0.1:{server.effective_port}", SECRET),
                services=services,
                settings=settings,
                org_id=org_id,
            )
        finally:
            server.close()
            services.close()


def _prepare(settings: Settings) -> int:
    from storage.migrate import upgrade

    url = settings.storage.resolved_database_url()
    if settings.storage.database_url is None:
        upgrade(url)  # a fresh SQLite file; PostgreSQL comes migrated from the pg_url fixture
    engine = make_engine(url)
    factory = session_factory(engine)
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=TEAM, name="Demo Co")
        uow.commit()
    seed_demo(factory, org_id=org.id, now=utcnow())
    engine.dispose()
    return org.id
