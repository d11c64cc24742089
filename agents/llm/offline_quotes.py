"""Offline planner of the quotes specialist: rules and templates over real tool results."""

from __future__ import annotations

from typing import Any

from agents.llm.port import LLMRequest
from agents.llm.transcript import text_block


def plan(_request: LLMRequest) -> dict[str, Any]:
    """The next step of an offline quotes run."""
    return text_block(
        "Offline mode has no rules for this request yet. Set ANTHROPIC_API_KEY to use Claude."
    )
