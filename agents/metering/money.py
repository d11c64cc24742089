"""Money as people read it. Amounts are integer micro-USD everywhere else."""

from __future__ import annotations

MICRO_PER_USD = 1_000_000


def usd(micro_usd: int) -> str:
    """Precise enough to see a single small call: $0.0042."""
    return f"${micro_usd / MICRO_PER_USD:.4f}"


def usd_cents(micro_usd: int) -> str:
    """Report totals: $1,234.56."""
    return f"${micro_usd / MICRO_PER_USD:,.2f}"
