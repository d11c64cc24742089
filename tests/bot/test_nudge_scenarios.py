"""Nudges through the real app and the workspace emulator: each rep's top suggestions in one
DM a day inside their working hours; Accept drafts it, Dismiss asks why, Snooze waits."""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agents.suggestions.settings import SuggestionSettings
from bot.actions import ActionId
from bot.cli import main
from bot.services import build_services
from bot.suggestion_jobs import scan_org
from storage.models import Customer, CustomerStatus, OnceClaim, Suggestion, SuggestionStatus, User
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
    assert opened.open > 0 and opened.nudged >= 2
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


NUDGE_CHANNEL = "C_NUDGES"
INTERVAL = 0.05  # seconds between posts into one channel (1.0 in production: Slack's limit)


def _team_of_reps(factory, org_id: int, n: int) -> None:
    """`n` reps, each owning one active customer nobody has talked to: one suggestion each."""
    with UnitOfWork(factory) as uow:
        for i in range(n):
            rep = User(
                org_id=org_id,
                email=f"rep{i}@pace.example",
                name=f"Rep {i}",
                slack_user_id=f"U_PACE{i:03d}",
            )
            uow.session.add(rep)
            uow.flush()
            uow.session.add(
                Customer(
                    org_id=org_id,
                    external_id=f"PACE-{i}",
                    name=f"Pace Account {i}",
                    status=CustomerStatus.ACTIVE,
                    owner_id=rep.id,
                )
            )
        uow.commit()


def _posts(stack):
    return [
        c for c in stack.slack.calls_to("chat.postMessage") if c.params["channel"] == NUDGE_CHANNEL
    ]


def _assert_paced_and_delivered_once(stack, n: int) -> None:
    """Every rep's nudge is in the channel exactly once, and the posts into it (retries
    included) kept the pace."""
    shown = " ".join(str(m.blocks) for m in stack.slack.channel_messages(NUDGE_CHANNEL))
    assert [shown.count(f"<@U_PACE{i:03d}>") for i in range(n)] == [1] * n
    calls = _posts(stack)
    gaps = [b.at - a.at for a, b in zip(calls, calls[1:], strict=False)]
    # The pace is kept where the posts are sent; they arrive with a few ms of jitter.
    assert min(gaps) >= INTERVAL / 2
    assert (calls[-1].at - calls[0].at) / len(gaps) >= INTERVAL


def _pacing_settings() -> SuggestionSettings:
    return SuggestionSettings(
        nudge_channel=NUDGE_CHANNEL, nudge_top=1, channel_interval_seconds=INTERVAL
    )


def test_300_nudges_to_one_channel_are_paced_and_survive_429s(tmp_path):
    with running_stack(tmp_path, suggest=_pacing_settings()) as stack:
        stack.slack.add_channel(NUDGE_CHANNEL, "nudges")
        _team_of_reps(stack.services.factory, stack.org_id, 300)
        stack.slack.fail_next("chat.postMessage", retry_after=1, times=3)
        scan_org(stack.services, stack.org_id, now=NOW)
        ratelimited = [c for c in _posts(stack) if c.status == 429]
        _assert_paced_and_delivered_once(stack, 300)
        delivered = len([c for c in _posts(stack) if c.ok])
        scan_org(stack.services, stack.org_id, now=NOW + timedelta(hours=1))
        later = len([c for c in _posts(stack) if c.ok])
    assert len(ratelimited) == 3  # answered 429 + Retry-After, then retried
    assert later == delivered >= 300  # nobody is nudged twice the same day


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_scanning_at_once_share_one_pace_and_send_each_nudge_once(
    tmp_path, pg_url, pg_factory, redis_url
):
    """Two processes' worth of services on PostgreSQL and Redis: the once-only claims split
    the reps between them, and the Redis limiter paces their posts into the one channel."""
    with (
        running_stack(
            tmp_path, database_url=pg_url, redis_url=redis_url, suggest=_pacing_settings()
        ) as stack,
        closing(build_services(stack.settings)) as other,
    ):
        stack.slack.add_channel(NUDGE_CHANNEL, "nudges")
        _team_of_reps(stack.services.factory, stack.org_id, 60)
        barrier = threading.Barrier(2)

        def scan(services):
            barrier.wait()
            scan_org(services, stack.org_id, now=NOW)

        threads = [threading.Thread(target=scan, args=(s,)) for s in (stack.services, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _assert_paced_and_delivered_once(stack, 60)


def test_cli_suggest_now_scans_and_nudges_once(tmp_path, monkeypatch, capsys):
    with running_stack(tmp_path) as stack:
        for name in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SLACK_BOT_TOKEN", stack.settings.slack.bot_token.get_secret_value())
        monkeypatch.setenv("SLACK_API_URL", stack.slack.api_url)
        monkeypatch.setenv("COUNTERSIGN_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("COUNTERSIGN_LOG_LEVEL", "WARNING")
        assert main(["suggest", "--now"]) == 0
        first = capsys.readouterr().out
        assert main(["suggest", "--now"]) == 0
        second = capsys.readouterr().out
        nudged = _nudges(stack, "U_REP1") + _nudges(stack, "U_REP2")
    open_now = int(first.split(": ")[1].split()[0])
    assert open_now > 0 and first.strip().endswith(f"{len(nudged)} nudged") and nudged
    assert second.strip() == f"Demo Co: {open_now} open suggestions, 0 nudged"
