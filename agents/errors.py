"""Typed stop conditions of the brain. The bot maps each to a short, honest message."""

from __future__ import annotations

from enum import StrEnum


class AgentError(Exception):
    """Base of every error the agents package raises on purpose."""


class UnknownModelError(AgentError):
    """A model with no price in the catalog: refused, never metered at $0."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"model {model!r} has no entry in the price catalog; add it before using it"
        )
        self.model = model


class ModelUnavailableError(AgentError):
    """The model provider failed after the SDK's own retries (overloaded, down, timed out)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the AI model is unavailable right now ({reason})")
        self.reason = reason


class Limit(StrEnum):
    """Which ceiling stopped a run."""

    TURN = "turn"  # model calls in one run
    TOKEN = "token"  # input + output tokens of the run
    COST = "cost"  # model cost of the request


class LoopLimitError(AgentError):
    """A specialist run hit one of its ceilings before finishing."""

    def __init__(self, limit: Limit, partial_text: str = "") -> None:
        super().__init__(f"stopped at the {limit} limit")
        self.limit = limit
        self.partial_text = partial_text
