"""A chart an agent wants shown next to its answer: data only; the Slack layer draws it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Chart:
    """One series over labelled points, e.g. pipeline value by stage or revenue by month."""

    kind: Literal["bar", "line"]
    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    unit: str = "USD"  # how the values read: "USD", "%", "deals"
