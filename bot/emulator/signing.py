"""What a Slack workspace sends to an app: signed requests and realistic payloads.

`sign_request` computes the v0 signature exactly as Slack does; the builders produce the
Events API envelopes, slash-command bodies and interactivity payloads Slack posts; and
`EventSender` signs and delivers them to an app's `/slack/events` URL over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from bot.emulator.payloads import (
    app_mention_event,
    block_action,
    dm_message_event,
    slash_command,
)

# The payload builders live in payloads.py; they are re-exported so the whole "what a
# workspace sends" toolkit imports from one place.
__all__ = [
    "EventSender",
    "app_mention_event",
    "block_action",
    "dm_message_event",
    "sign_request",
    "slash_command",
]


def sign_request(
    body: bytes | str, signing_secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """The `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    base = f"v0:{ts}:{text}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class EventSender:
    """Signs requests like Slack and POSTs them to an app's `/slack/events` URL."""

    def __init__(self, app_url: str, signing_secret: str, timeout: float = 10.0) -> None:
        base = app_url.rstrip("/")
        self.url = base if base.endswith("/slack/events") else f"{base}/slack/events"
        self._secret = signing_secret
        self._timeout = timeout

    def post(
        self,
        body: bytes | str,
        content_type: str,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str, float]:
        """Deliver one signed request; returns (status, headers, body text, elapsed seconds).

        `extra_headers` win over the computed ones, so a test can send a bad signature.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = {"Content-Type": content_type, **sign_request(data, self._secret)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
        if retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = retry_reason
        headers.update(extra_headers or {})
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                status, reply_headers, text = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, reply_headers, text = error.code, error.headers, error.read()
        elapsed = time.perf_counter() - started
        return status, dict(reply_headers.items()), text.decode("utf-8", "replace"), elapsed

    def post_event(
        self, envelope: Mapping[str, Any], **kwargs: Any
    ) -> tuple[int, dict[str, str], str, float]:
        """Deliver an Events API envelope as JSON."""
        return self.post(json.dumps(envelope), "application/json", **kwargs)

    def post_form(self, body: str, **kwargs: Any) -> tuple[int, dict[str, str], str, float]:
        """Deliver a slash command or interactivity form body."""
        return self.post(body, "application/x-www-form-urlencoded", **kwargs)
