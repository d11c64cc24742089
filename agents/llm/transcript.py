"""Reading and writing Messages API content blocks, for the offline adapter's planners."""

from __future__ import annotations

import json
import uuid
from typing import Any


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_offline_{uuid.uuid4().hex[:12]}",
        "name": name,
        "input": arguments,
    }


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user" and isinstance(m["content"], str)]


def latest_question(messages: list[dict[str, Any]]) -> str:
    texts = user_texts(messages)
    return texts[-1] if texts else ""


def earlier_questions(messages: list[dict[str, Any]]) -> list[str]:
    return user_texts(messages)[:-1]


def steps_since_question(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, parsed result) for every tool run after the latest question."""
    last_question = max(
        (
            i
            for i, m in enumerate(messages)
            if m["role"] == "user" and isinstance(m["content"], str)
        ),
        default=-1,
    )
    names: dict[str, str] = {}
    steps: list[tuple[str, dict[str, Any]]] = []
    for message in messages[last_question + 1 :]:
        for block in message["content"]:
            if block["type"] == "tool_use":
                names[block["id"]] = block["name"]
            elif block["type"] == "tool_result":
                steps.append((names.get(block["tool_use_id"], "?"), parse_result(block)))
    return steps


def parse_result(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("is_error"):
        return {"error": block["content"]}
    try:
        parsed = json.loads(block["content"])
    except (TypeError, ValueError):
        return {"error": "unreadable tool result"}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def clear_winner(search_result: dict[str, Any]) -> dict[str, Any] | None:
    """The one customer a search_customers result clearly points at (a single hit, or a top
    score no other hit shares); None when there is none or it is ambiguous."""
    hits = search_result.get("customers", [])
    if len(hits) == 1 or (hits and hits[0].get("score", 0) > hits[1].get("score", 0)):
        return dict(hits[0])
    return None
