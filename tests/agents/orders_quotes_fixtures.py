"""The demo CRM on a fixed clock, for the orders and quotes tool tests (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.service import DraftService
from agents.llm.offline import OfflineLLM
from agents.loop import LoopLimits, RunResult, run_specialist
from agents.specs import AgentSpec
from agents.tools.base import ToolContext, ToolSpec
from storage.demo import seed_demo
from storage.uow import UnitOfWork
from tests.agents.drafts_fixtures import NOW, seed_org

LIMITS = LoopLimits(max_turns=8, max_output_tokens=1024, max_run_tokens=40_000)


@dataclass
class Crm:
    """The seeded demo org: its id, its customers' ids by name, and a tool context."""

    factory: sessionmaker[Session]
    org_id: int
    ids: dict[str, int]

    def ctx(self, drafts: DraftService | None = None) -> ToolContext:
        return ToolContext(
            factory=self.factory, org_id=self.org_id, user_id=None, now=NOW, drafts=drafts
        )

    def run(self, spec: ToolSpec[Any], **arguments: Any) -> dict[str, Any]:
        return spec.run(self.ctx(), arguments)

    def ask_offline(
        self, agent: AgentSpec, question: str, *, drafts: DraftService | None = None
    ) -> tuple[RunResult, ToolContext]:
        ctx = self.ctx(drafts)
        result = run_specialist(
            agent,
            llm=OfflineLLM(),
            model="offline",
            system=agent.system_prompt(today=NOW.date().isoformat(), user_name="Maya Chen"),
            messages=[{"role": "user", "content": question}],
            ctx=ctx,
            limits=LIMITS,
            hints={"user_name": "Maya Chen", "today": NOW.date().isoformat()},
        )
        return result, ctx


def seeded_crm(factory: sessionmaker[Session]) -> Crm:
    """The demo org, plus a second org with the same CRM that must never show through."""
    org_id = seed_org(factory)
    with UnitOfWork(factory) as uow:
        other = uow.orgs.ensure(slack_team_id="T_OTHER", name="Other Marine").id
        uow.commit()
    seed_demo(factory, org_id=other, now=NOW)
    with UnitOfWork(factory) as uow:
        ids = {c.name: c.id for c in uow.crm.all_customers(org_id)}
    return Crm(factory, org_id, ids)


def other_org_customer(crm: Crm, name: str) -> int:
    """The id of the same-named customer in the second org."""
    with UnitOfWork(crm.factory) as uow:
        other = uow.orgs.by_team("T_OTHER")
        assert other is not None
        return next(c.id for c in uow.crm.all_customers(other.id) if c.name == name)
