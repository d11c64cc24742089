"""Tools are typed functions over the CRM; their Anthropic schema comes from the args model."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from agents.charts import Chart
from storage.models.enums import DraftKind

if TYPE_CHECKING:
    from agents.drafts.service import DraftService

Args = TypeVar("Args", bound=BaseModel)


@dataclass(frozen=True)
class RevisionTarget:
    """A Regenerate click: the gated tool revises this draft instead of creating one."""

    draft_id: int
    version: int
    kind: DraftKind


@dataclass
class RunState:
    """What a run learns as it goes (the customer in focus, the drafts it proposed), shared
    with the meter and the gated tools."""

    customer_id: int | None = None
    agent: str = ""
    prompt_version: str = ""
    model: str = ""
    draft_ids: list[int] = field(default_factory=list)
    revise: RevisionTarget | None = None
    charts: list[Chart] = field(default_factory=list)  # drawn under the answer by the bot


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """What every tool may use: the org it acts for, who asked, the database and the clock."""

    factory: sessionmaker[Session]
    org_id: int
    user_id: int | None
    now: datetime
    state: RunState = field(default_factory=RunState)
    drafts: DraftService | None = None  # None: gated tools refuse (e.g. the MCP server)
    conversation_id: int | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    # Rate limits for heavy tools: activity name → the refusal to give, or None to go ahead.
    throttle: Callable[[str], str | None] | None = None


class ToolInputError(Exception):
    """The model gave input the tool cannot use; it goes back as an is_error result."""


@dataclass(frozen=True)
class ToolSpec(Generic[Args]):
    """A tool: name, description (the docstring), args model and the function."""

    name: str
    description: str
    args_model: type[Args]
    fn: Callable[[ToolContext, Args], dict[str, Any]]
    gated: bool = False  # proposes a draft for approval instead of acting; ends the run

    def to_anthropic(self) -> dict[str, Any]:
        """The tool definition the Messages API expects."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.args_model.model_json_schema(),
        }

    def run(self, ctx: ToolContext, raw_input: dict[str, Any]) -> dict[str, Any]:
        """Validate the model's input, then call; bad input raises ToolInputError."""
        try:
            args = self.args_model.model_validate(raw_input)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolInputError(f"invalid input for {self.name}: {problems}") from exc
        return self.fn(ctx, args)


def tool(
    args_model: type[Args],
) -> Callable[[Callable[[ToolContext, Args], dict[str, Any]]], ToolSpec[Args]]:
    """Turn `def name(ctx, args) -> dict` with a docstring into a ToolSpec."""

    def wrap(fn: Callable[[ToolContext, Args], dict[str, Any]]) -> ToolSpec[Args]:
        doc = inspect.getdoc(fn)
        if not doc:
            raise ValueError(f"tool {fn.__name__} needs a docstring: it is the model's description")
        return ToolSpec(name=fn.__name__, description=doc, args_model=args_model, fn=fn)

    return wrap


def to_json(result: dict[str, Any]) -> str:
    """Tool results go to the model as compact JSON (dates and decimals as strings)."""
    return json.dumps(result, default=str, separators=(",", ":"))
