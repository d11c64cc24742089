"""`/ai-cost` through the served app: signed slash commands in, ephemeral replies out through
each command's response_url at the Slack emulator, files in the admin's DM."""

import csv
import io
import json
import re
import threading
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from agents.costs import report as reports
from agents.costs.report import BudgetStatus
from agents.metering.rules import BudgetRule
from bot.cost_blocks import MAX_BLOCKS, SECTION_LIMIT, budget_list_blocks
from bot.cost_jobs import COST_COMMAND, REFUSAL, run_cost_command
from bot.emulator import slash_command
from storage.models import (
    AuditEvent,
    BudgetMetric,
    BudgetPeriod,
    BudgetScope,
    CallStatus,
    LLMCall,
)
from storage.types import utcnow
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, running_stack

ADMIN, MAYA, LEO = "U_ADMIN1", "U_REP1", "U_REP2"


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path) as running:
        yield running


def ai_cost(stack, user, text, *, channel=SALES):
    """Run `/ai-cost text` as `user`; returns the one ephemeral reply it got."""
    body = slash_command(TEAM, channel, user, "/ai-cost", text, emulator_url=stack.slack.base_url)
    response_id = parse_qs(body)["response_url"][0].rsplit("/", 1)[1]
    status, _, ack_body, _ = stack.sender.post_form(body)
    assert (status, ack_body) == (200, "")
    stack.wait_idle()
    replies = [
        call.params
        for call in stack.slack.calls_to("response_url")
        if call.params["response_id"] == response_id
    ]
    assert len(replies) == 1, replies
    reply = replies[0]
    assert reply["response_type"] == "ephemeral"
    _within_block_kit_limits(reply["blocks"])
    return reply


def _within_block_kit_limits(blocks):
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def text_of(reply):
    return json.dumps(reply["blocks"], ensure_ascii=False)


def code_blocks(reply):
    return [
        block["text"]["text"].strip("`\n").splitlines()
        for block in reply["blocks"]
        if block.get("text", {}).get("text", "").startswith("```")
    ]


def table_rows(reply):
    """The report table's cells by row label (columns are two or more spaces apart)."""
    first, *_ = code_blocks(reply)
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in first)}


def budget_rows(reply):
    """The budget table's cells by budget name (with its source)."""
    last = code_blocks(reply)[-1]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in last)}


def user_id(stack, slack_id):
    with UnitOfWork(stack.services.factory) as uow:
        return uow.orgs.user_by_slack_id(stack.org_id, slack_id).id


def spend(stack, slack_id, cost, *, status=CallStatus.OK, saved=0, tokens=(1000, 200)):
    """One ledger row now, written as the Meter writes it (roll-up on the org-local day)."""
    now = utcnow()
    row = LLMCall(
        created_at=now,
        org_id=stack.org_id,
        user_id=user_id(stack, slack_id),
        agent="account",
        request_type="chat",
        model="claude-sonnet-5-5",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_micro_usd=cost,
        saved_micro_usd=saved,
        status=status,
    )
    with UnitOfWork(stack.services.factory) as uow:
        uow.usage.record(row, day=stack.services.meter.local_day(stack.org_id, now, uow))
        uow.commit()


@pytest.fixture
def spent(stack):
    spend(stack, MAYA, 1_500_000)
    spend(stack, MAYA, 0, status=CallStatus.CACHED, saved=1_500_000)
    spend(stack, LEO, 250_000, tokens=(400, 100))
    return stack


def test_admin_gets_the_overview_with_aligned_numbers_and_the_cache_savings(spent):
    reply = ai_cost(spent, ADMIN, "")
    assert reply["blocks"][0]["type"] == "header"
    assert reply["blocks"][0]["text"]["text"] == "AI cost"
    rows = table_rows(reply)
    assert rows["All time"] == ["3", "1,700", "$1.75", "–"]
    assert list(rows)[1:] == [
        "Today",
        "Yesterday",
        "This week",
        "This month",
        "Last month",
        "All time",
    ]
    header, *lines = code_blocks(reply)[0]
    cost_end = header.index("cost") + len("cost")
    assert all(line[cost_end - 1] != " " for line in lines)  # right-aligned under "cost"
    context = reply["blocks"][-1]["elements"][0]["text"]
    assert "UTC" in context and "cache hits are free" in context
    assert "$1.50 from 1 cached answer," in context
    assert reply["text"].startswith("AI cost")


