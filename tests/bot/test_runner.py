"""The in-process runner: named tasks, failures logged, periodic scheduling that stops, jobs
tied to a transaction, and the periodic schedule's placeholders."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import pytest

from bot.periodic import PURGE_RETENTION, SCAN_SUGGESTIONS, schedule_periodic
from bot.runner import InProcessRunner
from storage.uow import UnitOfWork
from tests.stack import running_stack


def test_every_defers_the_task_repeatedly_until_shutdown():
    runner = InProcessRunner(workers=1)
    ticks = []
    enough = threading.Event()

    def task(_payload):
        ticks.append(1)
        if len(ticks) >= 3:
            enough.set()

    runner.register("tick", task)
    runner.every(0.01, "tick")
    assert enough.wait(5), "the periodic task did not run three times"
    runner.shutdown(wait=True)
    settled = len(ticks)
    time.sleep(0.05)
    assert len(ticks) == settled  # nothing runs after shutdown


def test_a_failing_task_is_logged_and_the_runner_goes_on(caplog):
    runner = InProcessRunner(workers=1)
    done = threading.Event()
    runner.register("boom", lambda _p: 1 / 0)
    runner.register("ok", lambda _p: done.set())
    runner.defer("boom", {})
    runner.defer("ok", {})
    assert done.wait(5)
    runner.shutdown(wait=True)
    assert "job boom failed" in caplog.text


def test_an_unknown_task_is_refused_before_anything_is_queued():
    runner = InProcessRunner(workers=1)
    with pytest.raises(KeyError, match="nope"):
        runner.defer("nope", {})
    assert runner.idle()
    runner.shutdown(wait=True)


def _recorder(runner):
    done = threading.Event()
    seen = []

    def task(payload):
        seen.append(payload)
        done.set()

    runner.register("record", task)
    return seen, done


def test_a_job_deferred_in_a_transaction_runs_only_once_it_commits(sqlite_factory):
    runner = InProcessRunner(workers=1)
    seen, done = _recorder(runner)
    with UnitOfWork(sqlite_factory) as uow:
        uow.orgs.ensure(slack_team_id="T_TX")
        runner.defer_in(uow.session, "record", {"team": "T_TX"})
        assert runner.idle() and seen == []  # neither queued nor run before the commit
        uow.commit()
    assert done.wait(5)
    runner.shutdown(wait=True)
    assert seen == [{"team": "T_TX"}]


@pytest.mark.parametrize("ending", ["rollback", "close without commit"])
def test_a_job_deferred_in_a_transaction_that_does_not_commit_never_runs(sqlite_factory, ending):
    runner = InProcessRunner(workers=1)
    seen, _done = _recorder(runner)
    with UnitOfWork(sqlite_factory) as uow:
        uow.orgs.ensure(slack_team_id="T_GONE")
        runner.defer_in(uow.session, "record", {"team": "T_GONE"})
        if ending == "rollback":
            uow.session.rollback()
            uow.commit()  # a later commit of the same session must not bring the job back
    with UnitOfWork(sqlite_factory) as uow:
        assert uow.orgs.by_team("T_GONE") is None
    runner.shutdown(wait=True)
    assert seen == []


def test_every_payload_carries_its_period():
    runner = InProcessRunner(workers=1)
    seen, done = _recorder(runner)
    runner.every(0.01, "record")
    assert done.wait(5)
    runner.shutdown(wait=True)
    assert isinstance(seen[0]["timestamp"], int)


def test_a_periodic_task_without_a_body_says_so_and_a_registered_body_is_kept(tmp_path, caplog):
    with running_stack(tmp_path) as stack:
        runner = InProcessRunner(workers=1)  # none of the app's registrations
        services = dataclasses.replace(stack.services, runner=runner)
        purged = threading.Event()
        runner.register(PURGE_RETENTION, lambda _p: purged.set())
        schedule_periodic(services)
        with caplog.at_level(logging.INFO, logger="bot.periodic"):
            runner.defer(SCAN_SUGGESTIONS, {})
            runner.defer(PURGE_RETENTION, {})
            runner.shutdown(wait=True)
    assert purged.is_set()
    assert "periodic task scan_suggestions has no body registered yet" in caplog.text
    assert "purge_retention" not in caplog.text
