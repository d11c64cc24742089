""" "Review all my accounts" as a background task: a progress message in the thread that
counts up (step, %, which account), the review posted when done, a failure shown in place.

It runs inside the answer job, which is already off the ack path; once per delivery, through
a `once_claim`, because a redelivered job must not review (and post) twice. The price: a
worker killed mid-review leaves a claim without a result, and the retried job skips it; the
rep sees the progress message stop and can ask again (nothing was changed)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from agents.account_review import AccountReview
from agents.metering.ratelimits import Activity
from bot.blocks import text_sections
from bot.draft_blocks import fit
from bot.services import Services
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

REVIEW = "account_review"
_WORKING = ":hourglass_flowing_sand:"
UPDATE_EVERY_SECONDS = 1.0  # chat.update is tier 3 (~50/min): one update a second at most


def run_review(services: Services, payload: dict[str, Any]) -> None:
    """Review the asking rep's accounts, showing progress; refusals go to the asker only."""
    who = f"{payload['team_id']}:{payload['user']}"
    if refusal := services.assistant.refusal(Activity.AGENT_RUN, who):
        _whisper(services, payload, f":no_entry: {refusal}")
        return
    owner = _claim(services, payload)
    if owner is None:
        return
    org_id, user_id, name = owner
    progress = _ProgressMessage(services, payload)
    review = AccountReview(services.factory, now=utcnow())
    try:
        result = review.run(org_id, user_id, name, progress.update)
    except Exception:  # the task boundary: show the failure where the progress was
        error_id = uuid.uuid4().hex[:8]
        log.exception("account review failed (error id %s)", error_id)
        progress.fail(error_id)
        return
    _post(services, payload, result.summary())
    progress.finish(len(result.checks))
    with UnitOfWork(services.factory) as uow:
        uow.claims.finish(
            org_id,
            REVIEW,
            payload["delivery_id"],
            result=f"{len(result.checks)} accounts",
            at=utcnow(),
        )
        uow.commit()


def _claim(services: Services, payload: dict[str, Any]) -> tuple[int, int, str] | None:
    """(org, user, name) of the asker if this delivery is theirs to run; None otherwise."""
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(payload["team_id"])
        user = uow.orgs.user_by_slack_id(org.id, payload["user"]) if org else None
        if org is None or user is None:
            _whisper(
                services, payload, "I can't find you in the CRM, so I don't know your accounts."
            )
            return None
        if not uow.claims.claim(org.id, REVIEW, payload["delivery_id"], by="review"):
            log.info("review of delivery %s already ran", payload["delivery_id"])
            return None
        uow.commit()
        return org.id, user.id, user.name


class _ProgressMessage:
    """One thread message that shows the task's step and percentage as it goes."""

    def __init__(
        self,
        services: Services,
        payload: dict[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = services.slack_for(payload["team_id"])
        self.channel = payload["channel"]
        self.clock = clock
        self.last_update = float("-inf")
        posted = self.slack.chat_postMessage(
            channel=self.channel,
            thread_ts=payload["reply_thread_ts"],
            text=f"{_WORKING} Reviewing your accounts…",
        )
        self.ts = str(posted["ts"])

    def update(self, done: int, total: int, current: str) -> None:
        """Step `done` of `total`; throttled, but the first and the last always show."""
        now = self.clock()
        if 0 < done < total and now - self.last_update < UPDATE_EVERY_SECONDS:
            return
        self.last_update = now
        percent = 100 * done // total if total else 100
        bar = "▰" * (percent // 10) + "▱" * (10 - percent // 10)
        doing = f" — checking *{fit(current, 80)}*" if current else ""
        self._show(f"{_WORKING} Reviewing your accounts: {done}/{total} {bar} {percent}%{doing}")

    def finish(self, total: int) -> None:
        plural = "s" if total != 1 else ""
        self._show(f":white_check_mark: Reviewed {total} account{plural}: the summary is below.")

    def fail(self, error_id: str) -> None:
        self._show(
            f":warning: The review stopped partway through (error id `{error_id}`). "
            "Nothing was changed; you can ask again."
        )

    def _show(self, text: str) -> None:
        try:
            self.slack.chat_update(channel=self.channel, ts=self.ts, text=text)
        except SlackApiError as exc:  # progress is a courtesy; the result still gets posted
            log.warning("progress message not updated: %s", exc.response.get("error"))


def _post(services: Services, payload: dict[str, Any], text: str) -> None:
    blocks = text_sections(text)
    services.slack_for(payload["team_id"]).chat_postMessage(
        channel=payload["channel"],
        thread_ts=payload["reply_thread_ts"],
        text=blocks[0]["text"]["text"] if blocks else text[:3000],
        blocks=blocks,
        unfurl_links=False,
    )


def _whisper(services: Services, payload: dict[str, Any], text: str) -> None:
    services.slack_for(payload["team_id"]).chat_postEphemeral(
        channel=payload["channel"],
        user=payload["user"],
        thread_ts=payload["reply_thread_ts"],
        text=text,
    )
