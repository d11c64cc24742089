"""The dated price catalog and exact cost in integer micro-USD."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from agents.errors import UnknownModelError

_DATED_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{8}$")


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, by kind (as the Messages API reports them, final and cumulative)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total(self) -> int:
        """Every token the call consumed or produced."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )


@dataclass(frozen=True)
class Rates:
    """USD per million tokens for each kind of token."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    batch_input: Decimal
    batch_output: Decimal

    def exact_cost(self, usage: Usage, *, batch: bool) -> Decimal:
        """Unrounded cost in micro-USD (USD/MTok == µUSD/token)."""
        return Decimal(
            usage.input_tokens * (self.batch_input if batch else self.input)
            + usage.output_tokens * (self.batch_output if batch else self.output)
            + usage.cache_write_5m_tokens * self.cache_write_5m
            + usage.cache_write_1h_tokens * self.cache_write_1h
            + usage.cache_read_tokens * self.cache_read
        )


@dataclass(frozen=True)
class Price:
    """A model's rates in force from `effective_from`, with an optional long-prompt tier."""

    effective_from: date
    rates: Rates
    long_prompt_above: int | None = None
    long_prompt_rates: Rates | None = None

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The rates of a call whose prompt (input + cache reads + cache writes) has this size."""
        if (
            self.long_prompt_rates
            and self.long_prompt_above
            and prompt_tokens > self.long_prompt_above
        ):
            return self.long_prompt_rates
        return self.rates

    def cost_micro_usd(self, usage: Usage, *, batch: bool = False) -> int:
        """Exact cost, rounded once (half up) to whole micro-USD."""
        exact = self.rates_for(_prompt(usage)).exact_cost(usage, batch=batch)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def prompt_cache_saving(self, usage: Usage) -> int:
        """What prompt caching saved on this call: cache reads at the input rate minus their
        rate, less the premium paid for cache writes (negative on a write-only call)."""
        rates = self.rates_for(_prompt(usage))
        exact = (
            usage.cache_read_tokens * (rates.input - rates.cache_read)
            - usage.cache_write_5m_tokens * (rates.cache_write_5m - rates.input)
            - usage.cache_write_1h_tokens * (rates.cache_write_1h - rates.input)
        )
        return int(Decimal(exact).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _prompt(usage: Usage) -> int:
    return (
        usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_5m_tokens
        + usage.cache_write_1h_tokens
    )


class PriceCatalog:
    """Model → dated prices. Unknown models raise; nothing is ever priced at $0 by accident."""

    def __init__(self, prices: dict[str, list[Price]]) -> None:
        self._prices = {
            model: sorted(p, key=lambda x: x.effective_from) for model, p in prices.items()
        }

    @classmethod
    def load(cls, overrides: Path | None = None) -> PriceCatalog:
        """The packaged catalog, plus an admin's overrides file in the same format: its
        entries are added (a new model, or a new dated price), and an entry with the same
        model and date replaces the packaged one."""
        document = json.loads((files("agents") / "data" / "prices.json").read_text())
        if overrides is not None:
            document = _merge(document, json.loads(overrides.read_text()))
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PriceCatalog:
        """Build from the JSON shape of agents/data/prices.json."""
        return cls(
            {
                model: [_price(entry) for entry in entries]
                for model, entries in document["models"].items()
            }
        )

    def knows(self, model: str) -> bool:
        """Whether `model` (or the family of a dated snapshot id) has a price."""
        return self._family(model) is not None

    def price(self, model: str, at: datetime) -> Price:
        """The price of `model` in force at `at`."""
        family = self._family(model)
        if family is None:
            raise UnknownModelError(model)
        in_force = [p for p in self._prices[family] if p.effective_from <= at.date()]
        if not in_force:
            raise UnknownModelError(f"{model} (no price in force on {at.date()})")
        return in_force[-1]

    def cost(self, model: str, usage: Usage, at: datetime, *, batch: bool = False) -> int:
        """Cost of one call in micro-USD."""
        return self.price(model, at).cost_micro_usd(usage, batch=batch)

    def _family(self, model: str) -> str | None:
        if model in self._prices:
            return model
        match = _DATED_SNAPSHOT.match(model)  # "claude-sonnet-4-5-20250929" → "claude-sonnet-4-5"
        if match and match["base"] in self._prices:
            return match["base"]
        return None


_RATE_FIELDS = (
    "input",
    "output",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "batch_input",
    "batch_output",
)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    models = {model: list(entries) for model, entries in base["models"].items()}
    for model, entries in overrides.get("models", {}).items():
        dates = {entry["effective_from"] for entry in entries}
        kept = [e for e in models.get(model, []) if e["effective_from"] not in dates]
        models[model] = kept + list(entries)
    return {"models": models}


def _rates(entry: dict[str, Any]) -> Rates:
    return Rates(**{name: Decimal(str(entry[name])) for name in _RATE_FIELDS})


def _price(entry: dict[str, Any]) -> Price:
    long_prompt = entry.get("long_prompt")
    return Price(
        effective_from=date.fromisoformat(entry["effective_from"]),
        rates=_rates(entry),
        long_prompt_above=int(long_prompt["above_tokens"]) if long_prompt else None,
        long_prompt_rates=_rates(long_prompt) if long_prompt else None,
    )
