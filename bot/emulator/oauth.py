"""oauth.v2.access as Slack answers it: a one-time code, exchanged with the app's client
credentials (HTTP Basic, as slack_sdk sends them), for the workspace's bot token."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from bot.emulator.workspace import BOT_USER_ID, SlackError

APP_ID = "A_COUNTERSIGN"


@dataclass(frozen=True)
class Grant:
    """What the person approved on Slack's install page, waiting for the app's exchange."""

    team_id: str
    team_name: str
    bot_token: str
    installer: str
    scopes: str


def client_credentials(authorization: str | None, params: dict[str, Any]) -> tuple[str, str]:
    """client_id and client_secret from Basic auth, else from the form."""
    if authorization and authorization.lower().startswith("basic "):
        decoded = base64.b64decode(authorization[6:].strip()).decode()
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(params.get("client_id", "")), str(params.get("client_secret", ""))


def access_answer(grant: Grant) -> dict[str, Any]:
    """The oauth.v2.access body for a bot install."""
    return {
        "app_id": APP_ID,
        "authed_user": {"id": grant.installer},
        "scope": grant.scopes,
        "token_type": "bot",
        "access_token": grant.bot_token,
        "bot_user_id": BOT_USER_ID,
        "team": {"id": grant.team_id, "name": grant.team_name},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def check_client(
    expected: tuple[str, str] | None, authorization: str | None, params: dict[str, Any]
) -> None:
    """invalid_client_id / bad_client_secret, as Slack says them."""
    if expected is None:
        raise SlackError("invalid_client_id")
    client_id, secret = client_credentials(authorization, params)
    if client_id != expected[0]:
        raise SlackError("invalid_client_id")
    if secret != expected[1]:
        raise SlackError("bad_client_secret")
