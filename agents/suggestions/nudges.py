"""Who hears about which suggestions, and when: each rep's top few open suggestions, in one
message a day at most, inside their working hours in their own timezone.

"One a day" is a once-only claim per rep and local day (`once_claim`), taken in the same
transaction that marks the suggestions nudged; the message is posted after that commits. A
crash between the two loses that day's message rather than sending it twice; a failed post
gives the claim back (`release`) so the next scan tries again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agents.suggestions.settings import SuggestionSettings
from storage.models import DraftKind, Suggestion, SuggestionRule, SuggestionStatus, User
from storage.types import zone
from storage.uow import UnitOfWork

NUDGE = "nudge"
RENUDGE_DAYS = 3  # a suggestion already sent waits this long before it can be sent again


@dataclass(frozen=True)
class Item:
    """One suggestion as the nudge shows it, with what became of it so far."""

    suggestion_id: int
    customer: str
    rule: SuggestionRule
    title: str
    reasoning: str
    action: DraftKind
    score: int
    status: SuggestionStatus = SuggestionStatus.OPEN
    decided_by: str | None = None  # Slack user id of whoever decided
    reason: str | None = None
    snoozed_until: datetime | None = None
    owner: str | None = None  # Slack user id of the owning rep, where a list mixes reps


@dataclass(frozen=True)
class Nudge:
    """One message for one rep (claimed: nobody else will send it)."""

    org_id: int
    user_id: int
    slack_user_id: str
    local_day: date
    items: tuple[Item, ...]

    @property
    def claim_key(self) -> str:
        return claim_key(self.user_id, self.local_day)


def claim_key(user_id: int, local_day: date) -> str:
    """The once-only key: one nudge per rep per local day."""
    return f"{user_id}:{local_day.isoformat()}"


def in_working_hours(now: datetime, timezone: str, settings: SuggestionSettings) -> bool:
    """Monday to Friday, between the configured hours, on the rep's own clock."""
    local = now.astimezone(zone(timezone))
    return local.weekday() < 5 and settings.work_start_hour <= local.hour < settings.work_end_hour


def claim_nudges(
    uow: UnitOfWork,
    org_id: int,
    *,
    now: datetime,
    settings: SuggestionSettings,
    by: str,
    anytime: bool = False,
) -> list[Nudge]:
    """Claim and mark today's nudges of every rep of the org who is at work (or `anytime`) and
    has open suggestions not sent recently. The caller commits, then posts them."""
    since = now - timedelta(days=RENUDGE_DAYS)
    nudges = []
    for owner_id in uow.suggestions.owners_to_nudge(org_id, not_nudged_since=since):
        user = uow.orgs.user(org_id, owner_id)
        if user is None or not user.slack_user_id:
            continue  # not in Slack yet: nowhere to send it
        if not anytime and not in_working_hours(now, user.timezone, settings):
            continue  # a later scan, inside their hours, sends it
        nudge = _claim(uow, user, now=now, since=since, settings=settings, by=by)
        if nudge is not None:
            nudges.append(nudge)
    return nudges


def release(uow: UnitOfWork, nudge: Nudge) -> None:
    """Give back a nudge whose message could not be posted, so a later scan sends it."""
    uow.claims.release(nudge.org_id, NUDGE, nudge.claim_key)
    uow.suggestions.clear_nudged(nudge.org_id, [i.suggestion_id for i in nudge.items])


def _claim(
    uow: UnitOfWork,
    user: User,
    *,
    now: datetime,
    since: datetime,
    settings: SuggestionSettings,
    by: str,
) -> Nudge | None:
    local_day = now.astimezone(zone(user.timezone)).date()
    key = claim_key(user.id, local_day)
    if not uow.claims.claim(user.org_id, NUDGE, key, by=by):
        return None  # already sent today, by us or another worker
    top = uow.suggestions.top_for_rep(
        user.org_id, user.id, not_nudged_since=since, limit=settings.nudge_top
    )
    if not top:
        return None
    uow.suggestions.mark_nudged(user.org_id, [s.id for s in top], at=now)
    return _nudge(uow, user, top, now)


def nudge_of(uow: UnitOfWork, suggestion: Suggestion) -> Nudge | None:
    """The nudge message a suggestion went out in, as it should look now: every suggestion
    sent with it (same rep, same instant), each with its decision so far."""
    if suggestion.owner_id is None or suggestion.nudged_at is None:
        return None
    owner = uow.orgs.user(suggestion.org_id, suggestion.owner_id)
    if owner is None or not owner.slack_user_id:
        return None
    sent = uow.suggestions.nudged_together(
        suggestion.org_id, suggestion.owner_id, suggestion.nudged_at
    )
    return _nudge(uow, owner, sent, suggestion.nudged_at)


def _nudge(uow: UnitOfWork, user: User, sent: list[Suggestion], at: datetime) -> Nudge:
    assert user.slack_user_id is not None
    return Nudge(
        org_id=user.org_id,
        user_id=user.id,
        slack_user_id=user.slack_user_id,
        local_day=at.astimezone(zone(user.timezone)).date(),
        items=tuple(items_of(uow, sent)),
    )


def items_of(uow: UnitOfWork, suggestions: list[Suggestion], *, owners: bool = False) -> list[Item]:
    """Suggestions as people read them: customer names, and who decided (and, with `owners`,
    who owns each) as Slack user ids."""
    if not suggestions:
        return []
    org_id = suggestions[0].org_id
    customer_ids = {s.customer_id for s in suggestions}
    names = {c.id: c.name for c in uow.crm.customers_by_id(org_id, customer_ids)}
    slack_ids = {u.id: u.slack_user_id for u in uow.orgs.users(org_id)}
    return [
        _item(
            s,
            names.get(s.customer_id, "a customer"),
            slack_ids.get(s.decided_by_id or 0),
            owner=slack_ids.get(s.owner_id or 0) if owners else None,
        )
        for s in suggestions
    ]


def _item(
    s: Suggestion, customer: str, decided_by: str | None = None, owner: str | None = None
) -> Item:
    return Item(
        suggestion_id=s.id,
        customer=customer,
        rule=s.rule,
        title=s.title,
        reasoning=s.reasoning,
        action=s.proposed_action,
        score=s.priority_score,
        status=s.status,
        decided_by=decided_by,
        reason=s.dismiss_reason,
        snoozed_until=s.snoozed_until,
        owner=owner,
    )
