"""Shared setup of the metering tests: an org with people and a customer, a model stand-in
that answers instantly with chosen usage, and a guard on whichever counters a test needs."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from anthropic.types import Message, TextBlock
from anthropic.types import Usage as ApiUsage
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.llm.port import LLMRequest
from agents.metering import Attribution, Meter, PriceCatalog
from agents.metering.budgets import BudgetGuard
from agents.metering.settings import CostSettings
from storage.limits import Counters
from storage.models import Customer, LLMCall, Org, Role, User
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
MODEL = "claude-sonnet-5-5"  # $2 in / $10 out per MTok: 2 and 10 µUSD per token


@dataclass
class World:
    factory: sessionmaker[Session]
    org_id: int
    rep_id: int
    other_rep_id: int
    customer_id: int


def make_world(
    factory: sessionmaker[Session], *, timezone: str = "UTC", plan: str = "team"
) -> World:
    with UnitOfWork(factory) as uow:
        org = Org(
            slack_team_id=f"T{uuid.uuid4().hex[:8]}", name="Acme", timezone=timezone, plan=plan
        )
        uow.session.add(org)
        uow.flush()
        rep = User(org_id=org.id, email="maya@acme.test", name="Maya Chen", role=Role.REP)
        other = User(org_id=org.id, email="leo@acme.test", name="Leo Okafor", role=Role.REP)
        customer = Customer(org_id=org.id, external_id="C-1", name="Halvorsen Marine")
        uow.session.add_all([rep, other, customer])
        uow.flush()
        world = World(factory, org.id, rep.id, other.id, customer.id)
        uow.commit()
    return world


@dataclass
class InstantModel:
    """Stands in for the Anthropic API (the thing under test is the metering around it):
    answers after `delay` seconds with the usage it was given, or raises `error`."""

    input_tokens: int = 500
    output_tokens: int = 100
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    delay: float = 0.0
    error: Exception | None = None
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    offline = False

    def create(self, request: LLMRequest) -> Message:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return Message(
            id=f"msg_{uuid.uuid4().hex[:12]}",
            type="message",
            role="assistant",
            model=request.model,
            content=[TextBlock(type="text", text="ok")],
            stop_reason="end_turn",
            stop_sequence=None,
            usage=ApiUsage(
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
                cache_read_input_tokens=self.cache_read_tokens,
                cache_creation_input_tokens=self.cache_write_tokens,
            ),
        )


def request(text: str = "How is Halvorsen doing?", *, max_tokens: int = 1024) -> LLMRequest:
    return LLMRequest(
        agent="customer",
        model=MODEL,
        system="You help sales reps.",
        messages=[{"role": "user", "content": text}],
        max_tokens=max_tokens,
    )


def guard(
    world: World, counters: Counters, *, clock=lambda: NOW, **settings: object
) -> BudgetGuard:
    return BudgetGuard(
        factory=world.factory,
        counters=counters,
        settings=CostSettings(**settings),  # type: ignore[arg-type]
        clock=clock,
    )


def meter(world: World, budgets: BudgetGuard | None = None, cache=None, clock=lambda: NOW) -> Meter:
    return Meter(
        factory=world.factory,
        catalog=PriceCatalog.load(),
        budgets=budgets,
        cache=cache,
        clock=clock,
    )


def attribution(world: World, **overrides: object) -> Attribution:
    values: dict[str, object] = {"org_id": world.org_id, "user_id": world.rep_id} | overrides
    return Attribution(**values)  # type: ignore[arg-type]


def ledger_spend(world: World) -> tuple[int, int]:
    """(calls, µUSD) in the raw ledger of the world's org."""
    with UnitOfWork(world.factory) as uow:
        count, cost = uow.session.execute(
            select(func.count(), func.coalesce(func.sum(LLMCall.cost_micro_usd), 0)).where(
                LLMCall.org_id == world.org_id
            )
        ).one()
    return int(count), int(cost)
