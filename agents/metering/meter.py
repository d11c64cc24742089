"""Every model call writes one ledger row: exact tokens by kind, µUSD cost, latency, attribution."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from anthropic.types import Message
from sqlalchemy.orm import Session, sessionmaker

from agents.errors import ModelUnavailableError
from agents.llm.port import LLM, LLMRequest
from agents.metering.budgets import BudgetGuard, Hold
from agents.metering.estimate import estimate_micro_usd
from agents.metering.prices import Price, PriceCatalog, Usage
from agents.metering.response_cache import CachedResponse, ResponseCache
from agents.metering.rules import CallScope
from agents.tools.base import RunState
from storage.db import retry_on_lost_connection
from storage.models import CallStatus, LLMCall
from storage.types import utcnow, zone
from storage.uow import UnitOfWork

ZONE_CACHE_SECONDS = 300.0


@dataclass(kw_only=True)
class Attribution:
    """Who a call is for. `customer_id` is filled in as the run learns which customer it is."""

    org_id: int
    user_id: int | None
    on_behalf_of_user_id: int | None = None
    customer_id: int | None = None
    conversation_id: int | None = None
    channel_id: str | None = None
    route: str | None = None
    request_type: str = "chat"
    prompt_version: str | None = None


@dataclass(frozen=True)
class CallCost:
    """What one call cost, kept for the reply's context line."""

    model: str
    usage: Usage
    cost_micro_usd: int
    cached: bool = False


def usage_of(message: Message) -> Usage:
    """Final token counts by kind; 1-hour cache writes are split out when the API reports them."""
    raw = message.usage
    cache_write = raw.cache_creation_input_tokens or 0
    one_hour = 0
    if raw.cache_creation is not None:
        one_hour = raw.cache_creation.ephemeral_1h_input_tokens or 0
    return Usage(
        input_tokens=raw.input_tokens,
        output_tokens=raw.output_tokens,
        cache_write_5m_tokens=cache_write - one_hour,
        cache_write_1h_tokens=one_hour,
        cache_read_tokens=raw.cache_read_input_tokens or 0,
    )


class Meter:
    """Makes metered views of an LLM for one run; shared by every run of the process."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        catalog: PriceCatalog,
        budgets: BudgetGuard | None = None,
        cache: ResponseCache | None = None,
        clock: Callable[[], datetime] = utcnow,
        ledger_factory: sessionmaker[Session] | None = None,
    ) -> None:
        self.factory = factory
        # Ledger writes may use a pool without pre-ping (half the write's time); they retry
        # once on a connection the server dropped instead.
        self.ledger_factory = ledger_factory or factory
        self.catalog = catalog
        self.budgets = budgets
        self.cache = cache
        self.clock = clock
        self._zones: dict[int, tuple[ZoneInfo, float]] = {}

    def bind(
        self, llm: LLM, attribution: Attribution, *, state: RunState | None = None
    ) -> MeteredLLM:
        """An LLM that records every call against `attribution`; the customer a run finds
        (in `state`) is attributed from the next call on."""
        return MeteredLLM(llm, meter=self, attribution=attribution, state=state or RunState())

    def write(self, row: LLMCall) -> None:
        """Append a ledger row in its own transaction (the ledger must keep it even if the run
        fails later); the roll-ups move in the same transaction, so they never disagree.

        Retried once when the pooled connection turns out dead (a database restart)."""

        def once() -> None:
            with UnitOfWork(self.ledger_factory) as uow:
                uow.usage.record(row, day=self.local_day(row.org_id, row.created_at, uow))
                uow.commit()

        retry_on_lost_connection(once)

    def local_day(self, org_id: int, at: datetime, uow: UnitOfWork) -> date:
        """The org-local date of `at`: roll-ups and budgets follow the org's timezone."""
        cached = self._zones.get(org_id)
        if cached is None or time.monotonic() - cached[1] > ZONE_CACHE_SECONDS:
            org = uow.orgs.get(org_id)
            cached = (zone(org.timezone if org else "UTC"), time.monotonic())
            self._zones[org_id] = cached
        return at.astimezone(cached[0]).date()


