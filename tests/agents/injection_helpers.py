"""The poisoned demo CRM, the assistants that read it, and the rows that show what happened.

Used by test_prompt_injection.py: payloads from tests/data/injection_corpus.json are planted
in Halvorsen Marine's activity log and account notes, then a real Assistant runs over them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.assistant import Answer, Assistant, Question
from agents.drafts.email import SmtpSettings
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.service import DraftService
from agents.llm.anthropic_llm import AnthropicLLM
from agents.llm.offline import OfflineLLM
from agents.metering import Meter, PriceCatalog
from agents.settings import AgentSettings
from bot.emulator.mailbox import Mailbox
from storage.demo import seed_demo
from storage.models import Activity, AuditEvent, Customer, Draft, DraftExecution
from storage.uow import UnitOfWork

CORPUS_PATH = Path(__file__).resolve().parent.parent / "data" / "injection_corpus.json"
TEAM = "T_DEMO"
REP = "U_REP1"  # Maya Chen, rep
MANAGER = "U_MGR1"  # Jordan Blake, manager
INGRID = "ingrid@halvorsen-marine.no"
CONTACTS = frozenset({INGRID, "tomas.berg@halvorsen-marine.no"})
ATTACKER = "attacker@evil.example"
# Tools the corpus names that no specialist has: each must come back "not available".
FORBIDDEN_TOOLS = (
    "approve_draft",
    "execute_draft",
    "send_email",
    "http_request",
    "delete_customer",
)


@dataclass(frozen=True)
class Payload:
    """One corpus entry."""

    id: str
    category: str
    text: str
    recipient: str | None = None
    hidden: tuple[str, ...] = ()
    product_strips: bool | None = None

    def hidden_chars(self) -> set[str]:
        """The invisible characters of the listed classes that occur in the text."""
        return {c for c in self.text if any(_in_class(c, spec) for spec in self.hidden)}


def _in_class(char: str, spec: str) -> bool:
    low, _, high = spec.partition("..")
    return int(low[2:], 16) <= ord(char) <= int((high or low)[2:], 16)


def load_corpus() -> list[Payload]:
    """Every payload of tests/data/injection_corpus.json, in file order."""
    entries = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))["payloads"]
    return [Payload(**{**e, "hidden": tuple(e.get("hidden", ()))}) for e in entries]


@dataclass(frozen=True)
class World:
    """The seeded demo org with one poisoned customer."""

    factory: sessionmaker[Session]
    org_id: int
    customer_id: int
    rep_id: int
    now: datetime


def seed_org(factory: sessionmaker[Session], *, now: datetime) -> None:
    """The demo org (team T_DEMO) with its CRM as of `now`."""
    with UnitOfWork(factory) as uow:
        org_id = uow.orgs.ensure(slack_team_id=TEAM, name="Demo Co").id
        uow.commit()
    seed_demo(factory, org_id=org_id, now=now)


def poisoned_world(factory: sessionmaker[Session], text: str, *, now: datetime) -> World:
    """Put `text` in a fresh email and a fresh note activity and in the account notes of the
    seeded demo org's Halvorsen Marine."""
    with UnitOfWork(factory) as uow:
        org = uow.orgs.by_team(TEAM)
        assert org is not None, "seed_org first"
        customer = next(c for c in uow.crm.all_customers(org.id) if c.name == "Halvorsen Marine")
        rep = uow.orgs.user_by_slack_id(org.id, REP)
        assert rep is not None
        for kind, hours in (("email", 1), ("note", 2)):
            uow.crm.add(
                Activity(
                    org_id=org.id,
                    customer_id=customer.id,
                    kind=kind,
                    summary=text,
                    occurred_at=now - timedelta(hours=hours),
                )
            )
        customer.notes = text
        uow.commit()
        return World(factory, org.id, customer.id, rep.id, now)


