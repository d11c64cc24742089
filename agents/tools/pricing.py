"""Pricing a quote: quantity breaks per category and the discount limits of reps and
managers (agents/data/pricing.json), exact decimals rounded half-up to the cent."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, Field

from agents.specs import money
from agents.tools.base import ToolInputError
from agents.tools.orders import exact
from storage.models import Product

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class Break(BaseModel):
    """From this many units of one product, this percent off its list price."""

    min_quantity: int = Field(ge=1)
    percent: Decimal = Field(ge=0, lt=100)


class DiscountLimits(BaseModel):
    """How far a rep, and a manager, may go on a negotiated discount."""

    rep_max_percent: Decimal = Field(ge=0, le=100)
    manager_max_percent: Decimal = Field(ge=0, le=100)


class PricingRules(BaseModel):
    """agents/data/pricing.json."""

    currency: str
    quantity_breaks: dict[str, list[Break]]
    discount_limits: DiscountLimits


@cache
def pricing_rules() -> PricingRules:
    """The packaged pricing rules (read once; parsed as exact decimals)."""
    text = (files("agents") / "data" / "pricing.json").read_text(encoding="utf-8")
    return PricingRules.model_validate(json.loads(text))


def price_quote(items: list[tuple[Product, int]], discount_percent: Decimal) -> dict[str, Any]:
    """The priced quote: breaks per line, then the negotiated discount checked against the
    limits (above the manager's limit it is refused)."""
    rules = pricing_rules()
    limits = rules.discount_limits
    if discount_percent > limits.manager_max_percent:
        raise ToolInputError(
            f"a {discount_percent}% discount is above the {limits.manager_max_percent}% anyone "
            f"may give (reps up to {limits.rep_max_percent}%, managers up to "
            f"{limits.manager_max_percent}%)"
        )
    lines = [price_line(product, quantity) for product, quantity in items]
    list_total = sum((p.unit_price * q for p, q in items), Decimal(0))
    subtotal = sum((Decimal(line["line_total"]) for line in lines), Decimal(0))
    discount = _cents(subtotal * discount_percent / HUNDRED)
    total = subtotal - discount
    manager = discount_percent > limits.rep_max_percent
    return {
        "lines": lines,
        "list_total": exact(list_total),
        "subtotal": exact(subtotal),
        "discount": {"percent": str(discount_percent), "amount": exact(discount)},
        "total": exact(total),
        "currency": rules.currency,
        "approval": "manager" if manager else "rep",
        "_meta": {
            "savings_vs_list": exact(list_total - total),
            "next_breaks": [b for p, q in items if (b := next_break(p, q))],
            "needs_manager_approval": manager,
            "discount_limits": limits.model_dump(mode="json"),
        },
        "_display": {
            "title": f"Quote {money(total)}",
            "subtitle": f"{len(lines)} line(s), {discount_percent}% discount",
            "badge": "needs a manager" if manager else "within rep limit",
        },
    }


def price_line(product: Product, quantity: int) -> dict[str, Any]:
    """One quote line: the break reached takes its percent off the list unit price (rounded
    half-up to the cent), then times the quantity."""
    percent = break_percent(product.category, quantity)
    unit = _cents(product.unit_price * (HUNDRED - percent) / HUNDRED)
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "quantity": quantity,
        "list_unit_price": exact(product.unit_price),
        "break_percent": str(percent),
        "unit_price": exact(unit),
        "line_total": exact(unit * quantity),
    }


def break_percent(category: str | None, quantity: int) -> Decimal:
    """The percent off of the highest break `quantity` reaches in `category` (0 if none)."""
    reached = [b for b in _breaks(category) if quantity >= b.min_quantity]
    return max((b.percent for b in reached), default=Decimal(0))


def next_break(product: Product, quantity: int) -> dict[str, Any] | None:
    """The nearest quantity break above `quantity`, if any: a reason to order more."""
    above = [b for b in _breaks(product.category) if b.min_quantity > quantity]
    if not above:
        return None
    nearest = min(above, key=lambda b: b.min_quantity)
    return {
        "sku": product.sku,
        "at_quantity": nearest.min_quantity,
        "percent": str(nearest.percent),
        "add_units": nearest.min_quantity - quantity,
    }


def _breaks(category: str | None) -> list[Break]:
    return pricing_rules().quantity_breaks.get(category or "", [])


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
