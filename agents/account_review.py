"""A background agent task: "review all my accounts". One customer-360 read per account the
rep owns (the same `get_customer_context` tool a specialist uses, so the numbers match what
they would see asking one at a time), then a ranked summary of what needs attention.

The summary is written from a template over the checks, not by the model: the checks already
say everything the model would (health score with its reasons, overdue money, open pipeline),
and a review of fifty accounts should not cost fifty model calls. It is rate limited as an
agent run (`agent_run`, 5 an hour by default) by the caller."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.specs import prompts
from agents.tools.base import ToolContext
from agents.tools.context import get_customer_context
from storage.models import CustomerStatus
from storage.uow import UnitOfWork

_WANTS_REVIEW = re.compile(
    r"\b(review|go through|check( on)?|look (at|over)|audit)\s+(all\s+|each\s+(of\s+)?|every\s+)?"
    r"(of\s+)?my\s+(accounts|customers|clients|book|portfolio)\b"
    r"|\baccount review\b|\breview my book\b",
    re.IGNORECASE,
)
ATTENTION_BELOW = 70  # health scores under this make the "needs attention" list
Progress = Callable[[int, int, str], None]  # (accounts done, accounts in all, current name)


def wants_review(text: str) -> bool:
    """Does the rep ask for a review of all their accounts (a long, background task)?"""
    return bool(_WANTS_REVIEW.search(text))


@dataclass(frozen=True)
class AccountCheck:
    """One account as the review saw it."""

    customer_id: int
    name: str
    health_score: int
    reasons: tuple[str, ...]
    overdue_amount: Decimal
    open_deal_value: Decimal
    days_since_activity: int | None

    @property
    def needs_attention(self) -> bool:
        """A low score, or any reason the score was docked (an overdue invoice is one)."""
        return self.health_score < ATTENTION_BELOW or bool(self.reasons)


@dataclass(frozen=True)
class Review:
    """Every account checked, worst health first."""

    owner_name: str
    checks: tuple[AccountCheck, ...]

    def summary(self) -> str:
        """Slack mrkdwn: the accounts needing attention, then the healthy ones in a line."""
        return (
            prompts()
            .get_template("account_review.j2")
            .render(
                owner=self.owner_name,
                attention=[c for c in self.checks if c.needs_attention],
                healthy=[c for c in self.checks if not c.needs_attention],
                threshold=ATTENTION_BELOW,
            )
            .strip()
        )


class AccountReview:
    """Reviews the active accounts one rep owns, reporting progress after each."""

    def __init__(self, factory: sessionmaker[Session], *, now: datetime) -> None:
        self.factory = factory
        self.now = now

    def accounts(self, org_id: int, owner_id: int) -> list[tuple[int, str]]:
        """(id, name) of the rep's accounts that are not churned, by name."""
        with UnitOfWork(self.factory) as uow:
            return [
                (c.id, c.name)
                for c in uow.crm.customers_owned_by(org_id, owner_id)
                if c.status != CustomerStatus.CHURNED
            ]

    def run(self, org_id: int, owner_id: int, owner_name: str, progress: Progress) -> Review:
        """Check every account in turn; `progress` hears of each before it is read."""
        accounts = self.accounts(org_id, owner_id)
        checks = []
        for done, (customer_id, name) in enumerate(accounts):
            progress(done, len(accounts), name)
            checks.append(self._check(org_id, owner_id, customer_id))
        progress(len(accounts), len(accounts), "")
        ranked = sorted(checks, key=lambda c: (c.health_score, c.name))
        return Review(owner_name=owner_name, checks=tuple(ranked))

    def _check(self, org_id: int, owner_id: int, customer_id: int) -> AccountCheck:
        ctx = ToolContext(factory=self.factory, org_id=org_id, user_id=owner_id, now=self.now)
        context = get_customer_context.run(ctx, {"customer_id": customer_id})
        return check_of(context)


def check_of(context: dict[str, Any]) -> AccountCheck:
    """The review's view of one customer-360 context."""
    meta = context["_meta"]
    customer = context["customer"]
    return AccountCheck(
        customer_id=int(customer["id"]),
        name=str(customer["name"]),
        health_score=int(meta["health_score"]),
        reasons=tuple(meta["health_reasons"]),
        overdue_amount=Decimal(meta["overdue_invoices"]["amount"]),
        open_deal_value=Decimal(meta["open_deals"]["value"]),
        days_since_activity=meta["days_since_last_activity"],
    )
