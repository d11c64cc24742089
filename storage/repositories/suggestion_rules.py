"""The five suggestion rules, each one set-based SELECT over one org's CRM.

Every rule yields rows of (customer_id, owner_id, subject, priority_score, title, reasoning);
SuggestionRepository.scan upserts each rule's rows in one INSERT … SELECT. Ages are whole
days before the scan's `now`; amounts are in the org's currency.

- silent_account: an active customer whose latest activity is `silent_days` (7) or more days
  old, or who has none. Subject "". Owner: the customer's owner.
- stale_deal: an open deal whose stage changed more than `stale_deal_days` (14) days ago.
  Subject: the deal id. Owner: the deal's owner, else the customer's.
- overdue_task: an open task on a customer whose due time is more than `task_grace_days` (0)
  days past. Subject: the task id. Owner: the assignee, else the customer's owner.
- overdue_invoice: an unpaid invoice whose due time is more than `invoice_grace_days` (0) days
  past. Subject: the invoice id. Owner: the customer's owner.
- upsell: an active customer with no open deal that won a deal or had a positive meeting in
  the last `upsell_window_days` (30). Subject "". Owner: the customer's owner.

Priority score (0–100): base + age points + amount points. Age points are the days past the
threshold, at most 30 (a customer with no activity ever gets 30); for upsell they are
freshness instead, 30 minus the signal's age in days, at least 0. Amount points are 10 per
band of `amount_bands` reached (default 5 k, 25 k, 100 k: 0–30) by the amount at stake: the
customer's open pipeline (silent account), the deal, the invoice, the won deal (upsell; a
meeting has none); overdue tasks have no amount. Bases put money owed first and new
opportunity last: overdue_invoice 40, overdue_task 40, stale_deal 35, silent_account 30,
upsell 20.

A positive meeting is an activity of a kind in `positive_activity_kinds` (default: meeting)
whose summary contains one of `positive_words` and none of `negative_words` (case-insensitive
substrings; "not happy" is negative although it contains "happy"). A won deal's date is its
`stage_changed_at`, the moment it moved to closed_won.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.sql import ColumnElement

from storage.models import (
    Activity,
    Customer,
    CustomerStatus,
    Deal,
    DealStatus,
    DraftKind,
    Invoice,
    SuggestionRule,
    Task,
    TaskStatus,
)
from storage.repositories.suggestion_sql import (
    amount_text,
    as_text,
    days_ago_text,
    instant,
    joined,
    money,
    number,
    smaller_of,
    whole_days,
)

POSITIVE_WORDS = (
    "happy",
    "pleased",
    "great",
    "impressed",
    "interested",
    "keen",
    "excited",
    "wants",
    "would like",
    "asked about",
    "expand",
    "additional",
    "upgrade",
)
NEGATIVE_WORDS = (
    "not happy",
    "unhappy",
    "not interested",
    "disappointed",
    "complain",
    "cancel",
    "churn",
    "shelved",
    "on hold",
    "lost",
    "went to",
    "cheapest",
    "too expensive",
)
MAX_AGE_POINTS = 30

# A rule's SELECT, whatever its columns.
Candidates = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Thresholds:
    """When each rule fires, and how long a person's decision keeps a suggestion quiet."""

    silent_days: int = 7
    stale_deal_days: int = 14
    task_grace_days: int = 0
    invoice_grace_days: int = 0
    upsell_window_days: int = 30
    positive_activity_kinds: tuple[str, ...] = ("meeting",)
    positive_words: tuple[str, ...] = POSITIVE_WORDS
    negative_words: tuple[str, ...] = NEGATIVE_WORDS
    amount_bands: tuple[int, ...] = (5_000, 25_000, 100_000)
    dismiss_quiet_days: int = 30  # a dismissed suggestion stays away this long
    accept_quiet_days: int = 30  # an accepted one too, if its condition still holds after


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class RuleContext:
    """What every rule's SELECT is built from."""

    org_id: int
    now: datetime
    thresholds: Thresholds
    currency: str

    def days_before(self, days: int) -> datetime:
        """The instant `days` whole days before now."""
        return self.now - timedelta(days=days)

    def age(self, since: Any) -> ColumnElement[int]:
        """Whole days from `since` to now, in SQL."""
        return whole_days(since, instant(self.now))

    def amount_points(self, amount: ColumnElement[Any]) -> ColumnElement[int]:
        """10 points per amount band reached."""
        bands = sorted(self.thresholds.amount_bands, reverse=True)
        levels = [(amount >= band, number(10 * (len(bands) - i))) for i, band in enumerate(bands)]
        return case(*levels, else_=number(0))

    def amount(self, amount: ColumnElement[Any]) -> ColumnElement[str]:
        """'172,000 USD'."""
        return joined(amount_text(amount), f" {self.currency}")


def _age_points(days_past: ColumnElement[int]) -> ColumnElement[int]:
    return smaller_of(days_past, number(MAX_AGE_POINTS))


