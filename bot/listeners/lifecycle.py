"""The app's own life in a workspace: tokens revoked, app uninstalled."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.listener.builtins import TokenRevocationListeners

from bot.services import Services
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


def on_tokens_revoked(
    ack: Ack, event: dict[str, Any], context: BoltContext, services: Services
) -> None:
    """Forget the revoked tokens (Bolt's own handler deletes them from the store)."""
    if store := services.slack_clients.installations:
        TokenRevocationListeners(store).handle_tokens_revoked_events(event, context)
    services.slack_clients.forget(context.team_id or "")
    log.info("tokens revoked in workspace %s", context.team_id)
    ack()


def on_app_uninstalled(ack: Ack, context: BoltContext, services: Services) -> None:
    """Delete the workspace's installation and mark its org uninstalled: periodic work (digests,
    nudges, scans) skips it; its data stays until retention purges it or a reinstall."""
    if store := services.slack_clients.installations:
        TokenRevocationListeners(store).handle_app_uninstalled_events(context)
    team_id = context.team_id or ""
    services.slack_clients.forget(team_id)
    with UnitOfWork(services.factory) as uow:
        if org := uow.orgs.by_team(team_id):
            org.uninstalled_at = utcnow()
        uow.commit()
    log.info("uninstalled from workspace %s", team_id)
    ack()
