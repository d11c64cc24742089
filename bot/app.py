"""build_app: the Bolt app with its middleware and listeners. Nothing is built at import."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse

from bot.dedup import dedup_middleware, release_delivery
from bot.jobs import register_jobs
from bot.listeners import register_listeners
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings, services: Services, *, socket_mode: bool = False) -> App:
    """The Slack app. Over HTTP every request's signature is verified (a bad one is a 401)."""
    secret = settings.slack.signing_secret
    app = App(
        client=services.slack,
        signing_secret=secret.get_secret_value() if secret else None,
        request_verification_enabled=not socket_mode,
        # Listeners only queue a job, which is fast; responding after they return means the
        # 200 goes out once the work is queued, and a queueing failure is a 500 Slack retries.
        # (With False, Bolt auto-acks events before the listener runs: a lost job is lost.)
        process_before_response=True,
    )
    register_jobs(services)
    app.use(_inject(services))
    app.use(dedup_middleware(services.store, ttl_seconds=settings.runtime.dedup_ttl_seconds))
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
        release_delivery(services.store, context)
        error_id = uuid.uuid4().hex[:8]
        log.error("listener failed (error id %s, %s)", error_id, body.get("type"), exc_info=error)
        return BoltResponse(status=500, body=f"error id {error_id}")

    return on_error
