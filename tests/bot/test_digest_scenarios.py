"""The daily digest through the real app and the workspace emulator: once per org and day
however many schedulers tick, its chart in its thread, failures kept on the claim, the CLI."""

from __future__ import annotations

import threading
from contextlib import ExitStack, closing
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.digest import DIGEST, due_digests, run_digest
from bot.sandbox import ADMIN_CHANNEL, sandbox
from bot.services import build_services
from bot.settings import DigestSettings, RuntimeSettings
from storage.models import (
    BudgetMetric,
    BudgetPeriod,
    BudgetScope,
    CallStatus,
    LLMCall,
    OnceClaim,
    Org,
)
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.stack import offline_agents, running_stack

NOW = datetime(2027, 3, 10, 18, 0, tzinfo=UTC)  # 18:00 in UTC, 13:00 in New York
DAY = date(2027, 3, 9)
DOLLAR = 1_000_000
PNG = b"\x89PNG\r\n\x1a\n"


def _spend(factory, org_id: int, day: date, cost: int, **fields) -> None:
    values = {
        "created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        "org_id": org_id,
        "agent": "customer",
        "request_type": "chat",
        "model": "claude-sonnet-5-5",
        "cost_micro_usd": cost,
        "status": CallStatus.OK,
    }
    with UnitOfWork(factory) as uow:
        uow.usage.record(LLMCall(**(values | fields)), day=day)
        uow.commit()


def _add_org(factory, team: str, name: str, timezone: str) -> int:
    with UnitOfWork(factory) as uow:
        org = Org(slack_team_id=team, name=name, timezone=timezone)
        uow.session.add(org)
        uow.commit()
        return org.id


def _org_daily_budget(factory, org_id: int, limit: int) -> None:
    with UnitOfWork(factory) as uow:
        uow.budgets.put(
            org_id,
            scope=BudgetScope.ORG,
            target="",
            period=BudgetPeriod.DAY,
            metric=BudgetMetric.COST,
            limit_value=limit,
            soft_pct=80,
            updated_by_id=None,
        )
        uow.commit()


def _digests(stack):
    """Top-level digest messages in the admin channel (the chart's share is a thread reply)."""
    return [
        m
        for m in stack.slack.channel_messages(ADMIN_CHANNEL)
        if m.thread_ts is None and m.blocks and m.blocks[0]["type"] == "header"
    ]


def _header(message) -> str:
    return message.blocks[0]["text"]["text"]


def _text(message) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in message.blocks)


def _claims(factory, kind=DIGEST):
    with UnitOfWork(factory) as uow:
        stmt = select(OnceClaim).where(OnceClaim.kind == kind).order_by(OnceClaim.org_id)
        return list(uow.session.scalars(stmt))


