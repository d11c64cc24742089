"""Scenario tests run on the product's sandbox (bot/sandbox.py) with test settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agents.metering.settings import CostSettings
from agents.settings import AgentSettings
from agents.suggestions.settings import SuggestionSettings
from bot.sandbox import SALES, TEAM, Sandbox, sandbox
from bot.settings import AccessSettings, RuntimeSettings

__all__ = ["SALES", "TEAM", "Stack", "model_agents", "offline_agents", "running_stack"]

Stack = Sandbox


def offline_agents(**overrides: Any) -> AgentSettings:
    return AgentSettings(anthropic_api_key=None, anthropic_base_url=None, **overrides)


def model_agents(base_url: str, **overrides: Any) -> AgentSettings:
    return AgentSettings(
        anthropic_api_key=SecretStr("test-key"),
        anthropic_base_url=base_url,
        max_retries=0,
        timeout_seconds=10,
        **overrides,
    )


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    agents: AgentSettings | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    cost: CostSettings | None = None,
    suggest: SuggestionSettings | None = None,
    access: AccessSettings | None = None,
) -> Iterator[Sandbox]:
    with sandbox(
        tmp_path,
        agents=agents or offline_agents(),
        database_url=database_url,
        redis_url=redis_url,
        cost=cost,
        suggest=suggest,
        access=access,
        runtime=RuntimeSettings(log_level="WARNING", workers=4),
    ) as running:
        yield running
