"""The in-process runner: named tasks, failures logged, periodic scheduling that stops."""

from __future__ import annotations

import threading
import time

from bot.runner import InProcessRunner


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
