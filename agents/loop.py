"""The bounded tool loop: call the model, run the tools it asks for, stop at a ceiling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from anthropic.types import Message

from agents.errors import Limit, LoopLimitError
from agents.llm.port import LLM, LLMRequest
from agents.memory import Seen
from agents.metering.meter import usage_of
from agents.specs import AgentSpec
from agents.tools.base import ToolContext, ToolInputError, to_json
from agents.tools.permissions import ToolAccess

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LoopLimits:
    """Ceilings of one run: model calls, tokens per call, tokens and cost in total."""

    max_turns: int
    max_output_tokens: int
    max_run_tokens: int
    max_cost_micro_usd: int | None = None  # None: no cost ceiling (offline runs cost $0)


class Stop(StrEnum):
    """Why a run ended normally (ceilings raise LoopLimitError instead)."""

    ANSWERED = "answered"  # the model replied in text
    DRAFTED = "drafted"  # a gated tool proposed a draft: a person decides the rest


class RunWatcher(Protocol):
    """Someone following a run live (the Slack reply stream)."""

    def text(self, delta: str) -> None:
        """A piece of the model's text, as it arrives."""

    def tools(self, names: list[str]) -> None:
        """The model asked for these tools; they run now."""


@dataclass
class RunResult:
    """What a specialist produced."""

    text: str
    stop: Stop = Stop.ANSWERED
    tools_called: list[str] = field(default_factory=list)
    turns: int = 0
    tokens: int = 0
    seen: list[Seen] = field(default_factory=list)  # tool results with a title, for memory


def run_specialist(
    spec: AgentSpec,
    *,
    llm: LLM,
    model: str,
    system: str,
    messages: list[dict[str, Any]],
    ctx: ToolContext,
    limits: LoopLimits,
    hints: dict[str, str] | None = None,
    watch: RunWatcher | None = None,
    spent: Callable[[], int] | None = None,
    access: ToolAccess | None = None,
) -> RunResult:
    """Run `spec` until the model answers in text, or raise LoopLimitError at a ceiling.
    A `watch` sees the model's text as it streams and hears which tools run; `spent` is the
    request's model cost so far in µUSD (the meter's count), held to the cost ceiling; `access`
    hides the tools this person may not use (and refuses them if asked for anyway)."""
    result = RunResult(text="")
    transcript = list(messages)
    usable = access.allowed(spec.tools) if access else spec.tools
    tools = [t.to_anthropic() for t in usable]
    while result.turns < limits.max_turns:
        request = LLMRequest(
            agent=spec.name,
            model=model,
            system=system,
            messages=transcript,
            tools=tools,
            max_tokens=limits.max_output_tokens,
            hints=hints or {},
            on_text=watch.text if watch else None,
        )
        reply = llm.create(request)
        result.turns += 1
        result.tokens += usage_of(reply).total
        result.text = _text_of(reply)
        uses = [b for b in reply.content if b.type == "tool_use"]
        if not uses:
            return result
        drafts_before = len(ctx.state.draft_ids)
        if watch is not None:
            watch.tools([u.name for u in uses])
        transcript.append(
            {"role": "assistant", "content": [_block_param(b) for b in reply.content]}
        )
        transcript.append(
            {"role": "user", "content": [_run_tool(spec, ctx, b, result, access) for b in uses]}
        )
        if len(ctx.state.draft_ids) > drafts_before:
            result.stop = Stop.DRAFTED  # never loop on after proposing: the run is done
            return result
        if result.tokens >= limits.max_run_tokens:
            raise LoopLimitError(Limit.TOKEN, result.text)
        if _over_cost(limits, spent):
            raise LoopLimitError(Limit.COST, result.text)
    raise LoopLimitError(Limit.TURN, result.text)


def _over_cost(limits: LoopLimits, spent: Callable[[], int] | None) -> bool:
    """Has the request reached its cost ceiling? Checked before the next call is made."""
    ceiling = limits.max_cost_micro_usd
    return ceiling is not None and spent is not None and spent() >= ceiling


def _text_of(reply: Message) -> str:
    return "\n".join(b.text for b in reply.content if b.type == "text").strip()


def _block_param(block: Any) -> dict[str, Any]:
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {"type": "text", "text": block.text}


def _run_tool(
    spec: AgentSpec, ctx: ToolContext, use: Any, result: RunResult, access: ToolAccess | None
) -> dict[str, Any]:
    """Run one requested tool. Input problems go back to the model as is_error results."""
    tool = spec.tool(use.name)
    result.tools_called.append(use.name)
    if tool is None:
        log.warning("model asked for a tool outside the allow-list: %s", use.name)
        return _tool_result(use.id, f"tool {use.name!r} is not available to you", error=True)
    if access is not None and (refusal := access.refusal(tool)):
        return _tool_result(use.id, f"not available: {refusal}", error=True)
    try:
        output = tool.run(ctx, dict(use.input))
    except ToolInputError as exc:
        return _tool_result(use.id, str(exc), error=True)
    display = output.get("_display")
    if isinstance(display, dict) and display.get("title") and not tool.gated:
        result.seen.append(Seen(use.name, dict(use.input), str(display["title"])[:200]))
    return _tool_result(use.id, to_json(output))


def _tool_result(tool_use_id: str, content: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if error:
        block["is_error"] = True
    return block