def _row(
    customer_id: Any, owner_id: Any, subject: Any, score: Any, title: Any, reasoning: Any
) -> list[ColumnElement[Any]]:
    return [
        customer_id.label("customer_id"),
        owner_id.label("owner_id"),
        subject.label("subject"),
        score.label("priority_score"),
        title.label("title"),
        reasoning.label("reasoning"),
    ]


def silent_accounts(ctx: RuleContext) -> Candidates:
    """Active customers whose latest activity is `silent_days` old or more, or who have none."""
    t = ctx.thresholds
    latest = (
        select(func.max(Activity.occurred_at))
        .where(Activity.customer_id == Customer.id)
        .scalar_subquery()
    )
    customers = (
        select(Customer.id, Customer.owner_id, Customer.name, latest.label("last_at"))
        .where(Customer.org_id == ctx.org_id, Customer.status == CustomerStatus.ACTIVE)
        .offset(0)  # fences: PostgreSQL would otherwise copy the subqueries into every use
        .subquery("active")
    )
    pipeline = (
        select(func.coalesce(func.sum(money(Deal.amount)), 0))
        .where(Deal.customer_id == customers.c.id, Deal.status == DealStatus.OPEN)
        .scalar_subquery()
    )
    quiet = (
        select(customers, ctx.age(customers.c.last_at).label("days"), pipeline.label("pipeline"))
        .where(
            or_(
                customers.c.last_at.is_(None), customers.c.last_at <= ctx.days_before(t.silent_days)
            )
        )
        .offset(0)
        .subquery("quiet")
    )
    never = quiet.c.days.is_(None)
    score = (
        number(30)
        + func.coalesce(_age_points(quiet.c.days - t.silent_days), number(MAX_AGE_POINTS))
        + ctx.amount_points(quiet.c.pipeline)
    )
    title = case(
        (never, joined(quiet.c.name, ": no activity on record")),
        else_=joined(quiet.c.name, ": no activity for ", days_ago_text(quiet.c.days)),
    )
    silence = case(
        (never, literal(" on record.")),
        else_=joined(
            " in ", days_ago_text(quiet.c.days), f" (the rule looks for {t.silent_days} days)."
        ),
    )
    stake = case(
        (quiet.c.pipeline > 0, joined(" Open deals worth ", ctx.amount(quiet.c.pipeline), ".")),
        else_=literal(""),
    )
    reasoning = joined(
        quiet.c.name, " is an active customer with no call, meeting, email or note", silence, stake
    )
    return select(*_row(quiet.c.id, quiet.c.owner_id, literal(""), score, title, reasoning))


def stale_deals(ctx: RuleContext) -> Candidates:
    """Open deals whose stage changed more than `stale_deal_days` ago."""
    t = ctx.thresholds
    days = ctx.age(Deal.stage_changed_at)
    score = (
        number(35) + _age_points(days - t.stale_deal_days) + ctx.amount_points(money(Deal.amount))
    )
    title = joined("Deal stuck: ", Deal.title, " (", Customer.name, ")")
    reasoning = joined(
        "The ",
        ctx.amount(money(Deal.amount)),
        " deal has been in ",
        as_text(Deal.stage),
        " for ",
        days_ago_text(days),
        f" (the rule looks for more than {t.stale_deal_days} days). "
        "A short follow-up tells you whether it is still alive.",
    )
    owner = func.coalesce(Deal.owner_id, Customer.owner_id)
    return (
        select(*_row(Deal.customer_id, owner, as_text(Deal.id), score, title, reasoning))
        .join(Customer, Customer.id == Deal.customer_id)
        .where(
            Deal.org_id == ctx.org_id,
            Deal.status == DealStatus.OPEN,
            Deal.stage_changed_at < ctx.days_before(t.stale_deal_days),
        )
    )


def overdue_tasks(ctx: RuleContext) -> Candidates:
    """Open tasks on a customer whose due time passed more than `task_grace_days` ago."""
    t = ctx.thresholds
    days = ctx.age(Task.due_at)
    score = number(40) + _age_points(days - t.task_grace_days)
    title = joined("Overdue task for ", Customer.name, ": ", Task.title)
    reasoning = joined("Due ", days_ago_text(days), " ago and still open.")
    owner = func.coalesce(Task.assignee_id, Customer.owner_id)
    return (
        select(*_row(Task.customer_id, owner, as_text(Task.id), score, title, reasoning))
        .join(Customer, Customer.id == Task.customer_id)
        .where(
            Task.org_id == ctx.org_id,
            Task.status == TaskStatus.OPEN,
            Task.due_at < ctx.days_before(t.task_grace_days),
        )
    )


