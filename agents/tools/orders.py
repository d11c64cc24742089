"""Orders tools: a customer's orders and invoices (order drafts go through the gated tools)."""

from __future__ import annotations

from typing import Any

from agents.tools.base import ToolSpec

ORDER_TOOLS: tuple[ToolSpec[Any], ...] = ()
