"""A whole local Countersign: the real app served over HTTP, talking to the Slack workspace
emulator, on a fresh database seeded with the demo CRM. `make demo`, the scenario tests and
the benchmarks all run on it, so they exercise the same path a real workspace would."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agents.drafts.email import SmtpSettings
from agents.metering.settings import CostSettings
from agents.settings import AgentSettings
from agents.suggestions.settings import SuggestionSettings
from bot.emulator import (
    BOT_USER_ID,
    EventSender,
    SlackEmulator,
    app_home_opened_event,
    app_mention_event,
    assistant_thread_started_event,
    block_action,
    home_block_action,
    message_action,
    view_submission,
)
from bot.emulator.mailbox import Mailbox
from bot.emulator.workspace import PostedMessage
from bot.serve import make_http_server
from bot.services import Services, build_services
from bot.settings import (
    AccessSettings,
    DigestSettings,
    JobSettings,
    RuntimeSettings,
    Settings,
    SlackSettings,
)
from storage import migrate
from storage.db import make_engine, session_factory
from storage.demo import seed_demo
from storage.settings import StorageSettings
from storage.types import utcnow
from storage.uow import UnitOfWork

TEAM = "T_DEMO"
SALES = "C_SALES"
ADMIN_CHANNEL = "C_SALES_OPS"  # where the cost digest and budget alerts go
PEOPLE = (
    ("U_REP1", "Maya Chen", "maya@demo.countersign.dev"),
    ("U_REP2", "Leo Okafor", "leo@demo.countersign.dev"),
    ("U_MGR1", "Jordan Blake", "jordan@demo.countersign.dev"),
    ("U_ADMIN1", "Priya Natarajan", "priya@demo.countersign.dev"),
)


@dataclass
class Sandbox:
    """The running pieces, and the moves a person in the workspace would make."""

    slack: SlackEmulator
    sender: EventSender
    services: Services
    settings: Settings
    org_id: int
    url: str
    mailbox: Mailbox

    def mention_envelope(
        self, text: str, *, user: str = "U_REP1", thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Post `@countersign text` in #sales as `user`; the event Slack would deliver."""
        said = self.slack.post_user_message(
            SALES, user, f"<@{BOT_USER_ID}> {text}", thread_ts=thread_ts
        )
        return app_mention_event(TEAM, SALES, user, said.text, said.ts, thread_ts=thread_ts)

    def click(self, user: str, card: PostedMessage, action_id: str) -> int:
        """`user` clicks the button `action_id` on a bot message; returns the HTTP status."""
        value = _button_value(card.blocks, action_id)
        body = block_action(
            TEAM,
            card.channel,
            user,
            action_id,
            value,
            card.ts,
            emulator_url=self.slack.base_url,
            message_blocks=card.blocks,
            thread_ts=card.thread_ts,
        )
        return self.sender.post_form(body)[0]

    def choose(self, user: str, card: PostedMessage, action_id: str, option_text: str) -> int:
        """`user` picks the option labelled `option_text` from the overflow menu `action_id`
        of the actions block `block_id` holds; returns the HTTP status."""
        block_id, option = _menu_option(card.blocks, action_id, option_text)
        body = block_action(
            TEAM,
            card.channel,
            user,
            action_id,
            "",
            card.ts,
            emulator_url=self.slack.base_url,
            block_id=block_id,
            message_blocks=card.blocks,
            thread_ts=card.thread_ts,
            selected_option=option,
        )
        return self.sender.post_form(body)[0]

    def submit(self, user: str, view: dict[str, Any], values: dict[str, str | None]) -> int:
        """`user` submits a modal the app opened, having typed `values` (by block id)."""
        return self.sender.post_form(view_submission(TEAM, user, view, values))[0]

    def open_home(self, user: str) -> dict[str, Any] | None:
        """`user` opens the app's Home tab; returns the view the app published."""
        self.sender.post_event(app_home_opened_event(TEAM, user))
        self.wait_idle()
        return self.slack.home_view(user)

    def click_home(self, user: str, action_id: str) -> int:
        """`user` clicks the first button `action_id` in their App Home; the HTTP status."""
        view = self.slack.home_view(user)
        if view is None:
            raise LookupError(f"{user} has no App Home published")
        value = _button_value(view["blocks"], action_id)
        body = home_block_action(
            TEAM, user, action_id, value, view, emulator_url=self.slack.base_url
        )
        return self.sender.post_form(body)[0]

    def open_messages_tab(self, user: str) -> str:
        """`user` opens the app's Messages tab (the agent view); returns their DM channel."""
        envelope = app_home_opened_event(TEAM, user, tab="messages")
        envelope["event"]["channel"] = dm = _dm_of(user)  # a person's DM with the app stays put
        self.sender.post_event(envelope)
        self.wait_idle()
        return dm

    def start_assistant_thread(self, user: str) -> tuple[str, str]:
        """`user` starts a thread in the assistant container; its (DM channel, thread ts)."""
        dm = _dm_of(user)
        root = self.slack.post_user_message(dm, user, "New chat")
        self.sender.post_event(
            assistant_thread_started_event(TEAM, user, dm, root.ts, context_channel=SALES)
        )
        self.wait_idle()
        return dm, root.ts

    def use_shortcut(self, user: str, message: PostedMessage, callback_id: str) -> int:
        """`user` picks the message shortcut `callback_id` on `message`; the HTTP status."""
        body = message_action(
            TEAM,
            message.channel,
            user,
            callback_id,
            message.to_api(TEAM),
            emulator_url=self.slack.base_url,
        )
        return self.sender.post_form(body)[0]

    def draft_card(self, thread_ts: str) -> PostedMessage | None:
        """The latest draft card the bot posted in a #sales thread (cards open with a header)."""
        cards = [
            m
            for m in self.bot_replies(SALES, thread_ts)
            if any(b["type"] == "header" for b in m.blocks)
        ]
        return cards[-1] if cards else None

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Block until every queued job has finished."""
        deadline = time.monotonic() + timeout
        while not self.services.runner.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still running after {timeout}s")
            time.sleep(0.01)

    def bot_replies(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        """What the bot posted in a channel (or one thread of it)."""
        if thread_ts:
            messages = self.slack.thread(channel, thread_ts)
        else:
            messages = self.slack.channel_messages(channel)
        return [m for m in messages if m.user == BOT_USER_ID or m.is_bot]


def _dm_of(user: str) -> str:
    """The DM channel id the emulator's conversations.open gives `user`."""
    return "D" + user.removeprefix("U")