@dataclass
class MeteredLLM:
    """The LLM port with budgets checked before each call and a ledger row after it."""

    inner: LLM
    meter: Meter
    attribution: Attribution
    state: RunState = field(default_factory=RunState)
    costs: list[CallCost] = field(default_factory=list)

    @property
    def offline(self) -> bool:
        """Passes through: offline answers use no model, so they are neither budgeted nor
        recorded in the ledger."""
        return self.inner.offline

    def create(self, request: LLMRequest) -> Message:
        """Refuse an unpriced model; answer from cache, or reserve, call, record, settle."""
        if self.inner.offline:
            return self.inner.create(request)  # rules and templates: not a model call, $0
        started_at = self.meter.clock()
        price = self.meter.catalog.price(request.model, started_at)
        cache_key = (
            self.meter.cache.key(self.attribution.org_id, request) if self.meter.cache else None
        )
        if cache_key and self.meter.cache and (hit := self.meter.cache.get(cache_key)):
            return self._from_cache(request, started_at, hit)
        hold = self._reserve(request, price)
        began = time.perf_counter()
        try:
            message = self.inner.create(request)
        except ModelUnavailableError as exc:
            hold.release()
            self._record(request, started_at, began, Usage(), 0, error=exc.reason)
            raise
        except BaseException:
            hold.release()
            raise
        usage = usage_of(message)
        cost = price.cost_micro_usd(usage)
        try:
            self._record(
                request,
                started_at,
                began,
                usage,
                cost,
                saved=price.prompt_cache_saving(usage),
                request_id=message.id,
            )
        finally:
            hold.settle(cost)  # after the ledger row: a fallback count is high, never low
        if cache_key and self.meter.cache:
            self.meter.cache.put(cache_key, message, usage, cost)
        self.costs.append(
            CallCost(model=message.model or request.model, usage=usage, cost_micro_usd=cost)
        )
        return message

    @property
    def total_cost_micro_usd(self) -> int:
        """Cost of the calls this view made."""
        return sum(c.cost_micro_usd for c in self.costs)

    @property
    def total_tokens(self) -> int:
        """Tokens of the calls this view made."""
        return sum(c.usage.total for c in self.costs)

    def scope(self) -> CallScope:
        """What budgets count this call against (the customer as known right now)."""
        a = self.attribution
        return CallScope(
            org_id=a.org_id,
            user_id=a.user_id,
            customer_id=self.state.customer_id or a.customer_id,
            request_type=a.request_type,
        )

    def _reserve(self, request: LLMRequest, price: Price) -> Hold:
        if self.meter.budgets is None:
            return Hold(guard=None, estimate=0)
        return self.meter.budgets.reserve(self.scope(), estimate_micro_usd(request, price))

    def _from_cache(
        self, request: LLMRequest, started_at: datetime, hit: CachedResponse
    ) -> Message:
        self._record(
            request,
            started_at,
            time.perf_counter(),
            hit.usage,
            0,
            saved=hit.cost_micro_usd,
            request_id=hit.message.id,
            status=CallStatus.CACHED,
        )
        self.costs.append(
            CallCost(
                model=hit.message.model or request.model,
                usage=Usage(),
                cost_micro_usd=0,
                cached=True,
            )
        )
        return hit.message

    def _record(
        self,
        request: LLMRequest,
        started_at: datetime,
        began: float,
        usage: Usage,
        cost: int,
        *,
        saved: int = 0,
        error: str | None = None,
        request_id: str | None = None,
        status: CallStatus | None = None,
    ) -> None:
        a = self.attribution
        row = LLMCall(
            created_at=started_at,
            org_id=a.org_id,
            user_id=a.user_id,
            on_behalf_of_user_id=a.on_behalf_of_user_id,
            customer_id=self.state.customer_id or a.customer_id,
            conversation_id=a.conversation_id,
            channel_id=a.channel_id,
            agent=request.agent,
            route=a.route,
            request_type=a.request_type,
            prompt_version=a.prompt_version,
            model=request.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cost_micro_usd=cost,
            saved_micro_usd=saved,
            latency_ms=int((time.perf_counter() - began) * 1000),
            status=status or (CallStatus.ERROR if error else CallStatus.OK),
            error=error,
            request_id=request_id,
        )
        self.meter.write(row)
