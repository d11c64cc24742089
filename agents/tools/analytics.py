"""Analytics tools: pipeline, revenue, win rate, top customers, stale deals, metrics."""

from __future__ import annotations

from typing import Any

from agents.tools.base import ToolSpec

ANALYTICS_TOOLS: tuple[ToolSpec[Any], ...] = ()
