"""Agents are data: a spec names its prompt, tools and model role; code runs it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined

from agents.tools.base import ToolSpec

ModelRole = Literal["triage", "specialist"]


def money(value: object) -> str:
    """'48000.00' → '$48,000'; '1200.50' → '$1,200.50' (amounts arrive as decimal strings)."""
    amount = Decimal(str(value))
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


@cache
def prompts() -> Environment:
    """The Jinja environment over agents/prompts (built on first use, not at import)."""
    env = Environment(
        loader=PackageLoader("agents", "prompts"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # prompts and Slack mrkdwn, not HTML
    )
    env.filters["money"] = money
    return env


@dataclass(frozen=True)
class AgentSpec:
    """A specialist: what it is for (the router reads this), its prompt and its allowed tools."""

    name: str
    description: str
    prompt_template: str
    prompt_version: str
    tools: tuple[ToolSpec[Any], ...]
    model_role: ModelRole = "specialist"

    def system_prompt(self, **context: Any) -> str:
        """The rendered system prompt."""
        return prompts().get_template(self.prompt_template).render(**context)

    def tool(self, name: str) -> ToolSpec[Any] | None:
        """The allowed tool of that name; None for anything outside the allow-list."""
        return next((t for t in self.tools if t.name == name), None)
