"""Instrument a process built from settings: metrics fed by metering and the job queue, and
the readiness checks of what it depends on."""

from __future__ import annotations

from dataclasses import dataclass

from bot.observability.metrics import Metrics
from bot.observability.readiness import Readiness, readiness_for
from bot.observability.wsgi import WSGIApp, observed
from bot.services import Services


@dataclass(frozen=True)
class Instruments:
    """What a process reports through /metrics and /readyz."""

    metrics: Metrics
    readiness: Readiness

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """`app` behind the observability middleware."""
        return observed(app, metrics=self.metrics, readiness=self.readiness)


def instrument(services: Services) -> Instruments:
    """Metrics for this process's model calls, budget refusals and job queue, and its checks.

    The meter and the budget guard are built in bot/services.py; their observer is set here,
    once per process, before any request or job runs."""
    metrics = Metrics()
    services.meter.observer = metrics
    services.budgets.observer = metrics
    metrics.watch_queue(services.runner.pending)
    timeout = services.settings.observability.readiness_timeout_seconds
    return Instruments(metrics, readiness_for(services, timeout=timeout))
