"""`countersign demo`: the real app, served over HTTP, talking to a local Slack workspace.

Signed events go in as a rep would send them; the conversation is printed as it appears in
Slack. It uses the embedded default (SQLite in a temp folder, in-process jobs) and the
offline adapter unless ANTHROPIC_API_KEY is set."""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.emulator import (
    BOT_USER_ID,
    EventSender,
    SlackEmulator,
    app_mention_event,
    dm_message_event,
)
from bot.emulator.calls import RecordedCall
from bot.serve import make_http_server
from bot.services import Services, build_services
from bot.settings import RuntimeSettings, Settings, SlackSettings
from storage import migrate
from storage.demo import seed_demo
from storage.settings import StorageSettings
from storage.types import utcnow
from storage.uow import UnitOfWork

TEAM = "T_DEMO"
SALES = "C_SALES"
PEOPLE = (
    ("U_REP1", "Maya Chen", "maya@demo.countersign.dev"),
    ("U_REP2", "Leo Okafor", "leo@demo.countersign.dev"),
    ("U_MGR1", "Jordan Blake", "jordan@demo.countersign.dev"),
    ("U_ADMIN1", "Priya Natarajan", "priya@demo.countersign.dev"),
)


@dataclass
class Stage:
    """The running demo: the workspace, a way to send events, and the app's services."""

    slack: SlackEmulator
    sender: EventSender
    services: Services


def _say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 (the demo's output is the point)


def run_demo(base: Settings, *, timeout: float = 30.0) -> int:
    """Run the scripted conversation; 0 when every question was answered in its place."""
    with (
        tempfile.TemporaryDirectory(prefix="countersign-demo-") as tmp,
        _stage(base, Path(tmp)) as stage,
    ):
        mode = "offline (no ANTHROPIC_API_KEY)" if not base.agents.uses_model else "Claude"
        _say(f"Countersign demo — local Slack workspace, SQLite, in-process jobs, model: {mode}\n")
        root = _mention(stage, "U_REP1", "what's going on with Halvorsen?", timeout=timeout)
        _mention(stage, "U_REP1", "and who are their contacts?", thread_ts=root, timeout=timeout)
        _say(f"#sales thread\n{'─' * 60}\n{stage.slack.transcript(SALES, root)}\n")
        dm = stage.slack.add_channel("D_REP2", "Leo Okafor", is_im=True).id
        _dm(stage, "U_REP2", dm, "hi", timeout=timeout)
        _dm(stage, "U_REP2", dm, "how are things with Atlantic Ferries?", timeout=timeout)
        _say(f"DM with Leo\n{'─' * 60}\n{stage.slack.transcript(dm)}\n")
        _say(f"{len(stage.slack.calls_to('chat.postMessage'))} replies posted; demo finished.")
    return 0


@contextmanager
def _stage(base: Settings, folder: Path) -> Iterator[Stage]:
    token, secret = "xoxb-demo-" + secrets.token_hex(8), secrets.token_hex(16)
    with SlackEmulator(tokens={token: TEAM}, team_id=TEAM, team_name="Demo Co") as slack:
        for user_id, name, email in PEOPLE:
            slack.add_user(user_id, name, email)
        slack.add_channel(SALES, "sales")
        settings = Settings(
            slack=SlackSettings(
                bot_token=SecretStr(token), signing_secret=SecretStr(secret), api_url=slack.api_url
            ),
            agents=base.agents,
            storage=StorageSettings(data_dir=folder, database_url=None, redis_url=None),
            runtime=RuntimeSettings(log_level="WARNING"),
        )
        _prepare_database(settings)
        services = build_services(settings)
        server = make_http_server(settings, services, host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.run, daemon=True)  # type: ignore[attr-defined]
        thread.start()
        port = server.effective_port  # type: ignore[attr-defined]
        try:
            yield Stage(slack, EventSender(f"http://127.0.0.1:{port}", secret), services)
        finally:
            server.close()  # type: ignore[attr-defined]
            services.close()


def _prepare_database(settings: Settings) -> None:
    migrate.upgrade(settings.storage.resolved_database_url())
    from storage.db import engine_from_settings, session_factory

    engine = engine_from_settings(settings.storage)
    factory = session_factory(engine)
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=TEAM, name="Demo Co")
        uow.commit()
    seed_demo(factory, org_id=org.id, now=utcnow())
    engine.dispose()


def _mention(
    stage: Stage, user: str, text: str, *, thread_ts: str | None = None, timeout: float
) -> str:
    """@mention the bot in #sales (in a thread when given); wait for the reply; return the root."""
    said = stage.slack.post_user_message(
        SALES, user, f"<@{BOT_USER_ID}> {text}", thread_ts=thread_ts
    )
    root = thread_ts or said.ts
    envelope = app_mention_event(TEAM, SALES, user, said.text, said.ts, thread_ts=thread_ts)
    _deliver(stage, envelope, lambda c: c.params.get("thread_ts") == root, timeout)
    return root


def _dm(stage: Stage, user: str, channel: str, text: str, *, timeout: float) -> None:
    said = stage.slack.post_user_message(channel, user, text)
    envelope = dm_message_event(TEAM, channel, user, text, said.ts)
    _deliver(stage, envelope, lambda c: c.params.get("channel") == channel, timeout)


def _deliver(
    stage: Stage, envelope: dict[str, object], matches: object, timeout: float
) -> RecordedCall:
    before = len(stage.slack.calls_to("chat.postMessage"))
    status, _headers, body, _elapsed = stage.sender.post_event(envelope)
    if status != 200:
        raise RuntimeError(f"the app answered {status}: {body}")

    def new_reply(call: RecordedCall) -> bool:
        replies = stage.slack.calls_to("chat.postMessage")
        return call.method == "chat.postMessage" and call in replies[before:] and matches(call)  # type: ignore[operator]

    return stage.slack.wait_for(new_reply, timeout=timeout)
