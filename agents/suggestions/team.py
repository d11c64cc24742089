"""What `/ai-suggest` and App Home show: a rep's own open suggestions, or a manager's team's.

A manager's team is the people whose `manager_id` is theirs (and themselves); a manager with
nobody recorded under them, and every admin, sees the whole org: in a small sales team the
CRM often has no reporting lines, and an empty summary would only say the data is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agents.suggestions.nudges import Item, items_of
from storage.models import Role, SuggestionRule, User
from storage.repositories.suggestions import OpenSummary, RuleAcceptance
from storage.uow import UnitOfWork

ACCEPTANCE_DAYS = 30  # the window of "how often do people act on this rule"


@dataclass(frozen=True)
class RepLine:
    """One rep's open suggestions in a team summary."""

    name: str
    slack_user_id: str | None
    open: int
    top_rule: SuggestionRule | None


@dataclass(frozen=True)
class TeamView:
    """Open suggestions of a scope (one rep, a team or the org), for people to read."""

    scope: str  # "yours", "your team's", "the whole org's"
    summary: OpenSummary
    top: tuple[Item, ...]
    reps: tuple[RepLine, ...] = ()
    unowned: int = 0
    acceptance: dict[SuggestionRule, RuleAcceptance] = field(default_factory=dict)
    acceptance_days: int = ACCEPTANCE_DAYS


def is_manager(user: User) -> bool:
    """Managers and admins see team summaries and may decide others' suggestions."""
    return user.role in (Role.MANAGER, Role.ADMIN)


def own_view(uow: UnitOfWork, user: User, *, limit: int = 5) -> TeamView:
    """A rep's own open suggestions, best first."""
    summary = uow.suggestions.open_summary(user.org_id, owner_ids=[user.id])
    top = uow.suggestions.top_open(user.org_id, owner_ids=[user.id], limit=limit)
    return TeamView(scope="yours", summary=summary, top=tuple(items_of(uow, top)))


def team_view(uow: UnitOfWork, manager: User, *, now: datetime, limit: int = 5) -> TeamView:
    """A manager's team (or, see the module docstring, the org): counts per rep and rule,
    the highest-scored open suggestions, and how often each rule's suggestions get acted on."""
    org_id = manager.org_id
    people = uow.orgs.users(org_id)
    team = _team_of(manager, people)
    owner_ids = None if team is None else [u.id for u in team]
    summary = uow.suggestions.open_summary(org_id, owner_ids=owner_ids)
    top = uow.suggestions.top_open(org_id, owner_ids=owner_ids, limit=limit)
    since = now - timedelta(days=ACCEPTANCE_DAYS)
    return TeamView(
        scope="the whole org's" if team is None else "your team's",
        summary=summary,
        top=tuple(items_of(uow, top, owners=True)),
        reps=_rep_lines(summary, team if team is not None else people),
        unowned=summary.by_owner.get(None, 0) if team is None else 0,
        acceptance=uow.suggestions.acceptance_by_rule(org_id, since=since, until=now),
    )


def _team_of(manager: User, people: list[User]) -> list[User] | None:
    """The manager and their direct reports; None (the whole org) for admins, or when the
    CRM records nobody under this manager."""
    if manager.role == Role.ADMIN:
        return None
    reports = [u for u in people if u.manager_id == manager.id]
    return [manager, *reports] if reports else None


def _rep_lines(summary: OpenSummary, people: list[User]) -> tuple[RepLine, ...]:
    """Reps with open suggestions, most first."""
    lines = []
    for person in people:
        count = summary.by_owner.get(person.id, 0)
        if not count:
            continue
        rules = {r: n for (o, r), n in summary.by_owner_rule.items() if o == person.id}
        top_rule = max(rules, key=lambda r: (rules[r], r.value)) if rules else None
        lines.append(RepLine(person.name, person.slack_user_id, count, top_rule))
    return tuple(sorted(lines, key=lambda line: (-line.open, line.name)))
