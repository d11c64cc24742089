"""Carrying out `/ai-cost budget set`, the one cost command that changes something: resolve
the target's name, save the budget, audit old and new, and make the guard reload."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from agents.costs.command import BudgetSet, Help, clip, scope_word
from agents.metering.budgets import BudgetGuard
from agents.metering.rules import EACH, BudgetRule
from storage.models import AuditEvent, BudgetMetric, BudgetScope
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class BudgetChange:
    """A budget as it was (the rule that applied before, if any) and as it is now."""

    name: str  # "Maya Chen's daily budget"
    before: BudgetRule | None
    after: BudgetRule


def set_budget(
    factory: sessionmaker[Session],
    guard: BudgetGuard,
    *,
    org_id: int,
    actor_id: int | None,
    command: BudgetSet,
) -> BudgetChange | Help:
    """Resolve the target, store the budget, audit old and new values, and make every
    later call see it (`guard.forget`). A target that can't be resolved is `Help`."""
    guard.forget(org_id)  # read the rules as they are now, not as cached
    with UnitOfWork(factory) as uow:
        resolved = resolve_target(uow, org_id, command)
        if isinstance(resolved, Help):
            return resolved
        target, label = resolved
        before = _rule_before(guard.rules_for(org_id), command, target)
        soft = command.soft_pct or (before.soft_pct if before else guard.settings.soft_limit_pct)
        row = uow.budgets.put(
            org_id,
            scope=command.scope,
            target=target,
            period=command.period,
            metric=command.metric,
            limit_value=command.limit,
            soft_pct=soft,
            updated_by_id=actor_id,
        )
        after = BudgetRule(
            command.scope, target, command.period, command.metric, command.limit, soft, "admin"
        )
        name = budget_name(after, label)
        uow.audit.add(_audit(org_id, actor_id, row.id, name, before, after))
        uow.commit()
    guard.forget(org_id)
    return BudgetChange(name, before, after)


def budget_name(rule: BudgetRule, label: str = "") -> str:
    """'the org's daily budget', "Maya Chen's daily budget", "each user's daily budget"."""
    if rule.target != EACH:
        return rule.describe(label)
    period_word = {"day": "daily", "week": "weekly", "month": "monthly"}[rule.period.value]
    what = "budget" if rule.metric == BudgetMetric.COST else "call limit"
    return f"each {scope_word(rule.scope)}'s {period_word} {what}"


def resolve_target(uow: UnitOfWork, org_id: int, command: BudgetSet) -> tuple[str, str] | Help:
    """(the stored target, a readable label): a user id for a Slack user, a customer id
    for a customer name or id; "" for the org and "*" for each one stay as they are."""
    if command.target in ("", EACH) or command.scope == BudgetScope.REQUEST_TYPE:
        return command.target, command.target
    if command.scope == BudgetScope.USER:
        user = uow.orgs.user_by_slack_id(org_id, command.target)
        if user is None:
            return Help(f"<@{command.target}> isn't linked to anyone in the CRM yet.")
        return str(user.id), user.name
    return _customer(uow, org_id, command.target)


def _customer(uow: UnitOfWork, org_id: int, text: str) -> tuple[str, str] | Help:
    """A customer by id, or by name or external id (case-insensitive, unambiguous)."""
    if text.isdigit() and (by_id := uow.crm.customer(org_id, int(text))) is not None:
        return str(by_id.id), by_id.name
    wanted = text.lower()
    found = uow.crm.search_customers(org_id, text, limit=50)
    exact = [c for c in found if wanted in (c.name.lower(), c.external_id.lower())]
    partial = [c for c in found if wanted in c.name.lower() or wanted in c.external_id.lower()]
    for candidates in (exact, partial):
        if len(candidates) == 1:
            return str(candidates[0].id), candidates[0].name
    if partial:
        names = ", ".join(f"{c.name} (`{c.id}`)" for c in partial[:10])
        return Help(f"`{clip(text)}` matches several customers: {names}. Say which one.")
    return Help(f"No customer matches `{clip(text)}`; use its name or its id.")


def _rule_before(rules: list[BudgetRule], command: BudgetSet, target: str) -> BudgetRule | None:
    """The rule this one replaces, or for one person/customer the "each" rule that applied."""
    slot = (command.scope, command.period, command.metric)
    same = [r for r in rules if (r.scope, r.period, r.metric) == slot]
    return next((r for r in same if r.target == target), None) or next(
        (r for r in same if r.target == EACH), None
    )


def _audit(
    org_id: int,
    actor_id: int | None,
    budget_id: int,
    name: str,
    before: BudgetRule | None,
    after: BudgetRule,
) -> AuditEvent:
    def values(rule: BudgetRule) -> dict[str, object]:
        return {
            "target": rule.target,
            "limit": rule.limit,
            "soft_pct": rule.soft_pct,
            "source": rule.source,
        }

    return AuditEvent(
        org_id=org_id,
        actor_id=actor_id,
        action="budget.set",
        subject_type="budget",
        subject_id=str(budget_id),
        result="saved",
        detail={
            "budget": name,
            "scope": after.scope.value,
            "period": after.period.value,
            "metric": after.metric.value,
            "old": values(before) if before else None,
            "new": values(after),
        },
    )