def overdue_invoices(ctx: RuleContext) -> Candidates:
    """Unpaid invoices whose due date passed more than `invoice_grace_days` ago."""
    t = ctx.thresholds
    days = ctx.age(Invoice.due_at)
    amount = money(Invoice.amount)
    score = number(40) + _age_points(days - t.invoice_grace_days) + ctx.amount_points(amount)
    title = joined(Customer.name, ": invoice ", Invoice.external_id, " is overdue")
    reasoning = joined(
        "Invoice ",
        Invoice.external_id,
        " for ",
        ctx.amount(amount),
        " was due ",
        days_ago_text(days),
        " ago and is still unpaid.",
    )
    return (
        select(
            *_row(
                Invoice.customer_id, Customer.owner_id, as_text(Invoice.id), score, title, reasoning
            )
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(
            Invoice.org_id == ctx.org_id,
            Invoice.paid_at.is_(None),
            Invoice.due_at < ctx.days_before(t.invoice_grace_days),
        )
    )


def _upsell_signals(ctx: RuleContext) -> Any:
    """Won deals and positive meetings in the window: (customer_id, at, amount, what, won)."""
    t = ctx.thresholds
    since = ctx.days_before(t.upsell_window_days)
    won = select(
        Deal.customer_id,
        Deal.stage_changed_at.label("at"),
        money(Deal.amount).label("amount"),
        Deal.title.label("what"),
        number(1).label("won"),
    ).where(
        Deal.org_id == ctx.org_id,
        Deal.status == DealStatus.WON,
        Deal.stage_changed_at.between(since, ctx.now),
    )
    recent = (
        select(
            Activity.customer_id,
            Activity.occurred_at,
            Activity.summary,
            func.lower(Activity.summary).label("text"),
        )
        .where(
            Activity.org_id == ctx.org_id,
            func.lower(Activity.kind).in_(t.positive_activity_kinds),
            Activity.occurred_at.between(since, ctx.now),
        )
        .offset(0)  # a fence, so lower(summary) is computed once, not once per word
        .subquery("recent")
    )
    met = select(
        recent.c.customer_id,
        recent.c.occurred_at,
        money(literal(0)),
        func.substr(recent.c.summary, 1, 140),
        number(0),
    ).where(
        or_(*(recent.c.text.contains(w.lower(), autoescape=True) for w in t.positive_words)),
        ~or_(*(recent.c.text.contains(w.lower(), autoescape=True) for w in t.negative_words)),
    )
    return union_all(won, met).subquery("signal")


def upsells(ctx: RuleContext) -> Candidates:
    """Active customers with no open deal and a fresh won deal or positive meeting."""
    signal = _upsell_signals(ctx)
    latest = (
        select(
            signal,
            func.row_number()
            .over(
                partition_by=signal.c.customer_id,
                order_by=(signal.c.at.desc(), signal.c.won.desc()),
            )
            .label("rank"),
        )
    ).subquery("latest")
    days = ctx.age(latest.c.at)
    freshness = smaller_of(number(MAX_AGE_POINTS), number(MAX_AGE_POINTS) - days)
    score = number(20) + case((freshness > 0, freshness), else_=number(0))
    score = score + ctx.amount_points(latest.c.amount)
    what = case(
        (
            latest.c.won == 1,
            joined(
                " signed '",
                latest.c.what,
                "' (",
                ctx.amount(latest.c.amount),
                ") ",
                days_ago_text(days),
                " ago",
            ),
        ),
        else_=joined(
            " had a positive meeting ", days_ago_text(days), ' ago ("', latest.c.what, '")'
        ),
    )
    reasoning = joined(
        Customer.name, what, " and has no open deal: a good moment to propose the next order."
    )
    open_deal = exists().where(Deal.customer_id == Customer.id, Deal.status == DealStatus.OPEN)
    return (
        select(
            *_row(
                Customer.id,
                Customer.owner_id,
                literal(""),
                score,
                joined("Upsell: ", Customer.name),
                reasoning,
            )
        )
        .join(Customer, Customer.id == latest.c.customer_id)
        .where(and_(latest.c.rank == 1, Customer.status == CustomerStatus.ACTIVE, ~open_deal))
    )


@dataclass(frozen=True)
class Rule:
    """A rule's SELECT and the draft an Accept proposes."""

    candidates: Callable[[RuleContext], Candidates]
    action: DraftKind


# Every rule proposes an email except upsell, which proposes an order draft to quote from.
RULES: dict[SuggestionRule, Rule] = {
    SuggestionRule.SILENT_ACCOUNT: Rule(silent_accounts, DraftKind.EMAIL),
    SuggestionRule.STALE_DEAL: Rule(stale_deals, DraftKind.EMAIL),
    SuggestionRule.OVERDUE_TASK: Rule(overdue_tasks, DraftKind.EMAIL),
    SuggestionRule.OVERDUE_INVOICE: Rule(overdue_invoices, DraftKind.EMAIL),
    SuggestionRule.UPSELL: Rule(upsells, DraftKind.ORDER),
}
