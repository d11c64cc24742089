"""A window for operators onto metering: every ledger row and every budget refusal, as it
happens. The bot implements it with Prometheus metrics (bot/observability/metrics.py); agents
only know this protocol, so the one-way import rule holds."""

from __future__ import annotations

from typing import Protocol

from agents.metering.rules import BudgetRule
from storage.models import LLMCall


class CallObserver(Protocol):
    """Told about calls and refusals on the caller's thread: must be quick and never raise."""

    def on_call(self, row: LLMCall) -> None:
        """A model call (ok, failed or answered from cache) was booked with this ledger row."""
        ...

    def on_budget_block(self, rule: BudgetRule) -> None:
        """A call was refused before it was made, because it would pass `rule`."""
        ...


class NoObserver:
    """The default: nobody is watching."""

    def on_call(self, row: LLMCall) -> None:
        """Nothing to do."""

    def on_budget_block(self, rule: BudgetRule) -> None:
        """Nothing to do."""