@pytest.mark.postgres
def test_three_concurrent_schedulers_post_exactly_one_digest_per_org_per_day(
    tmp_path, pg_url, pg_factory
):
    with running_stack(tmp_path, database_url=pg_url) as stack, ExitStack() as others:
        factory = stack.services.factory
        other_org = _add_org(factory, "T_NORDIC", "Nordic Pumps", "America/New_York")
        for org_id in (stack.org_id, other_org):
            _spend(factory, org_id, DAY, 2 * DOLLAR)
        # three schedulers: the app's own services and two more processes' worth
        schedulers = [stack.services] + [
            others.enter_context(closing(build_services(stack.settings))) for _ in range(2)
        ]
        barrier = threading.Barrier(len(schedulers))
        runs: list = []

        def tick(services, name):
            barrier.wait()
            runs.extend(due_digests(services, NOW, by=name))

        threads = [
            threading.Thread(target=tick, args=(s, f"scheduler-{n}"))
            for n, s in enumerate(schedulers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        digests = _digests(stack)
        claims = _claims(factory)
        again = [due_digests(s, NOW + timedelta(hours=3), by="late") for s in schedulers]
        digests_after = _digests(stack)
        files = stack.slack.files

    assert sorted(_header(m).split(" · ")[1] for m in digests) == ["Demo Co", "Nordic Pumps"]
    assert [(c.org_id, c.key) for c in claims] == [
        (stack.org_id, "2027-03-09"),
        (other_org, "2027-03-09"),
    ]
    assert all(c.result.startswith("posted") and c.done_at for c in claims)
    assert sorted(r.org_id for r in runs if r.status == "sent") == sorted([stack.org_id, other_org])
    assert all(r.status in ("sent", "already_sent") for r in runs)
    assert again == [[], [], []] and len(digests_after) == 2  # a second tick posts nothing
    assert len(files) == 2 and {f.channel for f in files} == {ADMIN_CHANNEL}
    assert {f.thread_ts for f in files} == {m.ts for m in digests}


@pytest.mark.postgres
def test_the_claim_alone_lets_one_of_many_racing_runs_post(tmp_path, pg_url, pg_factory):
    """No "is it claimed yet?" look first: every run goes straight for the claim."""
    with running_stack(tmp_path, database_url=pg_url) as stack, ExitStack() as others:
        schedulers = [stack.services] + [
            others.enter_context(closing(build_services(stack.settings))) for _ in range(2)
        ]
        racers = schedulers * 3
        barrier = threading.Barrier(len(racers))
        runs: list = []

        def race(services, name):
            barrier.wait()
            runs.append(run_digest(services, stack.org_id, DAY, by=name, now=NOW))

        threads = [
            threading.Thread(target=race, args=(s, f"run-{n}")) for n, s in enumerate(racers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        digests = _digests(stack)
        [claim] = _claims(stack.services.factory)
    assert sorted(r.status for r in runs) == ["already_sent"] * 8 + ["sent"]
    [winner] = [r for r in runs if r.status == "sent"]
    assert len(digests) == 1 and claim.result == winner.detail


def test_nothing_is_due_before_the_digest_time_in_the_orgs_own_timezone(tmp_path):
    with running_stack(tmp_path) as stack:
        factory = stack.services.factory
        other_org = _add_org(factory, "T_NORDIC", "Nordic Pumps", "America/New_York")
        # 10:00 UTC: past 08:30 for the demo org (UTC), 05:00 in New York
        runs = due_digests(stack.services, datetime(2027, 3, 10, 10, 0, tzinfo=UTC), by="s")
        assert [(r.org_id, r.day, r.status) for r in runs] == [(stack.org_id, DAY, "sent")]
        early = due_digests(stack.services, datetime(2027, 3, 10, 12, 0, tzinfo=UTC), by="s")
        assert early == []  # still 07:00 in New York, and the demo org's is done
        late = due_digests(stack.services, datetime(2027, 3, 10, 13, 30, tzinfo=UTC), by="s")
        assert [(r.org_id, r.day) for r in late] == [(other_org, DAY)]
        assert len(_digests(stack)) == 2


def test_the_digest_shows_the_numbers_and_its_chart_goes_into_its_thread(tmp_path):
    with running_stack(tmp_path) as stack:
        factory = stack.services.factory
        _spend(factory, stack.org_id, DAY, 2_500_000, agent="drafting")
        _spend(factory, stack.org_id, DAY, 0, status=CallStatus.ERROR)
        _spend(factory, stack.org_id, DAY - timedelta(days=1), 2 * DOLLAR)
        _spend(factory, stack.org_id, DAY - timedelta(days=7), 5 * DOLLAR)
        _org_daily_budget(factory, stack.org_id, DOLLAR)
        _spend(factory, stack.org_id, NOW.date(), 900_000)  # today: 90 % of the budget
        run = run_digest(stack.services, stack.org_id, DAY, by="test", now=NOW)
        [digest] = _digests(stack)
        [chart] = stack.slack.files
        thread = stack.slack.thread(ADMIN_CHANNEL, digest.ts)

    assert run.status == "sent" and run.detail == f"posted {digest.ts} with chart"
    assert _header(digest) == "AI cost digest · Demo Co · Tue 9 Mar 2027"
    text = _text(digest)
    lines = text.split("```")[1].strip("\n").split("\n")
    assert lines[0].split() == ["Tue", "9", "Mar", "$2.50", "2", "calls"]
    assert lines[1].split()[-3:] == ["$2.00", "+25", "%"]
    assert lines[2].split()[-3:] == ["$5.00", "−50", "%"]
    assert lines[5].split()[:3] == ["Failures", "1", "of"]
    assert len({line.index("$") for line in lines[:3]}) == 1  # amounts right-aligned
    assert "Month to date" in text and "Cache savings" in text
    assert "*Last 30 days*  `" in text and "▁" in text and "█" in text
    assert "*Top agents*" in text and "drafting" in text
    assert ":warning: The org's daily budget: $0.90 of $1.00 (90 %) · resets <!date^" in text
    assert chart.name == "ai-cost-2027-03-09.png" and chart.content.startswith(PNG)
    assert (chart.channel, chart.thread_ts) == (ADMIN_CHANNEL, digest.ts)
    assert [m.files[0]["id"] for m in thread if m.files] == [chart.id]


def test_a_failed_post_is_kept_on_the_claim_and_not_retried(tmp_path):
    with running_stack(tmp_path) as stack:
        stack.slack.fail_next("chat.postMessage", error="not_in_channel", status=200)
        first = run_digest(stack.services, stack.org_id, DAY, by="a", now=NOW)
        second = run_digest(stack.services, stack.org_id, DAY, by="b", now=NOW)
        [claim] = _claims(stack.services.factory)
        posted = _digests(stack)
    assert (first.status, first.detail) == ("failed", "failed: not_in_channel")
    assert second.status == "already_failed" and "failed: not_in_channel" in second.detail
    assert claim.result == "failed: not_in_channel" and claim.claimed_by == "a"
    assert posted == []


def test_a_failed_chart_upload_leaves_the_digest_posted(tmp_path):
    with running_stack(tmp_path) as stack:
        stack.slack.fail_next("files.getUploadURLExternal", error="internal_error", status=200)
        run = run_digest(stack.services, stack.org_id, DAY, by="a", now=NOW)
        [claim] = _claims(stack.services.factory)
        assert len(_digests(stack)) == 1 and stack.slack.files == []
    assert run.status == "sent" and run.detail.endswith("chart failed: internal_error")
    assert claim.result == run.detail


def test_without_an_admin_channel_nothing_is_claimed_or_posted(tmp_path):
    with sandbox(
        tmp_path,
        agents=offline_agents(),
        runtime=RuntimeSettings(log_level="WARNING"),
        digest=DigestSettings(admin_channel=None),
    ) as stack:
        run = run_digest(stack.services, stack.org_id, DAY, by="a", now=NOW)
        due = due_digests(stack.services, NOW, by="a")
        claims = _claims(stack.services.factory)
        messages = stack.slack.channel_messages(ADMIN_CHANNEL)
    assert run.status == "skipped" and due == [] and claims == [] and messages == []


def _cli_env(monkeypatch, stack, tmp_path, **extra):
    for name in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "SLACK_BOT_TOKEN": stack.settings.slack.bot_token.get_secret_value(),
        "SLACK_API_URL": stack.slack.api_url,
        "COUNTERSIGN_DATA_DIR": str(tmp_path),
        "COUNTERSIGN_ADMIN_CHANNEL": ADMIN_CHANNEL,
        "COUNTERSIGN_LOG_LEVEL": "WARNING",
    } | extra
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_cli_digest_now_posts_once_and_then_says_it_was_already_sent(tmp_path, monkeypatch, capsys):
    yesterday = (utcnow() - timedelta(days=1)).date()
    with running_stack(tmp_path) as stack:
        _cli_env(monkeypatch, stack, tmp_path)
        assert main(["digest", "--now"]) == 0
        first = capsys.readouterr().out
        assert main(["digest", "--now"]) == 0
        second = capsys.readouterr().out
        digests = _digests(stack)
        [claim] = _claims(stack.services.factory)
    assert f"Demo Co: digest of {yesterday} posted" in first
    assert f"Demo Co: digest of {yesterday} was already sent" in second
    assert claim.result in second and len(digests) == 1


def test_cli_digest_posts_what_is_due_and_nothing_twice(tmp_path, monkeypatch, capsys):
    with running_stack(tmp_path) as stack:
        _cli_env(monkeypatch, stack, tmp_path, COUNTERSIGN_DIGEST_TIME="00:00")  # always due
        assert main(["digest"]) == 0
        first = capsys.readouterr().out
        assert main(["digest"]) == 0
        second = capsys.readouterr().out
        digests = _digests(stack)
    assert "posted" in first and len(digests) == 1
    assert second.startswith("nothing to post")


def test_cli_digest_without_an_admin_channel_says_so(tmp_path, monkeypatch, capsys):
    with running_stack(tmp_path) as stack:
        _cli_env(monkeypatch, stack, tmp_path)
        monkeypatch.delenv("COUNTERSIGN_ADMIN_CHANNEL")
        assert main(["digest", "--now"]) == 2
        assert "COUNTERSIGN_ADMIN_CHANNEL" in capsys.readouterr().err
        assert _digests(stack) == []
