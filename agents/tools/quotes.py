"""Quote tools: search the product catalog, configure a system from stated requirements, and
price a quote with quantity breaks and the discount rules of agents/data/pricing.json.

All money is Decimal, rounded half-up to the cent; capacities compare as exact fractions."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agents.tools.base import ToolContext, ToolInputError, ToolSpec, tool
from agents.tools.orders import exact, require_customer
from agents.tools.pricing import price_quote, pricing_rules
from storage.models import Product
from storage.repositories.sales import SalesRepository
from storage.uow import UnitOfWork

CapacityUnit = Literal["l/min", "l/h", "m3/h", "kg", "t"]
# Capacity units a requirement may name, as exact multiples of one base unit per dimension.
UNITS: dict[str, tuple[str, Fraction]] = {
    "l/min": ("flow", Fraction(1)),
    "l/h": ("flow", Fraction(1, 60)),
    "m3/h": ("flow", Fraction(1000, 60)),
    "kg": ("mass", Fraction(1)),
    "t": ("mass", Fraction(1000)),
}
_CAPACITY = re.compile(r"(\d+(?:\.\d+)?)\s*(l/min|l/h|m3/h|m³/h|kg|t)(?![\w/])", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9/-]*", re.IGNORECASE)
_NOISE = frozenset("a an and any for of the with to in on per some we do sell what".split())


class SearchProductsArgs(BaseModel):
    """Search the product catalog."""

    query: str = Field(default="", max_length=200, description="Words, e.g. 'bilge pump'.")
    category: str | None = Field(default=None, max_length=100, description="Exact category.")
    limit: int = Field(default=10, ge=1, le=50)


class Requirement(BaseModel):
    """One thing the customer needs, as the rep stated it."""

    need: str = Field(min_length=1, max_length=200, description="In catalog words: 'bilge pump'.")
    min_capacity: Decimal | None = Field(default=None, gt=0, description="Per installation.")
    capacity_unit: CapacityUnit | None = None
    count: int = Field(default=1, ge=1, le=1000, description="Installations, e.g. vessels.")

    @field_validator("capacity_unit", mode="before")
    @classmethod
    def _lower(cls, unit: object) -> object:
        return unit.strip().lower() if isinstance(unit, str) else unit

    @model_validator(mode="after")
    def _unit_with_capacity(self) -> Requirement:
        if self.min_capacity is not None and self.capacity_unit is None:
            raise ValueError(f"{self.need!r}: min_capacity needs a capacity_unit")
        return self


class ConfigureSystemArgs(BaseModel):
    """Pick products and quantities for stated requirements."""

    requirements: list[Requirement] = Field(min_length=1, max_length=10)


class PriceLine(BaseModel):
    """A catalog item and how many."""

    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000)


class CalculatePriceArgs(BaseModel):
    """Price catalog items for a quote."""

    lines: list[PriceLine] = Field(min_length=1, max_length=50)
    discount_percent: Decimal = Field(
        default=Decimal(0), ge=0, le=100, decimal_places=2, description="Negotiated, on top."
    )
    customer_id: int | None = Field(
        default=None, description="The customer it is for (from search_customers), if any."
    )


@tool(SearchProductsArgs)
def search_products(ctx: ToolContext, args: SearchProductsArgs) -> dict[str, Any]:
    """Search the product catalog by words (SKU, name or category) and/or an exact category;
    best matches first, with list price, category, the capacity read from the name and the
    category's quantity breaks. An empty query lists the catalog."""
    words = catalog_words(args.query)
    with UnitOfWork(ctx.factory) as uow:
        sales = SalesRepository(uow.session)
        found = sales.search_products(ctx.org_id, words, category=args.category, limit=200)
        categories = sales.categories(ctx.org_id)
    ranked = sorted(found, key=lambda p: (-_score(p, words), p.category or "", p.name))
    shown = ranked[: args.limit]
    breaks = pricing_rules().model_dump(mode="json")["quantity_breaks"]
    shown_in = {p.category or "" for p in shown}
    return {
        "products": [_product_view(p) for p in shown],
        "_meta": {
            "count": len(shown),
            "categories": categories,
            "quantity_breaks": {c: breaks[c] for c in sorted(shown_in) if c in breaks},
        },
        "_display": {"title": f"{len(shown)} product(s)", "subtitle": args.query or args.category},
    }


@tool(ConfigureSystemArgs)
def configure_system(ctx: ToolContext, args: ConfigureSystemArgs) -> dict[str, Any]:
    """Turn stated requirements into catalog lines: for each need, the best-matching product
    whose capacity (read from its name) covers min_capacity — one unit if one is enough,
    otherwise several of the largest — times count. Says why for each line and which needs it
    could not meet. Prices nothing: pass the lines to calculate_price."""
    with UnitOfWork(ctx.factory) as uow:
        sales = SalesRepository(uow.session)
        matches = [
            sales.search_products(ctx.org_id, catalog_words(r.need), limit=200)
            for r in args.requirements
        ]
    lines, unmet = [], []
    for req, products in zip(args.requirements, matches, strict=True):
        picked = pick_product(req, products)
        if isinstance(picked, str):
            unmet.append({"need": req.need, "reason": picked})
        else:
            lines.append(picked)
    return {
        "lines": lines,
        "unmet": unmet,
        "_meta": {"next": "Price these lines with calculate_price; nothing is quoted yet."},
        "_display": {"title": f"{len(lines)} line(s) configured", "badge": f"{len(unmet)} unmet"},
    }


