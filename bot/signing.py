"""Slack request signatures, checked against every configured signing secret.

Written around slack_sdk's SignatureVerifier rather than Bolt's middleware because Bolt takes
one secret: during a rotation Slack may sign with the old or the new one for a while."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.signature import SignatureVerifier


class SigningSecrets:
    """Valid when any secret (current first, then the previous one) signed the request."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._verifiers = [SignatureVerifier(secret) for secret in secrets if secret]

    def valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        # SignatureVerifier refuses timestamps more than five minutes off (replays), but
        # raises on a timestamp that is not a number and on a body that is not UTF-8 (Slack
        # signs only UTF-8): those are simply unsigned.
        timestamp = headers.get("x-slack-request-timestamp", "")
        if not timestamp.isdigit() or not _utf8(body):
            return False
        return any(v.is_valid_request(body, dict(headers)) for v in self._verifiers)


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
