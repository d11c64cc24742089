"""Budgets hold before the call: reserve an estimate, settle the actual cost, release on failure.

Counters live in Redis (or in-process when embedded). If Redis does not answer, the same
check runs in the database: settled spend from the roll-ups plus live reservation rows,
serialised per org by a row lock. If neither answers, nothing is spent (fail closed).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agents.errors import AgentError
from agents.metering.money import usd
from agents.metering.observer import CallObserver, NoObserver
from agents.metering.rules import (
    BudgetRule,
    CallScope,
    Window,
    applicable,
    default_rules,
    effective_rules,
    window,
)
from agents.metering.settings import CostSettings
from storage.cache import StoreUnavailable
from storage.limits.counters import Charge, Counters, Reserved
from storage.models import BudgetMetric, BudgetReservation, BudgetScope
from storage.repositories.usage import Dimension, UsageTotals
from storage.types import utcnow, zone
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(minutes=10)  # longer than any model call, with the SDK's retries
ORG_CACHE_SECONDS = 30.0  # admin changes reach other processes within this


@dataclass(frozen=True)
class Refusal:
    """Why a call may not happen: which budget, how much of it is used, when it resets."""

    budget: str
    metric: BudgetMetric
    used: int
    limit: int
    resets_at: datetime

    def message(self, now: datetime) -> str:
        """The sentence a person sees."""
        if self.metric == BudgetMetric.COST:
            amounts = f"{usd(self.used)} of {usd(self.limit)} used"
        else:
            amounts = f"{self.used:,} of {self.limit:,} calls used"
        local = self.resets_at.strftime("%a %d %b %H:%M")
        abbreviation = self.resets_at.tzname() or ""
        return (
            f"This request would go over {self.budget} ({amounts}). "
            f"It resets {local} {abbreviation} (in {_duration(self.resets_at - now)}). "
            "Nothing was spent; an admin can raise it with `/ai-cost budget set`."
        )


class BudgetExceeded(AgentError):
    """A hard limit would be passed by this call."""

    def __init__(self, refusal: Refusal, now: datetime) -> None:
        super().__init__(refusal.message(now))
        self.refusal = refusal


class SpendingUnavailable(AgentError):
    """Neither the counters nor the database answered: spending fails closed."""

    def __init__(self) -> None:
        super().__init__(
            "AI spending is paused: the budget counters can't be reached right now, so no model "
            "call was made and nothing was spent. Please try again in a minute."
        )


@dataclass(frozen=True)
class Crossing:
    """A budget passed its alert threshold (soft) or was hit (100 %) in this period."""

    org_id: int
    budget: str
    key: str  # unique per budget and period: the once-only claim key
    threshold_pct: int
    used: int
    limit: int
    metric: BudgetMetric
    resets_at: datetime


@dataclass
class Hold:
    """A reservation in flight; exactly one of settle() or release() ends it.

    Either may carry the call's ledger row (`ledger`, a stream entry): on Redis it is then
    appended to the write-behind ledger in the same atomic step, and they return True. False
    means the row was not taken (no Redis hold, or Redis did not answer): write it directly."""

    guard: BudgetGuard | None
    estimate: int
    keys: list[tuple[str, BudgetMetric]] = field(default_factory=list)
    reservation_id: str | None = None  # set when the database fallback holds it
    done: bool = False

    @property
    def in_redis(self) -> bool:
        """Still held in the counters (not the database fallback, not ended, not empty)."""
        return self.guard is not None and not self.done and self.reservation_id is None

    def settle(self, cost: int, *, ledger: Mapping[str, str] | None = None) -> bool:
        """The call happened and cost `cost` µUSD (its ledger row is written, or in `ledger`)."""
        return self._finish(cost_delta=cost - self.estimate, call_delta=0, ledger=ledger)

    def release(self, *, ledger: Mapping[str, str] | None = None) -> bool:
        """The call did not happen (or failed): give the reservation back."""
        return self._finish(cost_delta=-self.estimate, call_delta=-1, ledger=ledger)

    def _finish(
        self, *, cost_delta: int, call_delta: int, ledger: Mapping[str, str] | None
    ) -> bool:
        if self.done or self.guard is None:
            return False
        self.done = True
        return self.guard.finish(self, cost_delta=cost_delta, call_delta=call_delta, ledger=ledger)


@dataclass(frozen=True)
class _OrgBudgets:
    tz: ZoneInfo
    rules: list[BudgetRule]
    loaded_at: float


class BudgetGuard:
    """Checks every applicable budget before a model call, atomically."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        counters: Counters,
        settings: CostSettings,
        clock: Callable[[], datetime] = utcnow,
        on_crossing: Callable[[Crossing], None] | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.factory = factory
        self.counters = counters
        self.settings = settings
        self.clock = clock
        self.on_crossing = on_crossing
        self.observer: CallObserver = observer or NoObserver()  # metrics, set by the process
        self._orgs: dict[int, _OrgBudgets] = {}
        self._reported: set[str] = set()

    def reserve(self, call: CallScope, estimate: int) -> Hold:
        """Hold `estimate` µUSD (and one call) against every budget of `call`, or raise
        BudgetExceeded / SpendingUnavailable."""
        org = self._org(call.org_id)
        now = self.clock()
        applied = applicable(org.rules, call)
        if not applied:
            return Hold(guard=None, estimate=estimate)
        windows = [window(rule.period, now, org.tz) for rule, _ in applied]
        charges = [
            Charge(
                key=_key(call.org_id, rule, target, w),
                amount=estimate if rule.metric == BudgetMetric.COST else 1,
                limit=rule.limit,
            )
            for (rule, target), w in zip(applied, windows, strict=True)
        ]
        hold = Hold(guard=self, estimate=estimate)
        hold.keys = [(c.key, rule.metric) for c, (rule, _) in zip(charges, applied, strict=True)]
        result = self._reserve(call, applied, windows, charges, hold, now)
        self._report(call.org_id, applied, windows, charges, result)
        if not result.ok:
            assert result.refused is not None
            rule, _target = applied[result.refused]
            self.observer.on_budget_block(rule)
            refusal = Refusal(
                budget=self._describe(call, rule),
                metric=rule.metric,
                used=result.used,
                limit=rule.limit,
                resets_at=windows[result.refused].resets_at,
            )
            raise BudgetExceeded(refusal, now)
        return hold

    def finish(
        self,
        hold: Hold,
        *,
        cost_delta: int,
        call_delta: int,
        ledger: Mapping[str, str] | None = None,
    ) -> bool:
        """Apply a settle/release to wherever the hold lives; True if `ledger` went with it."""
        if hold.reservation_id is not None:
            try:
                with UnitOfWork(self.factory) as uow:
                    uow.budgets.drop(hold.reservation_id)
                    uow.commit()
            except SQLAlchemyError:
                log.warning(
                    "could not drop reservation %s; it expires on its own", hold.reservation_id
                )
            return False
        deltas = [
            (key, cost_delta if metric == BudgetMetric.COST else call_delta)
            for key, metric in hold.keys
        ]
        try:
            self.counters.adjust([(k, d) for k, d in deltas if d], ledger=ledger)
        except StoreUnavailable:
            log.warning("budget counters unreachable at settle; they re-seed from the ledger")
            return False
        return ledger is not None

    def rules_for(self, org_id: int) -> list[BudgetRule]:
        """The org's effective budgets (defaults, plan, admin overrides)."""
        return self._org(org_id).rules

    def timezone(self, org_id: int) -> ZoneInfo:
        """The org's timezone, which every budget period follows."""
        return self._org(org_id).tz

    def used(self, org_id: int, rule: BudgetRule, target: str, now: datetime) -> int:
        """Settled use of one budget in the period containing `now` (from the roll-ups)."""
        org = self._org(org_id)
        with UnitOfWork(self.factory) as uow:
            return _settled(uow, org_id, rule, target, window(rule.period, now, org.tz))

    def forget(self, org_id: int) -> None:
        """Drop the cached budgets of an org (after an admin changed them)."""
        self._orgs.pop(org_id, None)

    # --- internals ---------------------------------------------------------------------

    def _reserve(
        self,
        call: CallScope,
        applied: list[tuple[BudgetRule, str]],
        windows: list[Window],
        charges: list[Charge],
        hold: Hold,
        now: datetime,
    ) -> Reserved:
        def seed(index: int) -> int:
            rule, target = applied[index]
            w = windows[index]
            # The rows still in the ledger stream count too. Read before the roll-ups: a row
            # written in between is counted twice (high until the next seed), never missed.
            unwritten = self.counters.unwritten(
                call.org_id, w.start, w.end, **_filters(rule, target)
            )
            with UnitOfWork(self.factory) as uow:
                return _settled(uow, call.org_id, rule, target, w) + _amount(rule, unwritten)

        try:
            return self.counters.reserve(charges, seed)
        except StoreUnavailable as exc:
            if not self.settings.budget_fallback:
                log.error("budget counters unreachable and no fallback: refusing (%s)", exc)
                raise SpendingUnavailable() from exc
            log.warning("budget counters unreachable, counting in the database: %s", exc)
        except SQLAlchemyError as exc:  # a seed could not be read
            raise SpendingUnavailable() from exc
        try:
            return self._reserve_in_database(call, applied, windows, charges, hold, now)
        except SQLAlchemyError as exc:
            log.error("budget fallback unreachable too: refusing (%s)", exc)
            raise SpendingUnavailable() from exc

    def _reserve_in_database(
        self,
        call: CallScope,
        applied: list[tuple[BudgetRule, str]],
        windows: list[Window],
        charges: list[Charge],
        hold: Hold,
        now: datetime,
    ) -> Reserved:
        with UnitOfWork(self.factory) as uow:
            uow.budgets.lock_org(call.org_id)
            values = []
            for index, ((rule, target), w, charge) in enumerate(
                zip(applied, windows, charges, strict=True)
            ):
                cost, count = uow.budgets.reserved(call.org_id, now, **_filters(rule, target))
                held = cost if rule.metric == BudgetMetric.COST else count
                used = _settled(uow, call.org_id, rule, target, w) + held
                if used + charge.amount > charge.limit:
                    return Reserved(ok=False, refused=index, used=used)
                values.append(used + charge.amount)
            hold.reservation_id = str(uuid.uuid4())
            uow.budgets.hold(
                BudgetReservation(
                    id=hold.reservation_id,
                    org_id=call.org_id,
                    user_id=call.user_id or 0,
                    customer_id=call.customer_id or 0,
                    request_type=call.request_type,
                    cost_micro_usd=hold.estimate,
                    created_at=now,
                    expires_at=now + RESERVATION_TTL,
                )
            )
            uow.commit()
        return Reserved(ok=True, values=tuple(values))

    def _report(
        self,
        org_id: int,
        applied: list[tuple[BudgetRule, str]],
        windows: list[Window],
        charges: list[Charge],
        result: Reserved,
    ) -> None:
        """Tell the bot (once per process; the bot's claim makes it once overall) about
        budgets that passed their alert threshold or were hit."""
        if self.on_crossing is None:
            return
        for index, ((rule, target), w, charge) in enumerate(
            zip(applied, windows, charges, strict=True)
        ):
            if not result.ok and result.refused == index:
                self._cross(org_id, rule, target, w, charge, 100, result.used)
            elif result.ok:
                value = result.values[index]
                if value * 100 >= rule.limit * rule.soft_pct:
                    self._cross(org_id, rule, target, w, charge, rule.soft_pct, value)

    def _cross(
        self,
        org_id: int,
        rule: BudgetRule,
        target: str,
        w: Window,
        charge: Charge,
        pct: int,
        used: int,
    ) -> None:
        key = f"{charge.key}:{pct}"
        if key in self._reported or self.on_crossing is None:
            return
        self._reported.add(key)
        label = self._label(rule, target)
        self.on_crossing(
            Crossing(
                org_id, rule.describe(label), key, pct, used, rule.limit, rule.metric, w.resets_at
            )
        )

    def _describe(self, call: CallScope, rule: BudgetRule) -> str:
        target = {
            BudgetScope.USER: str(call.user_id),
            BudgetScope.CUSTOMER: str(call.customer_id),
            BudgetScope.REQUEST_TYPE: call.request_type,
        }.get(rule.scope, "")
        return rule.describe(self._label(rule, target))

    def _label(self, rule: BudgetRule, target: str) -> str:
        """A person's or customer's name for messages (ids mean nothing to a rep)."""
        if rule.scope not in (BudgetScope.USER, BudgetScope.CUSTOMER) or not target.isdigit():
            return target
        by: Dimension = "user" if rule.scope == BudgetScope.USER else "customer"
        try:
            with UnitOfWork(self.factory) as uow:
                return uow.usage.names(by, [int(target)]).get(int(target), target)
        except SQLAlchemyError:
            return target

    def _org(self, org_id: int) -> _OrgBudgets:
        cached = self._orgs.get(org_id)
        if cached is not None and time.monotonic() - cached.loaded_at < ORG_CACHE_SECONDS:
            return cached
        try:
            with UnitOfWork(self.factory) as uow:
                org = uow.orgs.get(org_id)
                overrides = list(uow.budgets.for_org(org_id))
                tz_name = org.timezone if org else "UTC"
                plan = org.plan if org else "free"
        except SQLAlchemyError as exc:
            if cached is not None:
                return cached  # stale budgets beat no budgets while the database blips
            raise SpendingUnavailable() from exc
        rules = effective_rules(default_rules(self.settings, plan), overrides)
        loaded = _OrgBudgets(zone(tz_name), rules, time.monotonic())
        self._orgs[org_id] = loaded
        return loaded


def _key(org_id: int, rule: BudgetRule, target: str, w: Window) -> str:
    return f"{org_id}:{rule.scope.value}:{target}:{rule.period.value}:{rule.metric.value}:{w.start}"


def _filters(rule: BudgetRule, target: str) -> dict[str, Any]:
    """Repository filters for the scope of `rule` at `target`."""
    if rule.scope == BudgetScope.USER:
        return {"user_id": int(target)}
    if rule.scope == BudgetScope.CUSTOMER:
        return {"customer_id": int(target)}
    if rule.scope == BudgetScope.REQUEST_TYPE:
        return {"request_type": target}
    return {}


def _settled(uow: UnitOfWork, org_id: int, rule: BudgetRule, target: str, w: Window) -> int:
    """Spend (µUSD) or model calls already in the ledger for this budget and period."""
    return _amount(rule, uow.usage.totals(org_id, w.start, w.end, **_filters(rule, target)))


def _amount(rule: BudgetRule, totals: UsageTotals) -> int:
    """What `rule` counts in `totals`: µUSD, or the model calls that really ran."""
    if rule.metric == BudgetMetric.COST:
        return totals.cost_micro_usd
    return totals.requests - totals.errors - totals.cached_hits


def _duration(delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
