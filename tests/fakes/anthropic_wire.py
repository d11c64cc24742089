"""The Anthropic Messages API wire format: request checks, response bodies, SSE events.

Pure functions used by `FakeAnthropicAPI`; shapes follow the real API as the official SDK
parses them (see anthropic/lib/streaming/_messages.py `accumulate_event`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

_TEXT_CHUNK = 12  # characters per text_delta / thinking_delta: small, so streams have steps
_JSON_CHUNK = 16  # characters per input_json_delta
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    """The real error JSON: {"type": "error", "error": {"type", "message"}, "request_id"}."""
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def validate_request(body: dict[str, Any], *, needs_max_tokens: bool = True) -> str | None:
    """The 400 message the real API would give for what we rely on, or None when valid.

    count_tokens takes the same body minus `max_tokens`.
    """
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    valid_max = isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0
    if needs_max_tokens and not valid_max:
        return "max_tokens: Field required (an integer >= 1)"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "messages: Field required"
    if not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if not isinstance(message.get("content"), str | list):
            return f"messages.{index}.content: Field required"
    return _tool_pairing_problem(messages) or _tool_choice_problem(body)


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict) and block.get("type") == kind]


def _tool_pairing_problem(messages: list[dict[str, Any]]) -> str | None:
    """Every tool_use needs a tool_result right after it, and only then (API rule)."""
    for index, message in enumerate(messages):
        previous = messages[index - 1] if index else {}
        used = {b.get("id") for b in _blocks(previous, "tool_use")}
        answered = {b.get("tool_use_id") for b in _blocks(message, "tool_result")}
        if used and previous.get("role") == "assistant" and used - answered:
            missing = ", ".join(sorted(str(i) for i in used - answered))
            return (
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {missing}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
        if answered - used:
            stray = ", ".join(sorted(str(i) for i in answered - used))
            return (
                f"messages.{index}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{stray}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message."
            )
    return None


def _tool_choice_problem(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    names = {tool.get("name") for tool in body.get("tools") or [] if isinstance(tool, dict)}
    if choice.get("name") not in names:
        return f"tool_choice.name: tool {choice.get('name')!r} not found in tools"
    return None


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """A deterministic stand-in for token counting: JSON length / 4."""
    counted = {key: body.get(key) for key in ("system", "messages", "tools")}
    return max(1, len(json.dumps(counted, sort_keys=True)) // 4)


def _normal_block(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") == "tool_use":
        return {"id": f"toolu_{secrets.token_hex(12)}", "input": {}, **block}
    if block.get("type") == "thinking":
        return {"signature": secrets.token_hex(16), **block}
    return dict(block)


def _content(content: list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [_normal_block(block) for block in content]


def _usage(
    scripted: Mapping[str, Any] | None, request: dict[str, Any], content: list[dict[str, Any]]
) -> dict[str, Any]:
    """Scripted usage with every field the real API sends filled in."""
    usage: dict[str, Any] = dict(scripted or {})
    usage.setdefault("input_tokens", estimate_input_tokens(request))
    usage.setdefault("output_tokens", max(1, len(json.dumps(content)) // 4))
    usage.setdefault("cache_creation_input_tokens", 0)
    usage.setdefault("cache_read_input_tokens", 0)
    usage.setdefault(
        "cache_creation",
        {
            "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
            "ephemeral_1h_input_tokens": 0,
        },
    )
    usage.setdefault("service_tier", "standard")
    return usage


def build_message(
    request: dict[str, Any],
    content: list[dict[str, Any]] | str,
    *,
    usage: Mapping[str, Any] | None = None,
    stop_reason: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """A complete Messages API response body (what a non-streaming call returns).

    Missing tool_use ids are generated; `stop_reason` defaults to "tool_use" when a tool
    is called, else "end_turn"; `model` defaults to the requested one.
    """
    blocks = _content(content)
    uses_tool = any(block.get("type") == "tool_use" for block in blocks)
    return {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": model or request.get("model"),
        "content": blocks,
        "stop_reason": stop_reason or ("tool_use" if uses_tool else "end_turn"),
        "stop_sequence": None,
        "usage": _usage(usage, request, blocks),
    }


def stream_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE (event, data) pairs the real API sends for `message`, in order."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": 1}
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
        },
    )
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    # message_delta usage is cumulative: the SDK overwrites its snapshot with these counts.
    delta_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        )
    }
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": delta_usage,
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    if kind == "tool_use":
        start = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": ""}] + [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _pieces(json.dumps(block["input"]), _JSON_CHUNK)
        ]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": piece}
            for piece in _pieces(block["thinking"], _TEXT_CHUNK)
        ] + [{"type": "signature_delta", "signature": block["signature"]}]
    else:
        start = {**block, "text": ""}
        deltas = [
            {"type": "text_delta", "text": piece} for piece in _pieces(block["text"], _TEXT_CHUNK)
        ]
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": start},
    )
    if index == 0:
        yield "ping", {"type": "ping"}  # the real API pings right after the first block opens
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
