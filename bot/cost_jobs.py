"""`/ai-cost` after the ack: parse, check who asks, build the report, and answer ephemerally
through the command's response_url (it works in any channel, bot member or not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agents.costs import report as reports
from agents.costs.budget_admin import set_budget
from agents.costs.command import (
    Breakdown,
    BudgetList,
    BudgetSet,
    CostCommand,
    Export,
    Help,
    Overview,
    PersonReport,
    parse,
)
from agents.costs.periods import period
from agents.metering.money import usd_cents
from bot.blocks import notice
from bot.cost_blocks import (
    budget_list_blocks,
    budget_set_text,
    help_blocks,
    report_blocks,
)
from bot.cost_export import export_csv, export_filename, upload_to_dm
from bot.services import Services
from bot.slash_reply import Reply, reply_ephemerally
from storage.models import Role
from storage.types import utcnow
from storage.uow import UnitOfWork

COST_COMMAND = "cost_command"
REFUSAL = "Only admins can see org-wide AI cost; try `/ai-cost me`."


@dataclass(frozen=True)
class Caller:
    """Who ran the command, in which org, and what the org's clock says."""

    org_id: int
    org_name: str
    slack_user_id: str
    user_id: int | None
    name: str
    is_admin: bool
    tz: ZoneInfo
    now: datetime

    @property
    def today(self) -> date:
        """The org-local date."""
        return reports.local_today(self.now, self.tz)


def register_cost_jobs(services: Services) -> None:
    """Make `/ai-cost` runnable by name."""
    services.runner.register(COST_COMMAND, lambda p: run_cost_command(services, p))


def cost_payload(command: dict[str, Any]) -> dict[str, Any]:
    """The job payload of one `/ai-cost` (plain JSON)."""
    return {
        "team_id": command["team_id"],
        "channel": command["channel_id"],
        "user": command["user_id"],
        "text": command.get("text") or "",
        "response_url": command["response_url"],
    }


def run_cost_command(services: Services, payload: dict[str, Any]) -> None:
    """Answer one `/ai-cost` ephemerally."""
    reply_ephemerally(payload["response_url"], "/ai-cost", lambda: answer(services, payload))


def answer(services: Services, payload: dict[str, Any]) -> Reply:
    """The reply to one `/ai-cost` command text."""
    command = parse(payload["text"])
    if isinstance(command, Help):
        return _help(command)
    caller = _caller(services, payload)
    if caller is None:
        return _notice("This workspace isn't set up in Countersign yet, so there's no cost.")
    mine = isinstance(command, PersonReport) and command.slack_user_id is None
    if not (caller.is_admin or mine):
        return _notice(f":lock: {REFUSAL}")
    return _dispatch(services, caller, command)


def _dispatch(services: Services, caller: Caller, command: CostCommand) -> Reply:
    match command:
        case Overview():
            return _overview(services, caller)
        case Breakdown():
            return _breakdown(services, caller, command)
        case PersonReport():
            return _person(services, caller, command)
        case BudgetList():
            return _budget_list(services, caller)
        case BudgetSet():
            return _budget_set(services, caller, command)
        case Export():
            return _export(services, caller, command)
        case Help():
            return _help(command)


def _caller(services: Services, payload: dict[str, Any]) -> Caller | None:
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        if org is None:
            return None
        user = uow.orgs.user_by_slack_id(org.id, payload["user"])
    return Caller(
        org_id=org.id,
        org_name=org.name,
        slack_user_id=payload["user"],
        user_id=user.id if user else None,
        name=user.name if user else payload["user"],
        is_admin=user is not None and user.role == Role.ADMIN,
        tz=services.budgets.timezone(org.id),
        now=utcnow(),
    )


def _overview(services: Services, caller: Caller) -> Reply:
    with UnitOfWork(services.factory) as uow:
        report = reports.overview(uow.usage, caller.org_id, today=caller.today, tz=caller.tz)
    return _report(report)


def _breakdown(services: Services, caller: Caller, command: Breakdown) -> Reply:
    with UnitOfWork(services.factory) as uow:
        report = reports.breakdown(
            uow.usage, caller.org_id, command.by, command.period, today=caller.today, tz=caller.tz
        )
    return _report(report)


def _person(services: Services, caller: Caller, command: PersonReport) -> Reply:
    slack_id = command.slack_user_id or caller.slack_user_id
    rules = services.budgets.rules_for(caller.org_id)
    with UnitOfWork(services.factory) as uow:
        user = uow.orgs.user_by_slack_id(caller.org_id, slack_id)
        if user is None:
            if command.slack_user_id is None:
                return _notice("You haven't used Countersign's AI yet: nothing spent, $0.00.")
            return _notice(f"<@{slack_id}> isn't linked to anyone in the CRM yet.")
        report = reports.person(
            uow.usage,
            caller.org_id,
            rules,
            user_id=user.id,
            name=user.name,
            period_name=command.period,
            now=caller.now,
            tz=caller.tz,
        )
    return _report(report)


def _budget_list(services: Services, caller: Caller) -> Reply:
    rules = services.budgets.rules_for(caller.org_id)
    with UnitOfWork(services.factory) as uow:
        statuses = reports.budget_statuses(
            uow.usage, caller.org_id, rules, now=caller.now, tz=caller.tz
        )
    return f"{len(statuses)} AI budgets", budget_list_blocks(statuses, caller.tz.key)


def _budget_set(services: Services, caller: Caller, command: BudgetSet) -> Reply:
    change = set_budget(
        services.factory,
        services.budgets,
        org_id=caller.org_id,
        actor_id=caller.user_id,
        command=command,
    )
    if isinstance(change, Help):
        return _help(change)
    return _notice(budget_set_text(change))


def _export(services: Services, caller: Caller, command: Export) -> Reply:
    p = period(command.period, caller.today)
    with UnitOfWork(services.factory) as uow:
        rows = reports.export_rows(uow.usage, caller.org_id, p, caller.tz)
    total = sum(row.totals.cost_micro_usd for row in rows)
    described = reports.describe_period(p)
    upload_to_dm(
        services.slack_for_org(caller.org_id),
        slack_user_id=caller.slack_user_id,
        content=export_csv(rows),
        filename=export_filename(caller.org_name, p),
        comment=f"AI usage export · {described} · {len(rows):,} rows · {usd_cents(total)}",
    )
    return _notice(
        f":page_facing_up: Sent you a CSV in our DM: {described}, {len(rows):,} rows, "
        f"{usd_cents(total)} in total (days in {caller.tz.key})."
    )


def _report(report: reports.CostReport) -> Reply:
    first = report.total or (report.lines[0] if report.lines else None)
    summary = f" · {first.label}: {usd_cents(first.current.cost_micro_usd)}" if first else ""
    return f"{report.title}{summary}", report_blocks(report)


def _help(command: Help) -> Reply:
    return command.reason or "How to use /ai-cost", help_blocks(command.reason)


def _notice(text: str) -> Reply:
    return text, notice(text)
