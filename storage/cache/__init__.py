"""Shared short-lived state behind one interface: Redis or in-process."""

from storage.cache.store import (
    ClaimStore,
    MemoryStore,
    RedisStore,
    StoreUnavailable,
    store_from_url,
)

__all__ = ["ClaimStore", "MemoryStore", "RedisStore", "StoreUnavailable", "store_from_url"]
