"""The one interface every model adapter implements: Anthropic's Messages API shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from anthropic.types import Message


@dataclass(frozen=True)
class FailedAttempt:
    """One HTTP attempt the provider's SDK gave up on before trying again (429, 5xx, a
    timeout): not billed, but a model call all the same, so the ledger keeps it."""

    reason: str  # the same words ModelUnavailableError uses: "rate limited", "overloaded"…
    latency_ms: int
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class LLMRequest:
    """One Messages API call. `agent` tells the offline adapter (and the ledger) who is asking."""

    agent: str
    model: str
    system: str
    messages: list[dict[str, Any]]
    max_tokens: int
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    # Facts for the offline adapter, which has no model to read the prompt (never sent).
    hints: dict[str, str] = field(default_factory=dict)
    # Streaming: adapters that can stream call this with each text delta as it arrives; the
    # returned message is complete either way (never part of the cache key: no effect on it).
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # Retries: adapters whose SDK retries call this for each attempt it retried (the last
    # attempt's failure is raised instead). Never part of the cache key either.
    on_retry: Callable[[FailedAttempt], None] | None = field(
        default=None, compare=False, repr=False
    )


class LLM(Protocol):
    """A model. `offline` adapters cost nothing and say so on every reply."""

    @property
    def offline(self) -> bool:
        """True for the rules-and-templates adapter that uses no model."""
        ...

    def create(self, request: LLMRequest) -> Message:
        """Run one call and return the complete message (usage included)."""
        ...
