"""Model adapters behind the LLM port."""

from agents.llm.port import LLM, LLMRequest

__all__ = ["LLM", "LLMRequest"]
