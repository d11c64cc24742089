"""/readyz: can this process do its work right now? The database answers `SELECT 1`, Redis
answers PING (when REDIS_URL is set), and the job engine can take jobs.

The checks run at once, each given a short time; one that does not answer in time fails.
/healthz (bot/http.py) stays a liveness check: a process whose database is down is alive
and should not be restarted, only taken out of the load balancer until it is ready again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from bot.services import Services
from storage.cache import ClaimStore

log = logging.getLogger(__name__)

Check = Callable[[], None]  # returns when fine, raises when not
OK = "ok"


@dataclass(frozen=True)
class Verdict:
    """Each check's result ("ok" or why not) and the HTTP answer they make."""

    results: dict[str, str]

    @property
    def ready(self) -> bool:
        """Every check passed."""
        return all(result == OK for result in self.results.values())

    @property
    def failing(self) -> list[str]:
        """Names of the checks that did not pass."""
        return [name for name, result in self.results.items() if result != OK]

    def body(self) -> dict[str, Any]:
        """The JSON /readyz answers with."""
        if self.ready:
            return {"status": "ready", "checks": self.results}
        return {"status": "unavailable", "failing": self.failing, "checks": self.results}


class Readiness:
    """Named checks run concurrently, each within `timeout` seconds."""

    def __init__(self, checks: Mapping[str, Check], *, timeout: float) -> None:
        self._checks = dict(checks)
        self._timeout = timeout

    def verdict(self) -> Verdict:
        """Run every check now, on daemon threads: one that hangs is reported and left behind
        without holding up the answer or the process's exit."""
        late = f"no answer within {self._timeout:g} s"
        results = dict.fromkeys(self._checks, late)
        lock = threading.Lock()

        def run(name: str, check: Check) -> None:
            outcome = _outcome(name, check)
            with lock:
                results[name] = outcome

        threads = [
            threading.Thread(target=run, args=item, name=f"countersign-readyz-{item[0]}")
            for item in self._checks.items()
        ]
        deadline = time.monotonic() + self._timeout
        for thread in threads:
            thread.daemon = True
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with lock:
            return Verdict(dict(results))


def _outcome(name: str, check: Check) -> str:
    try:
        check()
    except Exception as error:
        # The class only: /readyz may be reachable from outside; the log has the rest.
        log.warning("readiness check %s failed: %s", name, error)
        return f"failed ({type(error).__name__})"
    return OK


def readiness_for(services: Services, *, timeout: float) -> Readiness:
    """The checks this process depends on: database, Redis when configured, job engine."""
    checks: dict[str, Check] = {"database": lambda: select_one(services.engine)}
    if services.settings.storage.redis_url:
        checks["redis"] = lambda: ping(services.store)
    checks["jobs"] = services.runner.check_ready
    return Readiness(checks, timeout=timeout)


def select_one(engine: Engine) -> None:
    """A round trip to the database on a pooled connection."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def ping(store: ClaimStore) -> None:
    """Redis answers PING (the store has short socket timeouts of its own)."""
    if not store.ping():
        raise ConnectionError("Redis did not answer PING")
