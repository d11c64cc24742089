"""Multi-workspace installs: Bolt's OAuth flow on slack_sdk's SQLAlchemy stores.

GET /slack/install shows the "Add to Slack" page (Bolt's, with a state cookie);
GET /slack/oauth_redirect exchanges the code (oauth.v2.access), stores the installation with
its tokens encrypted (storage/slack_installs.py) and, here, makes the workspace an org."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.services import Services
from storage.slack_installs import oauth_state_store
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# manifest.yaml's oauth_config.scopes.bot, exactly (tests/test_manifest.py checks).
BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
    "users:read",
    "users:read.email",
)


def oauth_settings(services: Services) -> OAuthSettings | None:
    """Bolt's OAuth settings with OAuth installs configured, else None (one bot token)."""
    slack = services.settings.slack
    store = services.slack_clients.installations
    if store is None or slack.client_id is None or slack.client_secret is None:
        return None
    return OAuthSettings(
        client_id=slack.client_id,
        client_secret=slack.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=oauth_state_store(services.engine),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        callback_options=CallbackOptions(success=_installed(services), failure=_failed),
    )


def _installed(services: Services) -> Callable[[SuccessArgs], BoltResponse]:
    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        team_id = installation.team_id or ""
        with UnitOfWork(services.factory) as uow:
            org = uow.orgs.ensure(slack_team_id=team_id, name=installation.team_name)
            org.name = installation.team_name or org.name
            org.uninstalled_at = None  # a reinstall brings the org back
            uow.commit()
        services.slack_clients.forget(team_id)
        log.info("installed in workspace %s", team_id)
        return args.default.success(args)

    return success


def _failed(args: FailureArgs) -> BoltResponse:
    # The reason is Slack's (e.g. "access_denied", "invalid_state"), never a secret.
    log.warning("install failed: %s", args.reason)
    return args.default.failure(args)
