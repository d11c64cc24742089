"""Recorded calls, injected failures and delays: the test-facing side of the emulator."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator.calls import RecordedCall

Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass
class Failure:
    """An injected failure for the next `remaining` calls to one method."""

    error: str
    status: int
    retry_after: int | None
    remaining: int

    def answer(self) -> Answer:
        """The HTTP answer Slack gives for this failure (429s carry Retry-After)."""
        headers = {}
        if self.status == 429 and self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return self.status, headers, {"ok": False, "error": self.error}


class CallRecorder:
    """Mixin: keeps every call, answers `wait_for`, holds failure and delay rules.

    `self._state` is the one lock of the emulator; it also guards the workspace.
    """

    def __init__(self) -> None:
        self._state = threading.Condition(threading.RLock())
        self._calls: list[RecordedCall] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._delays: dict[str, float] = {}

    @property
    def calls(self) -> list[RecordedCall]:
        """Every call received so far, oldest first (a snapshot)."""
        with self._state:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The calls made to one method, oldest first."""
        return [call for call in self.calls if call.method == method]

    def wait_for(
        self,
        predicate: Callable[[RecordedCall], bool] | str,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> RecordedCall:
        """Block until a recorded call matches (a predicate, or a method name); return it.

        Only calls from index `after` on are considered: pass `len(emulator.calls)` taken
        before an action to wait for a call that action caused. The predicate runs under
        the emulator's (re-entrant) lock, so it may call the emulator's accessors.
        Raises TimeoutError listing every call seen, so a failing test shows what happened.
        """

        def matches(call: RecordedCall) -> bool:
            return call.method == predicate if isinstance(predicate, str) else predicate(call)

        with self._state:
            found = self._state.wait_for(
                lambda: next((call for call in self._calls[after:] if matches(call)), None),
                timeout,
            )
            if found is None:
                seen = "\n  ".join(call.describe() for call in self._calls) or "(no calls)"
                raise TimeoutError(
                    f"no matching Slack call within {timeout}s; calls seen:\n  {seen}"
                )
            return found

    def reset(self) -> None:
        """Forget recorded calls, injected failures and delays (workspace state stays)."""
        with self._state:
            self._calls.clear()
            self._failures.clear()
            self._delays.clear()

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail with `error` (429 adds Retry-After)."""
        with self._state:
            queue = self._failures.setdefault(method, deque())
            queue.append(Failure(error, status, retry_after, times))

    def delay(self, method: str, seconds: float) -> None:
        """Answer every later call to `method` only after `seconds` (0 turns it off)."""
        with self._state:
            self._delays[method] = seconds

    def _delay_for(self, method: str) -> float:
        with self._state:
            return self._delays.get(method, 0.0)

    def _take_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        return failure

    def _record(self, call: RecordedCall) -> None:
        with self._state:
            self._calls.append(call)
            self._state.notify_all()
