"""An answer as the model writes it: Slack's chat streaming (chat.startStream / appendStream /
stopStream through slack_sdk's `chat_stream` helper), or, where streaming is refused, one
placeholder message brought up to date with chat.update at most once a second.

Streamed text is sanitised like any answer (no @channel, no hidden link targets). Sanitising
works on whole tokens, so text is handed on only up to the last whitespace outside an open
`<…>`: a ping or a link is never split between two appends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.chat_stream import ChatStream

from bot.blocks import sanitize

log = logging.getLogger(__name__)

BUFFER_CHARS = 120  # text gathered before an append: fewer calls, still reads as live
UPDATE_EVERY_SECONDS = 1.0  # the fallback's chat.update pace (tier 3, ~50 a minute)
_TOOL_STATUS = {
    "search_customers": "Looking up the customer…",
    "get_customer": "Reading the account…",
    "get_customer_context": "Reading the account…",
}


class SafeChunker:
    """Holds back the tail of the text that could still be part of a ping or a link."""

    def __init__(self) -> None:
        self.pending = ""

    def feed(self, delta: str) -> str:
        """The part of everything fed so far that is safe to show now."""
        self.pending += delta
        cut = _safe_cut(self.pending)
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return sanitize(ready) if ready else ""

    def rest(self) -> str:
        """Everything still held back (the run is over)."""
        ready, self.pending = self.pending, ""
        return sanitize(ready) if ready else ""


def _safe_cut(text: str) -> int:
    """Index after the last whitespace that is not inside an unclosed `<`."""
    opened = text.rfind("<")
    limit = opened if opened > text.rfind(">") else len(text)
    for i in range(limit - 1, -1, -1):
        if text[i].isspace():
            return i + 1
    return 0


# Closes a streamed text that the answer below replaces (the model failed mid-answer).
INTERRUPTED = "\n\n_— interrupted; the answer below replaces this._"


class SlackReplyStream:
    """Follows one specialist run (agents.loop.RunWatcher) and shows it in the thread."""

    def __init__(
        self,
        client: WebClient,
        *,
        channel: str,
        thread_ts: str,
        team_id: str,
        user_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.where = {"channel": channel, "thread_ts": thread_ts}
        self.recipient = {"recipient_team_id": team_id, "recipient_user_id": user_id}
        self.clock = clock
        self.chunker = SafeChunker()
        self.shown = ""  # sanitised text handed to Slack so far
        self.stream: ChatStream | None = None
        self.placeholder_ts: str | None = None  # set once streaming was refused
        self.last_update = float("-inf")

    @property
    def started(self) -> bool:
        """Has anything reached Slack (so the answer must finish this message)?"""
        return bool(self.shown)

    def text(self, delta: str) -> None:
        """A piece of the model's text."""
        piece = self.chunker.feed(delta)
        if piece:
            self._show(piece)

    def tools(self, names: list[str]) -> None:
        """Tools run now: say so under the thread (assistant threads only; elsewhere Slack
        refuses, which costs nothing but a log line)."""
        label = next((_TOOL_STATUS[n] for n in names if n in _TOOL_STATUS), "Checking the CRM…")
        try:
            self.client.assistant_threads_setStatus(
                channel_id=self.where["channel"],
                thread_ts=self.where["thread_ts"],
                status="is working on it…",
                loading_messages=[label],
            )
        except SlackApiError as exc:
            log.debug("no thread status here: %s", exc.response.get("error"))

    def finish(self, *, text: str, blocks: list[dict[str, Any]], answer_blocks: list[Any]) -> bool:
        """Close the message with `blocks` under the streamed text (plus the answer's own text
        sections when the answer is not what was streamed, e.g. after an offline fallback).
        False when nothing was shown: the caller posts the answer the usual way."""
        rest = self.chunker.rest()
        if rest:
            self._show(rest)
        if not self.started:
            return False
        streamed_all = _plain(text) in _plain(self.shown)
        if self.stream is not None and not streamed_all:
            self._append(INTERRUPTED)  # what was streamed stays: say it is not the answer
        if self.stream is not None and self._stop(
            blocks if streamed_all else [*answer_blocks, *blocks]
        ):
            return True
        # A placeholder shows its blocks, not its text: the answer's sections go in again.
        self._update_placeholder([*answer_blocks, *blocks], text=text[:3000] or self.shown[:3000])
        return True

    def _show(self, piece: str) -> None:
        self.shown += piece
        if self.placeholder_ts is None and self._append(piece):
            return
        if self.clock() - self.last_update >= UPDATE_EVERY_SECONDS:
            self._update_placeholder(None, text=self.shown)

    def _append(self, piece: str) -> bool:
        """Stream the piece; False once streaming is refused (the fallback takes over)."""
        try:
            if self.stream is None:
                self.stream = self.client.chat_stream(
                    buffer_size=BUFFER_CHARS, **self.where, **self.recipient
                )
            self.stream.append(markdown_text=piece)
            return True
        except (SlackApiError, SlackRequestError) as exc:
            log.info("chat streaming refused (%s): updating a placeholder instead", _error(exc))
            self.stream = None
            return False

    def _stop(self, blocks: list[dict[str, Any]]) -> bool:
        assert self.stream is not None
        try:
            self.stream.stop(blocks=blocks)
            return True
        except (SlackApiError, SlackRequestError) as exc:
            log.warning("chat.stopStream failed (%s): posting the answer instead", _error(exc))
            return False

    def _update_placeholder(self, blocks: list[dict[str, Any]] | None, *, text: str) -> None:
        """Create the placeholder on first use, then bring it up to date."""
        self.last_update = self.clock()
        if self.placeholder_ts is None:
            posted = self.client.chat_postMessage(
                channel=self.where["channel"],
                thread_ts=self.where["thread_ts"],
                text=text[:3000] or "…",
            )
            self.placeholder_ts = str(posted["ts"])
            if blocks is None:
                return
        self.client.chat_update(
            channel=self.where["channel"], ts=self.placeholder_ts, text=text[:3000], blocks=blocks
        )


def _plain(text: str) -> str:
    return " ".join(sanitize(text).split())


def _error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("error")) if response is not None else str(exc)
