"""The process's Prometheus metrics, in a registry of their own.

Each web and worker process is scraped on its own; sum the counters across them. The job
queue is one table shared by every process, so `countersign_job_queue_depth` reads the same
everywhere: take its max, not its sum."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from agents.metering.rules import BudgetRule
from storage.models import CallStatus, LLMCall

log = logging.getLogger(__name__)

# Acks must land well under Slack's 3 s; model calls take seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0)
MODEL_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
QUEUE_STATUSES = ("todo", "doing")


class Metrics:
    """Every metric Countersign exports; also the metering observer (agents/metering/observer)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._http()
        self._model()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)  # memory, CPU, file descriptors, GC pauses

    def _http(self) -> None:
        r = self.registry
        self.requests = Counter(
            "countersign_http_requests",
            "HTTP requests served, by route, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "countersign_http_request_duration_seconds",
            "Time to answer an HTTP request (for /slack/events: the ack).",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "countersign_slack_deliveries",
            "Slack deliveries by kind (event, command, action) and whether they were acked "
            "(answered 2xx; otherwise Slack shows an error or retries).",
            ["kind", "acked"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "countersign_slack_ack_duration_seconds",
            "Time from a Slack delivery's arrival to its answer, by kind.",
            ["kind"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )

    def _model(self) -> None:
        r = self.registry
        self.model_calls = Counter(
            "countersign_model_calls",
            "Model calls booked in the usage ledger, by model, agent and status "
            "(ok, error, cached: answered from the response cache).",
            ["model", "agent", "status"],
            registry=r,
        )
        self.model_tokens = Counter(
            "countersign_model_tokens",
            "Tokens billed by kind: input, output, cache_read, cache_write.",
            ["model", "kind"],
            registry=r,
        )
        self.model_cost = Counter(
            "countersign_model_cost_micro_usd",
            "Cost of model calls in micro-USD, as priced in the ledger.",
            ["model"],
            registry=r,
        )
        self.model_seconds = Histogram(
            "countersign_model_call_duration_seconds",
            "Latency of model calls that reached the model (not cache hits).",
            ["model"],
            buckets=MODEL_BUCKETS,
            registry=r,
        )
        self.budget_blocks = Counter(
            "countersign_budget_blocks",
            "Model calls refused before they were made, by the budget's scope, period and metric.",
            ["scope", "period", "metric"],
            registry=r,
        )

    # --- the metering observer (agents.metering.observer.CallObserver) ----------------------

    def on_call(self, row: LLMCall) -> None:
        """Count a booked call; a cache hit spent no tokens and cost nothing."""
        self.model_calls.labels(row.model, row.agent, str(row.status)).inc()
        if row.status == CallStatus.CACHED:
            return
        tokens = {
            "input": row.input_tokens,
            "output": row.output_tokens,
            "cache_read": row.cache_read_tokens,
            "cache_write": row.cache_write_5m_tokens + row.cache_write_1h_tokens,
        }
        for kind, count in tokens.items():
            if count:
                self.model_tokens.labels(row.model, kind).inc(count)
        self.model_cost.labels(row.model).inc(row.cost_micro_usd)
        self.model_seconds.labels(row.model).observe(row.latency_ms / 1000)

    def on_budget_block(self, rule: BudgetRule) -> None:
        """Count a refusal by the kind of budget (never by person: labels stay few)."""
        self.budget_blocks.labels(rule.scope.value, rule.period.value, rule.metric.value).inc()

    # --- scrape-time gauges ------------------------------------------------------------------

    def watch_queue(self, pending: Callable[[], Mapping[str, int]]) -> None:
        """Report the job queue's depth, read when scraped."""
        self.registry.register(QueueDepth(pending))


class QueueDepth:
    """`countersign_job_queue_depth{status}`: jobs waiting (todo) and running (doing)."""

    def __init__(self, pending: Callable[[], Mapping[str, int]]) -> None:
        self._pending = pending

    def describe(self) -> Iterator[Metric]:
        """The family without asking the queue (registration must not query the database)."""
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        """One short read of the queue; if it fails, the samples are left out (not zeros)."""
        family = self._family()
        try:
            counts = self._pending()
        except Exception as exc:  # a scrape must not fail because the queue cannot be read
            log.warning("job queue depth unreadable: %s", type(exc).__name__)
            yield family
            return
        for status in QUEUE_STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "countersign_job_queue_depth",
            "Background jobs waiting (todo) and running (doing).",
            labels=["status"],
        )