def test_a_rep_is_refused_the_org_report_but_sees_their_own(spent):
    for text in ("", "users", "budget list", "export", "user <@U_REP2>"):
        reply = ai_cost(spent, MAYA, text)
        assert REFUSAL in reply["text"]
        assert "$" not in text_of(reply)
    mine = ai_cost(spent, MAYA, "me")
    assert mine["blocks"][0]["text"]["text"] == "AI cost · Maya Chen"
    rows = table_rows(mine)
    assert rows["All time"][:3] == ["2", "1,200", "$1.50"]  # Leo's $0.25 is not hers
    assert budget_rows(mine)["Maya Chen's daily budget (default)"][:3] == ["$1.50", "$20.00", "7%"]


def test_me_with_a_period_shows_that_period_against_the_one_before(spent):
    reply = ai_cost(spent, LEO, "me today")
    rows = table_rows(reply)
    assert list(rows)[1:] == ["Today"]
    assert rows["Today"] == ["1", "500", "$0.2500", "+$0.2500 (new)"]
    assert "compares with yesterday" in text_of(reply)


def test_someone_the_crm_does_not_know_is_told_they_spent_nothing(stack):
    reply = ai_cost(stack, "U_GUEST", "me")
    assert "nothing spent, $0.00" in reply["text"]
    assert REFUSAL in ai_cost(stack, "U_GUEST", "")["text"]


def test_users_breakdown_puts_the_biggest_spender_first(spent):
    reply = ai_cost(spent, ADMIN, "users all")
    assert reply["blocks"][0]["text"]["text"] == "AI cost by user"
    labels = list(table_rows(reply))
    assert labels[1:3] == ["Maya Chen", "Leo Okafor"]
    rows = table_rows(reply)
    # one sub-dollar amount: the whole column shows four decimals, so it still lines up
    assert rows["Maya Chen"][:3] == ["2", "1,200", "$1.5000"]
    assert rows["Total"][:3] == ["3", "1,700", "$1.7500"]


def test_admin_sees_one_persons_report(spent):
    reply = ai_cost(spent, ADMIN, "user <@U_REP2|leo> all")
    assert reply["blocks"][0]["text"]["text"] == "AI cost · Leo Okafor"
    assert table_rows(reply)["All time"][:3] == ["1", "500", "$0.2500"]


def test_budget_set_then_list_shows_it_and_the_change_is_audited(spent):
    reply = ai_cost(spent, ADMIN, "budget set user <@U_REP1|maya> $5/day")
    assert "Maya Chen's daily budget is now $5.00 (was $20.00, default)" in reply["text"]
    listed = text_of(ai_cost(spent, ADMIN, "budget list"))
    assert "Maya Chen's daily budget (admin)" in listed
    budgets = budget_rows(ai_cost(spent, ADMIN, "budget list"))
    assert budgets["Maya Chen's daily budget (admin)"][:3] == ["$1.50", "$5.00", "30%"]
    assert budgets["Each user's daily budget (default)"][:3] == ["$1.50", "$20.00", "7%"]
    assert "biggest: Maya Chen" in listed
    with UnitOfWork(spent.services.factory) as uow:
        events = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "budget.set")
        ).all()
        admin = uow.orgs.user_by_slack_id(spent.org_id, ADMIN)
    assert [(e.actor_id, e.detail["old"]["limit"], e.detail["new"]["limit"]) for e in events] == [
        (admin.id, 20_000_000, 5_000_000)
    ]
    maya = str(user_id(spent, MAYA))
    rules = spent.services.budgets.rules_for(spent.org_id)
    assert [r.limit for r in rules if r.target == maya] == [5_000_000]


def test_a_rep_cannot_set_a_budget(stack):
    reply = ai_cost(stack, MAYA, "budget set user <@U_REP1> unlimited/day")
    assert REFUSAL in reply["text"]
    with UnitOfWork(stack.services.factory) as uow:
        assert uow.budgets.for_org(stack.org_id) == []


