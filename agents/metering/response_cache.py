"""Identical model requests answered from cache: same org, model, system, messages and tools.

A hit is recorded in the ledger as a zero-cost `cached` row carrying the tokens and the cost
the original call had, so reports show what the cache saved. Best effort: a cache that does
not answer is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass

from anthropic.types import Message

from agents.llm.port import LLMRequest
from agents.metering.prices import Usage
from storage.cache import ClaimStore, StoreUnavailable

log = logging.getLogger(__name__)

CACHEABLE_STOPS = frozenset({"end_turn", "tool_use"})  # complete answers only


@dataclass(frozen=True)
class CachedResponse:
    """A stored answer and what producing it cost."""

    message: Message
    usage: Usage
    cost_micro_usd: int


class ResponseCache:
    """Request hash → the model's answer, for `ttl_seconds`."""

    def __init__(self, store: ClaimStore, *, ttl_seconds: int) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(org_id: int, request: LLMRequest) -> str:
        """Everything that shapes the answer, hashed; orgs never share entries."""
        shaped = {
            "org": org_id,
            "model": request.model,
            "system": request.system,
            "messages": request.messages,
            "tools": request.tools,
            "tool_choice": request.tool_choice,
            "max_tokens": request.max_tokens,
        }
        canonical = json.dumps(shaped, sort_keys=True, ensure_ascii=False, default=str)
        return "llm-cache:" + hashlib.sha256(canonical.encode()).hexdigest()

    def get(self, key: str) -> CachedResponse | None:
        """The stored answer, if any."""
        try:
            raw = self.store.get(key)
        except StoreUnavailable as exc:
            log.warning("response cache unreachable, calling the model: %s", exc)
            return None
        if raw is None:
            return None
        entry = json.loads(raw)
        return CachedResponse(
            message=Message.model_validate(entry["message"]),
            usage=Usage(**entry["usage"]),
            cost_micro_usd=int(entry["cost"]),
        )

    def put(self, key: str, message: Message, usage: Usage, cost_micro_usd: int) -> None:
        """Store a complete answer."""
        if message.stop_reason not in CACHEABLE_STOPS:
            return
        entry = {
            "message": message.model_dump(mode="json"),
            "usage": asdict(usage),
            "cost": cost_micro_usd,
        }
        try:
            self.store.set(key, json.dumps(entry), ttl_seconds=self.ttl_seconds)
        except StoreUnavailable as exc:
            log.warning("response cache unreachable, not stored: %s", exc)
