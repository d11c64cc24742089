"""Nudges through the real app and the workspace emulator: each rep's top suggestions in one
DM a day inside their working hours; Accept drafts it, Dismiss asks why, Snooze waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.actions import ActionId
from bot.suggestion_jobs import scan_org
from storage.models import OnceClaim, Suggestion, SuggestionStatus, User
from storage.uow import UnitOfWork
from tests.stack import running_stack

# A Wednesday, 15:00 UTC: the demo CRM (seeded today) is months old by then, so every active
# account has gone quiet and every open deal is stuck.
NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)


def _nudges(stack, user: str):
    return [m for m in stack.bot_replies(user) if m.thread_ts is None]


def _suggestions(stack, **where):
    with UnitOfWork(stack.services.factory) as uow:
        stmt = select(Suggestion).filter_by(org_id=stack.org_id, **where).order_by(Suggestion.id)
        return list(uow.session.scalars(stmt))


def _user_id(stack, slack_id: str) -> int:
    with UnitOfWork(stack.services.factory) as uow:
        return uow.session.scalar(select(User.id).where(User.slack_user_id == slack_id))


def test_each_rep_gets_one_nudge_a_day_with_their_top_suggestions(tmp_path):
    with running_stack(tmp_path) as stack:
        opened = scan_org(stack.services, stack.org_id, now=NOW)
        [maya] = _nudges(stack, "U_REP1")
        [leo] = _nudges(stack, "U_REP2")
        scan_org(stack.services, stack.org_id, now=NOW + timedelta(hours=2))
        later_same_day = len(_nudges(stack, "U_REP1"))
        mine = _suggestions(stack, owner_id=_user_id(stack, "U_REP1"))
    assert opened > 0
    accepts = [b for b in maya.blocks if b.get("block_id", "").startswith("suggestion_actions:")]
    assert len(accepts) == 3  # the top three
    sent = sorted(int(b["block_id"].split(":")[1]) for b in accepts)
    top = sorted(mine, key=lambda s: (-s.priority_score, s.first_seen_at, s.id))[:3]
    assert sent == sorted(s.id for s in top)
    assert all(s.nudged_at is not None for s in top)
    assert later_same_day == 1  # one message a day, however often the scan runs
    assert leo.ts != maya.ts


def test_nobody_is_nudged_outside_working_hours(tmp_path):
    night = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
    saturday = datetime(2027, 3, 13, 11, 0, tzinfo=UTC)
    with running_stack(tmp_path) as stack:
        scan_org(stack.services, stack.org_id, now=night)
        scan_org(stack.services, stack.org_id, now=saturday)
        nothing = _nudges(stack, "U_REP1")
        with UnitOfWork(stack.services.factory) as uow:
            claims = list(uow.session.scalars(select(OnceClaim)))
        scan_org(stack.services, stack.org_id, now=NOW)
        monday_to_friday = _nudges(stack, "U_REP1")
    assert nothing == [] and [c for c in claims if c.kind == "nudge"] == []
    assert len(monday_to_friday) == 1


def test_accept_drafts_it_in_the_nudges_thread(tmp_path):
    with running_stack(tmp_path) as stack:
        scan_org(stack.services, stack.org_id, now=NOW)
        [nudge] = _nudges(stack, "U_REP1")
        assert stack.click("U_REP1", nudge, ActionId.SUGGESTION_ACCEPT) == 200
        stack.wait_idle()
        [updated] = _nudges(stack, "U_REP1")
        [accepted] = _suggestions(stack, status=SuggestionStatus.ACCEPTED)
        replies = [m for m in stack.bot_replies("U_REP1", nudge.ts) if m.ts != nudge.ts]
    assert f"suggestion_actions:{accepted.id}" in [
        b.get("block_id") for b in updated.blocks if b["type"] == "context"
    ]
    assert "Accepted by <@U_REP1>" in str(updated.blocks)
    assert accepted.decided_by_id == _user_id(stack, "U_REP1")
    assert any(b["type"] == "header" for m in replies for b in m.blocks)  # a draft card


def test_dismiss_asks_why_and_snooze_waits(tmp_path):
    with running_stack(tmp_path) as stack:
        scan_org(stack.services, stack.org_id, now=NOW)
        [nudge] = _nudges(stack, "U_REP1")
        assert stack.click("U_REP1", nudge, ActionId.SUGGESTION_DISMISS) == 200
        modal = stack.slack.opened_views()[-1]
        assert stack.submit("U_REP1", modal, {"reason": "Called them yesterday"}) == 200
        stack.wait_idle()
        [nudge] = _nudges(stack, "U_REP1")
        assert stack.choose("U_REP1", nudge, ActionId.SUGGESTION_SNOOZE, "Snooze 1 week") == 200
        stack.wait_idle()
        [dismissed] = _suggestions(stack, status=SuggestionStatus.DISMISSED)
        [snoozed] = _suggestions(stack, status=SuggestionStatus.SNOOZED)
        [final] = _nudges(stack, "U_REP1")
    assert dismissed.dismiss_reason == "Called them yesterday"
    assert snoozed.snoozed_until - snoozed.decided_at == timedelta(days=7)
    text = str(final.blocks)
    assert "Dismissed by <@U_REP1>: “Called them yesterday”" in text
    assert "Snoozed by <@U_REP1> until" in text
    assert text.count("suggestion_accept") == 1  # only the third is still open


def test_someone_elses_suggestion_is_not_theirs_to_decide(tmp_path):
    with running_stack(tmp_path) as stack:
        scan_org(stack.services, stack.org_id, now=NOW)
        [nudge] = _nudges(stack, "U_REP1")
        assert stack.click("U_REP2", nudge, ActionId.SUGGESTION_ACCEPT) == 200
        stack.wait_idle()
        accepted = _suggestions(stack, status=SuggestionStatus.ACCEPTED)
        whispers = stack.slack.ephemeral_messages()
    assert accepted == []
    assert any("Only its owner or a manager" in e.text for e in whispers)