def test_an_ambiguous_or_unknown_budget_target_gets_help(stack):
    reply = ai_cost(stack, ADMIN, "budget set customer Atlantis $5/day")
    assert "No customer matches `Atlantis`" in reply["text"]
    assert "/ai-cost budget set" in text_of(reply)


def _export(stack, period):
    reply = ai_cost(stack, ADMIN, f"export {period}")
    (file,) = stack.slack.files
    rows = list(csv.DictReader(io.StringIO(file.content.decode())))
    return reply, file, rows


def test_export_uploads_a_csv_to_the_admins_dm_whose_rows_sum_to_the_report(spent):
    reply, file, rows = _export(spent, "month")
    dm = spent.slack.calls_to("conversations.open")[-1].response["channel"]["id"]
    assert file.channel == dm and file.name.endswith(".csv")
    total = sum(Decimal(row["cost_usd"]) for row in rows)
    overview = table_rows(ai_cost(spent, ADMIN, ""))
    assert f"${total:,.2f}" == overview["This month"][2] == "$1.75"
    assert total == Decimal("1.750000")
    assert {row["user"] for row in rows} == {"Maya Chen", "Leo Okafor"}
    assert sum(int(row["tokens"]) for row in rows) == 1_700
    assert all(len(row["cost_usd"].split(".")[1]) == 6 for row in rows)
    assert f"{len(rows)} rows, $1.75 in total" in reply["text"]


def test_garbage_gets_the_help_text_with_the_reason(stack):
    for user in (ADMIN, MAYA):
        reply = ai_cost(stack, user, "frobnicate the spend")
        assert "I don't know `frobnicate`" in reply["text"]
        assert "/ai-cost budget set" in text_of(reply) and "Traceback" not in text_of(reply)
    unescaped = ai_cost(stack, ADMIN, "budget set user @maya $5/day")
    assert "`@maya` is not a person" in unescaped["text"]


def test_a_failure_is_answered_with_an_error_id_not_a_traceback(stack, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(reports, "overview", broken)
    reply = ai_cost(stack, ADMIN, "")
    assert "error id `" in reply["text"] and "on fire" not in text_of(reply)


def test_the_ack_does_not_wait_for_the_report(stack):
    gate = threading.Event()
    services = stack.services
    services.runner.register(
        COST_COMMAND, lambda payload: (gate.wait(10), run_cost_command(services, payload))
    )
    body = slash_command(TEAM, SALES, ADMIN, "/ai-cost", "", emulator_url=stack.slack.base_url)
    status, *_ = stack.sender.post_form(body)
    assert status == 200
    assert stack.slack.calls_to("response_url") == []  # acked while the job is still held
    gate.set()
    stack.wait_idle()
    assert len(stack.slack.calls_to("response_url")) == 1


@pytest.mark.redis
@pytest.mark.postgres
def test_budget_set_list_and_export_on_postgres_and_redis(tmp_path, pg_url, pg_factory, redis_url):
    with running_stack(tmp_path, database_url=pg_url, redis_url=redis_url) as stack:
        spend(stack, MAYA, 2_000_000)
        reply = ai_cost(stack, ADMIN, "budget set user <@U_REP1> $4/day soft 50%")
        assert "is now $4.00 (was $20.00, default); alerts at 50%" in reply["text"]
        budgets = budget_rows(ai_cost(stack, ADMIN, "budget list"))
        assert budgets["Maya Chen's daily budget (admin)"][:3] == ["$2.00", "$4.00", "50%"]
        _reply, _file, rows = _export(stack, "all")
        assert sum(Decimal(row["cost_usd"]) for row in rows) == Decimal("2.000000")


def test_a_long_budget_list_is_split_to_fit_block_kit():
    rule = BudgetRule(
        BudgetScope.USER, "7", BudgetPeriod.DAY, BudgetMetric.COST, 5_000_000, 80, "admin"
    )
    resets = datetime(2026, 3, 10, tzinfo=UTC)
    statuses = [BudgetStatus(rule, f"person {n}'s daily budget", n, resets) for n in range(400)]
    blocks = budget_list_blocks(statuses, "UTC")
    _within_block_kit_limits(blocks)
    assert len(blocks) > 3 and blocks[-1]["type"] == "context"
