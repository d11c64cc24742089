"""CRM tools, one module per domain."""

from agents.tools.base import RunState, ToolContext, ToolInputError, ToolSpec, tool

__all__ = ["RunState", "ToolContext", "ToolInputError", "ToolSpec", "tool"]
