"""Working memory of a thread: what its recent runs looked at (which tool, with what input,
and the title of what came back), kept in the short-lived store (Redis in production,
in-process embedded) for a while and handed to the next run, so a follow-up ("and their
invoices?") starts from the account already found instead of searching again.

The durable history is the conversation in the database; this is a hint, so it fails open:
a store that does not answer means a run without it, never a failed answer."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from storage.cache.store import ClaimStore, StoreUnavailable

log = logging.getLogger(__name__)

KEEP = 8  # looked-at items remembered per thread, newest first


@dataclass(frozen=True)
class Seen:
    """One tool result a run looked at."""

    tool: str
    args: dict[str, Any]
    title: str


class WorkingMemory:
    """Per-conversation memory with a time to live."""

    def __init__(self, store: ClaimStore, *, ttl_seconds: float) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds

    def recall(self, conversation_id: int) -> list[Seen]:
        """What recent runs of this thread looked at, newest first ([] when unknown)."""
        try:
            raw = self.store.get(_key(conversation_id))
        except StoreUnavailable:
            log.warning("working memory unavailable: answering without it")
            return []
        if not raw:
            return []
        try:
            return [Seen(**item) for item in json.loads(raw)]
        except (TypeError, ValueError):  # written by an older version: start afresh
            return []

    def remember(self, conversation_id: int, seen: list[Seen]) -> None:
        """Add this run's items in front of what was there, without repeats; refresh the TTL."""
        if not seen:
            return
        merged: list[Seen] = []
        for item in [*reversed(seen), *self.recall(conversation_id)]:
            if all((item.tool, item.args) != (m.tool, m.args) for m in merged):
                merged.append(item)
        payload = json.dumps([asdict(item) for item in merged[:KEEP]], default=str)
        try:
            self.store.set(_key(conversation_id), payload, ttl_seconds=self.ttl_seconds)
        except StoreUnavailable:
            log.warning("working memory unavailable: this run is not remembered")


def describe(seen: list[Seen]) -> str:
    """The hint the next run's system prompt carries (empty when there is nothing)."""
    if not seen:
        return ""
    lines = [
        f"- {item.tool} {json.dumps(item.args, sort_keys=True)} → {item.title}" for item in seen
    ]
    return (
        "Earlier in this thread you already looked at (newest first; reuse these ids for "
        "follow-ups rather than searching again):\n" + "\n".join(lines)
    )


def _key(conversation_id: int) -> str:
    return f"wm:{conversation_id}"
