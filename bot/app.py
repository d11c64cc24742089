"""build_app: the Bolt app with its middleware and listeners. Nothing is built at import."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltResponse

from bot.access import ACCESS_NOTICE, access_middleware
from bot.dedup import dedup_middleware, release_delivery
from bot.jobs import register_jobs
from bot.listeners import register_listeners
from bot.oauth import oauth_settings
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)
OUTDATED = "That button is from an older version of this card. Ask again for a fresh one."


def build_app(settings: Settings, services: Services, *, socket_mode: bool = False) -> App:
    """The Slack app. Signatures are verified by its HTTP front (bot/http.py), against the
    current and the previous signing secret; Socket Mode has none to verify."""
    oauth = None if socket_mode else oauth_settings(services)
    app = App(
        client=services.slack,
        signing_secret="",  # never read from the environment behind our back
        request_verification_enabled=False,
        oauth_settings=oauth,
        # Listeners only queue a job, which is fast; responding after they return means the
        # 200 goes out once the work is queued, and a queueing failure is a 500 Slack retries.
        # (With False, Bolt auto-acks events before the listener runs: a lost job is lost.)
        process_before_response=True,
        # Socket Mode with OAuth installs: Bolt still finds each team's token in the store.
        installation_store=services.slack_clients.installations if oauth is None else None,
    )
    register_jobs(services)
    app.use(_inject(services))
    app.use(dedup_middleware(services.store, ttl_seconds=settings.runtime.dedup_ttl_seconds))
    app.use(access_middleware(services))
    register_listeners(app)
    app.error(_error_handler(services))
    return app


def _inject(services: Services) -> Any:
    """Put the services in the context so listeners take them by parameter name."""

    def inject(context: dict[str, Any], next_: Any) -> Any:
        context["services"] = services
        context["runner"] = services.runner
        context["drafts"] = services.drafts
        return next_()

    return inject


def _error_handler(services: Services) -> Any:
    """Unknown errors get an id that is logged with the traceback; Slack gets a 500 and
    retries, and the delivery's dedup claim is released so that retry is processed."""

    def on_error(error: Exception, body: dict[str, Any], context: dict[str, Any]) -> BoltResponse:
        if isinstance(error, ValidationError):  # a button or modal value we can't read
            return _outdated(services, body)
        release_delivery(services.store, context)
        error_id = uuid.uuid4().hex[:8]
        log.error("listener failed (error id %s, %s)", error_id, body.get("type"), exc_info=error)
        return BoltResponse(status=500, body=f"error id {error_id}")

    return on_error


def _outdated(services: Services, body: dict[str, Any]) -> BoltResponse:
    """A click whose value doesn't parse comes from a card an older release drew: a retry
    can't help, so ack it and tell the person (when there is a channel to say it in)."""
    channel = (body.get("channel") or {}).get("id")
    team, user = (body.get("team") or {}).get("id"), (body.get("user") or {}).get("id")
    log.info("unreadable %s value from %s: an outdated card", body.get("type"), user)
    if channel and team and user:
        services.runner.defer(
            ACCESS_NOTICE, {"team_id": team, "channel": channel, "user": user, "text": OUTDATED}
        )
    return BoltResponse(status=200, body="")
