"""The Anthropic adapter: the official SDK does its own retries; we only translate outcomes
(agents/llm/attempts.py says why a call failed and reports each attempt the SDK retried)."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx2
from anthropic.types import Message

from agents.errors import ModelUnavailableError
from agents.llm.attempts import reporting_retries, unavailable_reason, watch_attempts
from agents.llm.port import LLMRequest
from agents.settings import AgentSettings


class AnthropicLLM:
    """Claude through the Messages API."""

    offline = False

    def __init__(self, client: anthropic.Anthropic, *, prompt_cache: str = "5m") -> None:
        self._client = client
        self._prompt_cache = prompt_cache

    @classmethod
    def from_settings(cls, settings: AgentSettings, *, prompt_cache: str = "5m") -> AnthropicLLM:
        """A client with retries and timeout from settings; honours ANTHROPIC_BASE_URL."""
        assert settings.anthropic_api_key is not None
        client = anthropic.Anthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            max_retries=settings.max_retries,
            timeout=settings.timeout_seconds,
            middleware=[watch_attempts],
        )
        return cls(client, prompt_cache=prompt_cache)

    def create(self, request: LLMRequest) -> Message:
        """One Messages API call (streamed when the request wants text as it comes);
        provider failures become ModelUnavailableError, a stream cut mid-way included."""
        params = _params(request, self._prompt_cache)
        try:
            with reporting_retries(request.on_retry):
                if request.on_text is None:
                    return self._client.messages.create(**params)  # type: ignore[no-any-return,call-overload]
                return self._stream(params, request.on_text)
        except (anthropic.APIError, httpx2.TransportError) as exc:
            if (reason := unavailable_reason(exc)) is not None:
                raise ModelUnavailableError(reason) from exc
            raise

    def _stream(self, params: dict[str, object], on_text: Callable[[str], None]) -> Message:
        """Hand each text delta on as it arrives; the SDK accumulates the final message, whose
        usage is the cumulative count of the last message_delta (never a sum of deltas).
        The SDK retries only until the 200 arrives: a stream that breaks later is raised."""
        with self._client.messages.stream(**params) as stream:  # type: ignore[arg-type]
            for text in stream.text_stream:
                on_text(text)
            return stream.get_final_message()


def _params(request: LLMRequest, prompt_cache: str = "off") -> dict[str, object]:
    """The Messages API call. With prompt caching on, the system prompt and the tool list (the
    stable prefix of every turn of a run) carry cache_control breakpoints."""
    marker = _cache_marker(prompt_cache)
    system: object = request.system
    tools = request.tools
    if marker is not None:
        system = [{"type": "text", "text": request.system, "cache_control": marker}]
        if tools:
            tools = [*tools[:-1], {**tools[-1], "cache_control": marker}]
    params: dict[str, object] = {
        "model": request.model,
        "system": system,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
    }
    if tools:
        params["tools"] = tools
    if request.tool_choice is not None:
        params["tool_choice"] = request.tool_choice
    return params


def _cache_marker(prompt_cache: str) -> dict[str, str] | None:
    if prompt_cache == "off":
        return None
    if prompt_cache == "1h":
        return {"type": "ephemeral", "ttl": "1h"}
    return {"type": "ephemeral"}