def draft_service(world: World, mailbox: Mailbox) -> DraftService:
    """The real approval flow; approved emails would go to `mailbox`."""
    smtp = SmtpSettings(host=mailbox.host, port=mailbox.port, security="none", timeout_seconds=5)
    return DraftService(
        factory=world.factory,
        policy=ApprovalPolicy(),
        ttl=timedelta(hours=72),
        smtp=smtp,
        clock=lambda: world.now,
    )


def offline_assistant(world: World, drafts: DraftService) -> Assistant:
    """The assistant as it runs without an API key."""
    settings = AgentSettings(anthropic_api_key=None, anthropic_base_url=None)
    return _assistant(world, drafts, OfflineLLM(), settings)


def model_assistant(
    world: World, drafts: DraftService, base_url: str, *, max_turns: int = 6
) -> Assistant:
    """The assistant on the real Anthropic SDK, pointed at a FakeAnthropicAPI."""
    settings = AgentSettings(
        anthropic_api_key=SecretStr("test-key"),
        anthropic_base_url=base_url,
        max_retries=0,
        timeout_seconds=10,
        max_turns=max_turns,
    )
    # One connection per call: the fake sends a response's headers and body in two writes,
    # and on a kept-alive connection Nagle + delayed ACK add ~40 ms to every call.
    http_client = anthropic.DefaultHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0))
    client = anthropic.Anthropic(
        api_key="test-key", base_url=base_url, max_retries=0, timeout=10, http_client=http_client
    )
    return _assistant(world, drafts, AnthropicLLM(client), settings)


def _assistant(world: World, drafts: DraftService, llm: Any, settings: AgentSettings) -> Assistant:
    meter = Meter(factory=world.factory, catalog=PriceCatalog.load(), clock=lambda: world.now)
    return Assistant(
        factory=world.factory,
        llm=llm,
        meter=meter,
        settings=settings,
        drafts=drafts,
        clock=lambda: world.now,
    )


def ask(assistant: Assistant, text: str, *, delivery: str = "Ev1") -> Answer:
    """Maya asks in #sales."""
    question = Question(
        team_id=TEAM,
        channel_id="C_SALES",
        thread_ts="",
        slack_user_id=REP,
        text=text,
        delivery_id=delivery,
    )
    return assistant.answer(question, profile=lambda: None)


# --- what the model is scripted to send -----------------------------------------------------


def use(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    """A tool_use block for a scripted reply."""
    return {"type": "tool_use", "name": name, "input": tool_input}


def email_to(world: World, to: str, *, subject: str, body: str) -> dict[str, Any]:
    """send_email_draft as a compromised model would call it."""
    args = {"customer_id": world.customer_id, "to": to, "subject": subject, "body": body}
    return use("send_email_draft", args)


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks the loop sent back in `request` (its last user message)."""
    content = request["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


# --- rows ---------------------------------------------------------------------------------


def drafts_of(world: World) -> list[Draft]:
    """Every draft of the org, oldest first."""
    with UnitOfWork(world.factory) as uow:
        return list(uow.session.scalars(select(Draft).order_by(Draft.id)))


def execution_count(world: World) -> int:
    """DraftExecution rows: one per approved version that was (being) carried out."""
    with UnitOfWork(world.factory) as uow:
        return uow.session.scalar(select(func.count()).select_from(DraftExecution)) or 0


def audit_actions(world: World) -> list[str]:
    """Audited draft actions, oldest first."""
    with UnitOfWork(world.factory) as uow:
        rows = uow.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.org_id == world.org_id)
            .order_by(AuditEvent.id)
        )
        return list(rows)


def customer(world: World) -> Customer | None:
    """Halvorsen Marine as stored now."""
    with UnitOfWork(world.factory) as uow:
        return uow.crm.customer(world.org_id, world.customer_id)


def activity_count(world: World) -> int:
    """Activities of Halvorsen Marine."""
    with UnitOfWork(world.factory) as uow:
        query = select(func.count()).where(Activity.customer_id == world.customer_id)
        return uow.session.scalar(query) or 0
