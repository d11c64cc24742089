"""The Anthropic adapter: the official SDK does its own retries; we only translate outcomes."""

from __future__ import annotations

import anthropic
from anthropic.types import Message

from agents.errors import ModelUnavailableError
from agents.llm.port import LLMRequest
from agents.settings import AgentSettings

# Outcomes that mean "the model can't answer now", after the SDK's retries are spent.
_UNAVAILABLE: tuple[tuple[type[Exception], str], ...] = (
    (anthropic.APITimeoutError, "timed out"),
    (anthropic.APIConnectionError, "unreachable"),
    (anthropic.RateLimitError, "rate limited"),
    (anthropic.OverloadedError, "overloaded"),
    (anthropic.AuthenticationError, "API key rejected"),
    (anthropic.PermissionDeniedError, "permission denied"),
    (anthropic.InternalServerError, "server error"),
)


class AnthropicLLM:
    """Claude through the Messages API."""

    offline = False

    def __init__(self, client: anthropic.Anthropic) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> AnthropicLLM:
        """A client with retries and timeout from settings; honours ANTHROPIC_BASE_URL."""
        assert settings.anthropic_api_key is not None
        client = anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            max_retries=settings.max_retries,
            timeout=settings.timeout_seconds,
        )
        return cls(client)

    def create(self, request: LLMRequest) -> Message:
        """One Messages API call; provider failures become ModelUnavailableError."""
        try:
            return self._client.messages.create(**_params(request))  # type: ignore[no-any-return,call-overload]
        except anthropic.APIError as exc:
            for error_class, reason in _UNAVAILABLE:
                if isinstance(exc, error_class):
                    raise ModelUnavailableError(reason) from exc
            raise


def _params(request: LLMRequest) -> dict[str, object]:
    params: dict[str, object] = {
        "model": request.model,
        "system": request.system,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
    }
    if request.tools:
        params["tools"] = request.tools
    if request.tool_choice is not None:
        params["tool_choice"] = request.tool_choice
    return params
