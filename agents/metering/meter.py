"""Every model call writes one ledger row: exact tokens by kind, µUSD cost, latency, attribution.

Two ways to write it (COUNTERSIGN_LEDGER_WRITE): `direct` commits the row in PostgreSQL (or
SQLite) before the call returns; `stream` appends it to a Redis stream in the same Lua call
as the budget settle, and a drain in every serving or working process (bot/ledger_drain.py)
writes it within about the drain interval. If Redis does not take the row, it is written
directly: a row is never lost. Each row carries a unique `call_key`, so a row that reaches
the database twice (a redelivered drain batch, or an append whose reply was lost followed
by the direct write) is kept once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from anthropic.types import Message
from sqlalchemy.orm import Session, sessionmaker

from agents.errors import ModelUnavailableError
from agents.llm.port import LLM, FailedAttempt, LLMRequest
from agents.metering.budgets import BudgetGuard, Hold
from agents.metering.estimate import estimate_micro_usd
from agents.metering.observer import CallObserver, NoObserver
from agents.metering.prices import Price, PriceCatalog, Usage
from agents.metering.response_cache import CachedResponse, ResponseCache
from agents.metering.rules import CallScope
from agents.tools.base import RunState
from storage.cache import StoreUnavailable
from storage.db import retry_on_lost_connection
from storage.limits import LedgerStream
from storage.models import CallStatus, LLMCall
from storage.repositories.usage_record import ledger_entry
from storage.types import utcnow, zone
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

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
        ledger: LedgerStream | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        if ledger is not None and budgets is not None:
            if getattr(budgets.counters, "ledger", None) is not ledger:
                raise ValueError("stream mode: the budget counters must settle into `ledger`")
        self.factory = factory
        self.ledger = ledger  # None: the direct write
        # Ledger writes may use a pool without pre-ping (half the write's time); they retry
        # once on a connection the server dropped instead.
        self.ledger_factory = ledger_factory or factory
        self.catalog = catalog
        self.budgets = budgets
        self.cache = cache
        self.clock = clock
        self._zones: dict[int, tuple[ZoneInfo, float]] = {}
        self.observer: CallObserver = observer or NoObserver()  # metrics, set by the process

    def bind(
        self, llm: LLM, attribution: Attribution, *, state: RunState | None = None
    ) -> MeteredLLM:
        """An LLM that records every call against `attribution`; the customer a run finds
        (in `state`) is attributed from the next call on."""
        return MeteredLLM(llm, meter=self, attribution=attribution, state=state or RunState())

    def book(self, row: LLMCall, hold: Hold, *, settle: int | None) -> None:
        """Record a call's ledger row and end its hold: settled to `settle` µUSD, or released
        when None (the call failed). The row is never lost: what Redis does not take is
        written directly."""
        self.observer.on_call(row)
        if self.ledger is None or hold.reservation_id is not None:
            # Direct, and always for a hold in the database fallback, whose count reads the
            # roll-ups: the row goes in first, so a count is high, never low.
            try:
                self.write(row)
            finally:
                _end(hold, settle)
            return
        entry = ledger_entry(row, self.local_day(row.org_id, row.created_at))
        if hold.in_redis:
            if _end(hold, settle, entry):  # one round trip: settle and append
                return
        else:
            try:
                self.ledger.append(entry)  # nothing to settle: the append alone
                return
            except StoreUnavailable as exc:
                log.warning("ledger stream unreachable (%s): writing the row directly", exc)
        self.write(row)

    def write(self, row: LLMCall) -> None:
        """Append a ledger row in its own transaction (the ledger must keep it even if the run
        fails later); the roll-ups move in the same transaction, so they never disagree.

        Retried once when the pooled connection turns out dead (a database restart)."""

        def once() -> None:
            with UnitOfWork(self.ledger_factory) as uow:
                uow.usage.record(row, day=self.local_day(row.org_id, row.created_at, uow))
                uow.commit()

        retry_on_lost_connection(once)

    def local_day(self, org_id: int, at: datetime, uow: UnitOfWork | None = None) -> date:
        """The org-local date of `at`: roll-ups and budgets follow the org's timezone (read
        in `uow`, or in a unit of its own, at most every few minutes)."""
        cached = self._zones.get(org_id)
        if cached is None or time.monotonic() - cached[1] > ZONE_CACHE_SECONDS:
            if uow is None:
                with UnitOfWork(self.factory) as own:
                    return self.local_day(org_id, at, own)
            org = uow.orgs.get(org_id)
            cached = (zone(org.timezone if org else "UTC"), time.monotonic())
            self._zones[org_id] = cached
        return at.astimezone(cached[0]).date()


def _end(hold: Hold, settle: int | None, ledger: dict[str, str] | None = None) -> bool:
    """Settle or release `hold`, with the ledger row riding along when given."""
    if settle is None:
        return hold.release(ledger=ledger)
    return hold.settle(settle, ledger=ledger)


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
            message = self.inner.create(
                replace(request, on_retry=lambda a: self._retried(request, started_at, a))
            )
        except ModelUnavailableError as exc:
            failed = self._row(request, started_at, began, Usage(), 0, error=exc.reason)
            self.meter.book(failed, hold, settle=None)
            raise
        except BaseException:
            hold.release()
            raise
        usage = usage_of(message)
        cost = price.cost_micro_usd(usage)
        row = self._row(
            request,
            started_at,
            began,
            usage,
            cost,
            saved=price.prompt_cache_saving(usage),
            request_id=message.id,
        )
        self.meter.book(row, hold, settle=cost)
        if cache_key and self.meter.cache:
            self.meter.cache.put(cache_key, message, usage, cost)
        self.costs.append(
            CallCost(model=message.model or request.model, usage=usage, cost_micro_usd=cost)
        )
        return message

    def _retried(self, request: LLMRequest, started_at: datetime, attempt: FailedAttempt) -> None:
        """An attempt the SDK retried is a call too: its own $0 row (failed attempts are not
        billed). The call's hold stays for the attempt that follows, and ends once."""
        row = self._row(
            request,
            started_at,
            0.0,
            Usage(),
            0,
            error=attempt.reason,
            request_id=attempt.request_id,
        )
        row.latency_ms = attempt.latency_ms
        self.meter.book(row, Hold(guard=None, estimate=0), settle=None)

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
        row = self._row(
            request,
            started_at,
            time.perf_counter(),
            hit.usage,
            0,
            saved=hit.cost_micro_usd,
            request_id=hit.message.id,
            status=CallStatus.CACHED,
        )
        self.meter.book(row, Hold(guard=None, estimate=0), settle=0)
        self.costs.append(
            CallCost(
                model=hit.message.model or request.model,
                usage=Usage(),
                cost_micro_usd=0,
                cached=True,
            )
        )
        return hit.message

    def _row(
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
    ) -> LLMCall:
        a = self.attribution
        return LLMCall(
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
            call_key=uuid.uuid4().hex,  # made once: a row written by two paths is kept once
        )