@tool(CalculatePriceArgs)
def calculate_price(ctx: ToolContext, args: CalculatePriceArgs) -> dict[str, Any]:
    """Price catalog items exactly: list price, the automatic quantity break of each line's
    category, then a negotiated discount on the subtotal. A rep may give up to the rep limit;
    above it the quote needs a manager; above the manager limit it is refused. _meta names the
    next quantity break within reach and the limits. Given customer_id, it also returns that
    customer's contacts: to send the quote, propose an email to one of them with
    send_email_draft (create_order_draft records list prices only)."""
    quantities: dict[str, int] = {}
    for line in args.lines:  # one line per SKU, so a split line cannot miss its break
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    with UnitOfWork(ctx.factory) as uow:
        products = SalesRepository(uow.session).products_by_sku(ctx.org_id, quantities)
        customer = (
            None if args.customer_id is None else require_customer(uow, ctx, args.customer_id)
        )
    unknown = sorted(set(quantities) - set(products))
    if unknown:
        raise ToolInputError(f"unknown SKU(s): {', '.join(unknown)}; use search_products")
    quote = price_quote([(products[s], q) for s, q in quantities.items()], args.discount_percent)
    if customer is not None:
        ctx.state.customer_id = customer.id
        contacts = [{"name": c.name, "title": c.title, "email": c.email} for c in customer.contacts]
        quote["customer"] = {"id": customer.id, "name": customer.name, "contacts": contacts}
    return quote


def pick_product(req: Requirement, products: list[Product]) -> dict[str, Any] | str:
    """The configured line for one requirement, or the reason it cannot be met."""
    words = catalog_words(req.need)
    best = max((_score(p, words) for p in products), default=0)
    candidates = sorted(
        (p for p in products if _score(p, words) == best > 0), key=lambda p: p.unit_price
    )
    if not candidates:
        return f"nothing in the catalog matches {req.need!r}"
    if req.min_capacity is None or req.capacity_unit is None:
        product, per_unit, why = candidates[0], 1, "best catalog match; no capacity stated"
    else:
        sized = _size(req, candidates)
        if isinstance(sized, str):
            return sized
        product, per_unit, why = sized
    quantity = per_unit * req.count
    return {
        "sku": product.sku,
        "name": product.name,
        "quantity": quantity,
        "list_unit_price": exact(product.unit_price),
        "why": why + (f"; × {req.count} installations" if req.count > 1 else ""),
    }


def _size(req: Requirement, candidates: list[Product]) -> tuple[Product, int, str] | str:
    assert req.min_capacity is not None and req.capacity_unit is not None
    dimension, factor = UNITS[req.capacity_unit]
    need = Fraction(req.min_capacity) * factor
    rated = [(c, p) for p in candidates if (c := capacity(p)) and c[0] == dimension]
    if not rated:
        return f"no {req.need!r} in the catalog states a {dimension} capacity"
    enough = [(c, p) for c, p in rated if c[1] >= need]
    if enough:
        _, product = min(enough, key=lambda cp: (cp[0][1], cp[1].unit_price))
        return product, 1, f"smallest that covers {req.min_capacity} {req.capacity_unit}"
    (_, largest), product = max(rated, key=lambda cp: (cp[0][1], -cp[1].unit_price))
    units = math.ceil(need / largest)
    return product, units, f"{units} of the largest cover {req.min_capacity} {req.capacity_unit}"


def capacity(product: Product) -> tuple[str, Fraction] | None:
    """(dimension, amount in base units) read from a name like 'Bilge pump, 200 L/min'."""
    found = _CAPACITY.search(product.name)
    if found is None:
        return None
    dimension, factor = UNITS[found.group(2).lower().replace("³", "3")]
    return dimension, Fraction(found.group(1)) * factor


def catalog_words(text: str) -> list[str]:
    """Lower-case search words without filler and with simple plurals made singular."""
    words = [w.lower() for w in _WORD.findall(text) if len(w) >= 2]
    return [_singular(w) for w in words if w not in _NOISE][:8]


def _singular(word: str) -> str:
    if word.endswith(("ches", "shes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _score(product: Product, words: list[str]) -> int:
    haystack = f"{product.sku} {product.name} {product.category or ''}".lower()
    return sum(word in haystack for word in words)


def _product_view(p: Product) -> dict[str, Any]:
    rated = _CAPACITY.search(p.name)
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "list_price": exact(p.unit_price),
        "capacity": f"{rated.group(1)} {rated.group(2)}" if rated else None,
    }


QUOTE_TOOLS: tuple[ToolSpec[Any], ...] = (search_products, configure_system, calculate_price)
