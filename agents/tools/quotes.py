"""Quote tools: the product catalog, configuring a system from requirements, pricing a quote."""

from __future__ import annotations

from typing import Any

from agents.tools.base import ToolSpec

QUOTE_TOOLS: tuple[ToolSpec[Any], ...] = ()