def _button_value(blocks: list[dict[str, Any]], action_id: str) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element.get("value", ""))
    raise LookupError(f"no button {action_id!r} on that message")


def _menu_option(
    blocks: list[dict[str, Any]], action_id: str, text: str
) -> tuple[str, dict[str, Any]]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") != action_id:
                continue
            for option in element.get("options", []):
                if option["text"]["text"] == text:
                    return str(block.get("block_id", "actions")), option
    raise LookupError(f"no option {text!r} in menu {action_id!r}")


@contextmanager
def sandbox(
    folder: Path,
    *,
    agents: AgentSettings,
    database_url: str | None = None,
    redis_url: str | None = None,
    runtime: RuntimeSettings | None = None,
    cost: CostSettings | None = None,
    digest: DigestSettings | None = None,
    suggest: SuggestionSettings | None = None,
    access: AccessSettings | None = None,
) -> Iterator[Sandbox]:
    """Start the emulator and the served app; stop both on exit. SQLite lives in `folder`;
    a PostgreSQL `database_url` must already be migrated."""
    token, secret = "xoxb-sandbox-" + secrets.token_hex(8), secrets.token_hex(16)
    with (
        SlackEmulator(tokens={token: TEAM}, team_id=TEAM, team_name="Demo Co") as slack,
        Mailbox() as mailbox,
    ):
        for user_id, name, email in PEOPLE:
            slack.add_user(user_id, name, email)
        slack.add_channel(SALES, "sales")
        slack.add_channel(ADMIN_CHANNEL, "sales-ops")
        settings = Settings(
            slack=SlackSettings(
                bot_token=SecretStr(token), signing_secret=SecretStr(secret), api_url=slack.api_url
            ),
            agents=agents,
            storage=StorageSettings(
                data_dir=folder, database_url=database_url, redis_url=redis_url
            ),
            runtime=runtime or RuntimeSettings(log_level="WARNING"),
            smtp=SmtpSettings(host=mailbox.host, port=mailbox.port, security="none"),
            cost=cost or CostSettings(),
            digest=digest or DigestSettings(admin_channel=ADMIN_CHANNEL),
            suggest=suggest or SuggestionSettings(),
            access=access or AccessSettings(),
            # One process is the whole sandbox, on PostgreSQL too: its jobs run in it.
            jobs=JobSettings(engine="inprocess"),
        )
        org_id = _prepare_database(settings)
        services = build_services(settings)
        server: Any = make_http_server(settings, services, host="127.0.0.1", port=0)
        threading.Thread(target=server.run, name="sandbox-http", daemon=True).start()
        url = f"http://127.0.0.1:{server.effective_port}"
        try:
            yield Sandbox(slack, EventSender(url, secret), services, settings, org_id, url, mailbox)
        finally:
            server.close()
            services.close()


def _prepare_database(settings: Settings) -> int:
    url = settings.storage.resolved_database_url()
    if settings.storage.database_url is None:
        migrate.upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=TEAM, name="Demo Co")
        uow.commit()
    seed_demo(factory, org_id=org.id, now=utcnow())
    engine.dispose()
    return org.id
