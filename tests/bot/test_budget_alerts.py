"""Budget alerts in the admin channel: one at the alert threshold and one when a budget is hit,
per budget and period, however many processes and threads see the crossing."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agents.metering.budgets import BudgetExceeded, Crossing
from agents.metering.rules import CallScope
from agents.metering.settings import CostSettings
from bot.budget_alerts import (
    BUDGET_ALERT,
    crossing_from_payload,
    crossing_payload,
    post_budget_alert,
    register_alert_jobs,
)
from bot.sandbox import ADMIN_CHANNEL, sandbox
from bot.services import build_services
from bot.settings import DigestSettings, RuntimeSettings
from storage.models import BudgetMetric, BudgetPeriod, BudgetScope, OnceClaim
from storage.uow import UnitOfWork
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.stack import SALES, model_agents, offline_agents, running_stack

DOLLAR = 1_000_000


@pytest.fixture
def anthropic_api():
    with FakeAnthropicAPI() as fake:
        yield fake


def _alerts(stack) -> list[str]:
    return [m.text for m in stack.slack.channel_messages(ADMIN_CHANNEL)]


def _claims(factory) -> list[OnceClaim]:
    with UnitOfWork(factory) as uow:
        stmt = select(OnceClaim).where(OnceClaim.kind == BUDGET_ALERT).order_by(OnceClaim.key)
        return list(uow.session.scalars(stmt))


def _wait_idle(*all_services, timeout=15.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(s.runner.idle() for s in all_services):
        assert time.monotonic() < deadline, "alert jobs still running"
        time.sleep(0.01)


def _org_budget(factory, org_id: int, limit: int, soft_pct: int = 80) -> None:
    with UnitOfWork(factory) as uow:
        uow.budgets.put(
            org_id,
            scope=BudgetScope.ORG,
            target="",
            period=BudgetPeriod.DAY,
            metric=BudgetMetric.COST,
            limit_value=limit,
            soft_pct=soft_pct,
            updated_by_id=None,
        )
        uow.commit()


def _crossing(**overrides) -> Crossing:
    values = {
        "org_id": 1,
        "budget": "Maya Chen's daily budget",
        "key": "1:user:7:day:cost:2027-03-10:80",
        "threshold_pct": 80,
        "used": 17 * DOLLAR,
        "limit": 20 * DOLLAR,
        "metric": BudgetMetric.COST,
        "resets_at": datetime(2027, 3, 11, tzinfo=UTC),
    }
    return Crossing(**(values | overrides))


def test_a_budget_hit_while_asking_is_announced_once_with_its_reset(tmp_path, anthropic_api):
    cost = CostSettings(org_daily_budget_usd=0.001)  # below any call's estimate
    with running_stack(tmp_path, agents=model_agents(anthropic_api.base_url), cost=cost) as stack:
        for _ in range(3):
            stack.sender.post_event(stack.mention_envelope("what's going on with Halvorsen?"))
            stack.wait_idle()
        refusals = [m for m in stack.slack.ephemeral_messages(SALES) if m.ephemeral_to]
        alerts = _alerts(stack)
        [claim] = _claims(stack.services.factory)
    anthropic_api.assert_done()  # nothing reached the model
    assert len(refusals) == 3
    [alert] = alerts
    assert alert.startswith(":no_entry: *The org's daily budget is used up*")
    assert "$0.0000 of $0.0010 used" in alert
    assert "Requests are being refused until it resets <!date^" in alert
    assert claim.key.endswith(":100") and claim.result.startswith("posted")


@pytest.mark.postgres
def test_many_processes_and_threads_crossing_the_same_budget_alert_once_per_threshold(
    tmp_path, pg_url, pg_factory
):
    with running_stack(tmp_path, database_url=pg_url) as stack, ExitStack() as others:
        _org_budget(stack.services.factory, stack.org_id, DOLLAR)  # $1 a day, alert at 80 %
        processes = [stack.services] + [
            others.enter_context(closing(build_services(stack.settings))) for _ in range(2)
        ]
        for services in processes[1:]:
            register_alert_jobs(services)
        stack.services.budgets.forget(stack.org_id)
        call = CallScope(stack.org_id, None, None, "chat")
        racers = processes * 4  # each process counts on its own (no Redis): all of them cross
        barrier = threading.Barrier(len(racers))
        outcomes: list[str] = []

        def spend(services):
            barrier.wait()
            try:
                services.budgets.reserve(call, 850_000)  # 85 % of the budget
                outcomes.append("held")
            except BudgetExceeded:
                outcomes.append("refused")

        threads = [threading.Thread(target=spend, args=(s,)) for s in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _wait_idle(*processes)
        alerts = _alerts(stack)
        claims = _claims(stack.services.factory)

    assert sorted(outcomes) == ["held"] * 3 + ["refused"] * 9
    assert len(alerts) == 2
    soft, hit = sorted(alerts, key=lambda text: ":no_entry:" in text)
    assert soft.startswith(":warning: *The org's daily budget has passed 80 %*")
    assert "$0.85 of $1.00 used (85 %)" in soft
    assert hit.startswith(":no_entry: *The org's daily budget is used up*")
    assert "refused until it resets" in hit
    assert sorted(c.key.rsplit(":", 1)[1] for c in claims) == ["100", "80"]
    assert len({c.key.rsplit(":", 1)[0] for c in claims}) == 1  # the same budget and period


def test_each_budget_and_period_is_announced_once(tmp_path):
    with running_stack(tmp_path) as stack:
        services = stack.services
        today = crossing_payload(_crossing(org_id=stack.org_id))
        tomorrow = crossing_payload(
            _crossing(
                org_id=stack.org_id,
                key="1:user:7:day:cost:2027-03-11:80",
                resets_at=datetime(2027, 3, 12, tzinfo=UTC),
            )
        )
        posted = [post_budget_alert(services, p) for p in (today, today, tomorrow, today)]
        alerts = _alerts(stack)
    assert posted == [True, False, True, False]
    assert len(alerts) == 2 and all("Maya Chen's daily budget has passed 80 %" in a for a in alerts)


def test_the_job_payload_is_plain_json_and_round_trips():
    crossing = _crossing(threshold_pct=100, metric=BudgetMetric.REQUESTS, used=2_000, limit=2_000)
    payload = json.loads(json.dumps(crossing_payload(crossing)))
    assert crossing_from_payload(payload) == crossing


def test_a_failed_post_is_kept_on_the_claim_and_not_repeated(tmp_path):
    with running_stack(tmp_path) as stack:
        stack.slack.fail_next("chat.postMessage", error="channel_not_found", status=200)
        payload = crossing_payload(_crossing(org_id=stack.org_id))
        first = post_budget_alert(stack.services, payload)
        second = post_budget_alert(stack.services, payload)
        [claim] = _claims(stack.services.factory)
        alerts = _alerts(stack)
    assert (first, second, alerts) == (False, False, [])
    assert claim.result == "failed: channel_not_found"


def test_call_limits_are_worded_as_calls_and_the_reset_is_relative(tmp_path):
    resets = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    crossing = _crossing(
        budget="the plan's daily call limit",
        threshold_pct=100,
        metric=BudgetMetric.REQUESTS,
        used=2_000,
        limit=2_000,
        resets_at=resets,
    )
    with running_stack(tmp_path) as stack:
        assert post_budget_alert(stack.services, crossing_payload(crossing))
        [alert] = _alerts(stack)
    assert alert.startswith(":no_entry: *The plan's daily call limit is used up* — 2,000 of 2,000")
    assert "(in 5 h 29 min)" in alert or "(in 5 h 30 min)" in alert


def test_without_an_admin_channel_nothing_is_claimed(tmp_path):
    with sandbox(
        tmp_path,
        agents=offline_agents(),
        runtime=RuntimeSettings(log_level="WARNING"),
        digest=DigestSettings(admin_channel=None),
    ) as stack:
        posted = post_budget_alert(stack.services, crossing_payload(_crossing(org_id=1)))
        claims = _claims(stack.services.factory)
        messages = stack.slack.channel_messages(ADMIN_CHANNEL)
    assert (posted, claims, messages) == (False, [], [])
