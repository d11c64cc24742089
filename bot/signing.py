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
        # SignatureVerifier also refuses timestamps more than five minutes off (replays).
        return any(v.is_valid_request(body, dict(headers)) for v in self._verifiers)
