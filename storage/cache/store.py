"""Short-lived shared state (dedup claims, locks): Redis in production, in-process embedded."""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis


class StoreUnavailable(Exception):
    """The shared store did not answer; callers decide whether to fail open or closed."""


class ClaimStore(Protocol):
    """Atomic set-if-absent with expiry: the primitive behind dedup and locks."""

    def claim(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        """Set `key` to `value` if absent; True when this caller got it."""
        ...

    def get(self, key: str) -> str | None:
        """The current value, if the key exists and has not expired."""
        ...

    def set(self, key: str, value: str, *, ttl_seconds: float) -> None:
        """Set `key` unconditionally with a fresh expiry."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        ...

    def ping(self) -> bool:
        """Whether the store answers."""
        ...


class MemoryStore:
    """In-process ClaimStore for the embedded mode and unit tests (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[str, float]] = {}

    def _live(self, key: str, now: float) -> str | None:
        entry = self._data.get(key)
        if entry is None or entry[1] <= now:
            self._data.pop(key, None)
            return None
        return entry[0]

    def claim(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._data[key] = (value, now + ttl_seconds)
            return True

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key, time.monotonic())

    def set(self, key: str, value: str, *, ttl_seconds: float) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl_seconds)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def ping(self) -> bool:
        return True


class RedisStore:
    """ClaimStore on Redis: SET NX PX is atomic across every replica."""

    def __init__(self, client: redis.Redis, *, prefix: str = "countersign:") -> None:
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "countersign:") -> RedisStore:
        """A store on the Redis at `url`, with short timeouts so a dead Redis fails fast."""
        client = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True
        )
        return cls(client, prefix=prefix)

    def claim(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        try:
            return bool(
                self._redis.set(self._prefix + key, value, nx=True, px=int(ttl_seconds * 1000))
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.get(self._prefix + key)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return None if value is None else str(value)

    def set(self, key: str, value: str, *, ttl_seconds: float) -> None:
        try:
            self._redis.set(self._prefix + key, value, px=int(ttl_seconds * 1000))
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def delete(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


def store_from_url(redis_url: str | None, *, prefix: str = "countersign:") -> ClaimStore:
    """Redis when configured, else the in-process store."""
    if redis_url:
        return RedisStore.from_url(redis_url, prefix=prefix)
    return MemoryStore()
