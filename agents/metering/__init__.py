"""Pricing and the usage ledger."""

from agents.metering.meter import Attribution, CallCost, Meter, MeteredLLM, usage_of
from agents.metering.prices import Price, PriceCatalog, Usage

__all__ = [
    "Attribution",
    "CallCost",
    "Meter",
    "MeteredLLM",
    "Price",
    "PriceCatalog",
    "Usage",
    "usage_of",
]
