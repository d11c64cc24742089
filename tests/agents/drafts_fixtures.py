"""Shared setup of the draft service tests: the demo org, a fixed clock, a real SMTP sink."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.email import SmtpSettings
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.service import DraftService, Proposal
from bot.emulator.mailbox import Mailbox
from storage.demo import seed_demo
from storage.models import AuditEvent, Customer, Draft, DraftExecution, Role
from storage.models.enums import DraftKind
from storage.uow import UnitOfWork

NOW = datetime(2030, 4, 2, 9, 0, tzinfo=UTC)
TEAM = "T_DEMO"
TTL = timedelta(hours=72)

REP, OTHER_REP, MANAGER, ADMIN = "U_REP1", "U_REP2", "U_MGR1", "U_ADMIN1"
SECOND_MANAGER = "U_MGR2"  # not in the demo data: added by `add_second_manager`
INGRID = "ingrid@halvorsen-marine.no"
MAYA_EMAIL = "maya@demo.countersign.dev"

EMAIL_BODY = "Hi Ingrid,\n\nCan we confirm the pump service on Tuesday?\n\nBest,\nMaya"


class Clock:
    """A settable clock for the service: `clock()` is now, `advance()` moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def email_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "to_address": INGRID,
        "to_name": "Ingrid Halvorsen",
        "subject": "Pump service next week",
        "body": EMAIL_BODY,
    } | overrides


PAYLOADS: dict[DraftKind, dict[str, Any]] = {
    DraftKind.EMAIL: email_payload(),
    DraftKind.NOTE: {"subject": "Inspection follow-up", "body": "Ingrid wants a quote."},
    DraftKind.TASK: {
        "subject": "Call Ingrid about the quote",
        "body": "",
        "due_date": "2030-04-05",
    },
    DraftKind.ORDER: {
        "subject": "Order draft for Halvorsen Marine",
        "body": "Two spare bilge pumps.",
        "lines": [
            {
                "sku": "PMP-BLG-200",
                "name": "Bilge pump, 200 L/min, bronze",
                "quantity": 2,
                "unit_price": "1480.00",
            }
        ],
        "total": "2960.00",
    },
    DraftKind.CUSTOMER_NOTES: {"subject": "Account notes", "body": "Prefers calls after 14:00."},
}


@dataclass
class Desk:
    """The demo org with a DraftService on a fixed clock, sending to a real local SMTP server."""

    factory: sessionmaker[Session]
    service: DraftService
    clock: Clock
    outbox: Mailbox
    org_id: int
    customer_id: int

    def user_id(self, slack_user_id: str) -> int:
        with UnitOfWork(self.factory) as uow:
            user = uow.orgs.user_by_slack_id(self.org_id, slack_user_id)
            assert user is not None, slack_user_id
            return user.id

    def propose(
        self,
        kind: DraftKind,
        payload: dict[str, Any] | None = None,
        *,
        by: str = REP,
        prompt_version: str = "v1",
    ) -> int:
        return self.service.propose(
            Proposal(
                org_id=self.org_id,
                kind=kind,
                payload=dict(PAYLOADS[kind] if payload is None else payload),
                requested_by_id=self.user_id(by),
                customer_id=self.customer_id,
                conversation_id=None,
                channel_id="C_SALES",
                thread_ts="1700000000.000100",
                agent="outreach",
                prompt_version=prompt_version,
                model="claude-test",
            )
        )

    def propose_email(self, *, by: str = REP, **overrides: Any) -> int:
        return self.propose(DraftKind.EMAIL, email_payload(**overrides), by=by)

    def draft(self, draft_id: int) -> Draft:
        with UnitOfWork(self.factory) as uow:
            draft = uow.drafts.get(self.org_id, draft_id)
            assert draft is not None
            return draft

    def audit(self, draft_id: int) -> list[AuditEvent]:
        with UnitOfWork(self.factory) as uow:
            return list(uow.audit.for_subject(self.org_id, "draft", str(draft_id)))

    def actions(self, draft_id: int) -> list[str]:
        return [event.action for event in self.audit(draft_id)]

    def executions(self, draft_id: int) -> list[DraftExecution]:
        with UnitOfWork(self.factory) as uow:
            return list(uow.drafts.executions(draft_id))

    def count(self, model: type[Any], *criteria: Any) -> int:
        with UnitOfWork(self.factory) as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model).where(*criteria)))


def smtp_for(mailbox: Mailbox) -> SmtpSettings:
    return SmtpSettings(
        host=mailbox.host,
        port=mailbox.port,
        security="none",
        sender="Countersign <countersign@example.com>",
        timeout_seconds=5,
    )


def seed_org(factory: sessionmaker[Session]) -> int:
    """The demo org (team T_DEMO) with the demo CRM; its id."""
    with UnitOfWork(factory) as uow:
        org_id = uow.orgs.ensure(slack_team_id=TEAM, name="Demo Marine").id
        uow.commit()
    seed_demo(factory, org_id=org_id, now=NOW)
    return org_id


def make_desk(
    factory: sessionmaker[Session], mailbox: Mailbox, policy: ApprovalPolicy | None = None
) -> Desk:
    org_id = seed_org(factory)
    with UnitOfWork(factory) as uow:
        customer_id = uow.session.scalar(
            select(Customer.id).where(
                Customer.org_id == org_id, Customer.name == "Halvorsen Marine"
            )
        )
    assert customer_id is not None
    clock = Clock(NOW)
    service = DraftService(
        factory=factory,
        policy=policy or ApprovalPolicy(),
        ttl=TTL,
        smtp=smtp_for(mailbox),
        clock=clock,
    )
    return Desk(factory, service, clock, mailbox, org_id, customer_id)


def add_second_manager(desk: Desk) -> int:
    """Sam Rivera, a manager who is nobody's manager in the demo data."""
    with UnitOfWork(desk.factory) as uow:
        user = uow.orgs.add_user(
            org_id=desk.org_id,
            email="sam@demo.countersign.dev",
            name="Sam Rivera",
            slack_user_id=SECOND_MANAGER,
            role=Role.MANAGER,
        )
        uow.commit()
        return user.id
