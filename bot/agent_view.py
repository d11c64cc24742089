"""The agent view (the app's Messages tab): suggested prompts made for the person, and a
welcome the first time they open it. Both run as jobs, after the event's ack.

Slack's agent messaging experience (manifest `agent_view`) signals an opened DM with
`app_home_opened` and tab `messages`; there, prompts are set on the DM without a thread_ts
(Slack ignores calls that carry one). The legacy assistant container still sends
`assistant_thread_started` with a thread, and gets the same prompts on that thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.services import Services
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

SET_PROMPTS = "set_suggested_prompts"
GREET_MESSAGES_TAB = "greet_messages_tab"
WELCOME = "welcome"  # the once-only claim kind: one welcome per person
MAX_PROMPTS = 4  # Slack shows at most four suggested prompts
PROMPTS_TITLE = "Try asking"
_NAME_LIMIT = 40  # a prompt title stays one short line

Prompt = dict[str, str]


def register_agent_view_jobs(services: Services) -> None:
    """Make the agent view's jobs runnable by name."""
    services.runner.register(SET_PROMPTS, lambda p: set_prompts(services, p))
    services.runner.register(GREET_MESSAGES_TAB, lambda p: greet_messages_tab(services, p))


def suggested_prompts(customer: str | None) -> list[Prompt]:
    """Up to four prompts: about the customer of their top open suggestion when there is
    one, else questions that need no name."""
    pipeline = _prompt("How's my pipeline?", "How's my pipeline by stage?")
    review = _prompt("Review all my accounts", "Review all my accounts")
    if customer is None:
        stale = _prompt("Which deals are stuck?", "Which of my deals are stale?")
        return [stale, pipeline, review, _prompt("Price a quote", "Put together a quote")]
    name = customer[:_NAME_LIMIT]
    return [
        _prompt(f"What's going on with {name}?", f"What's going on with {customer}?"),
        pipeline,
        review,
        _prompt(f"Quote for {name}", f"Put together a quote for {customer}"),
    ][:MAX_PROMPTS]


def _prompt(title: str, message: str) -> Prompt:
    return {"title": title, "message": message}


def prompts_for(services: Services, team_id: str, slack_user_id: str) -> list[Prompt]:
    """The person's prompts, personalised from their highest-priority open suggestion."""
    return suggested_prompts(_top_customer(services, team_id, slack_user_id))


def _top_customer(services: Services, team_id: str, slack_user_id: str) -> str | None:
    with UnitOfWork(services.factory) as uow:
        org = uow.orgs.by_team(team_id)
        user = uow.orgs.user_by_slack_id(org.id, slack_user_id) if org else None
        if org is None or user is None:
            return None
        top = uow.suggestions.top_open(org.id, owner_ids=[user.id], limit=1)
        customer = uow.crm.customer(org.id, top[0].customer_id) if top else None
        return customer.name if customer else None


def set_prompts(services: Services, payload: dict[str, Any]) -> None:
    """Set the person's prompts on a DM (agent view) or on one assistant thread (legacy)."""
    _send_prompts(services, payload, prompts_for(services, payload["team_id"], payload["user"]))


def _send_prompts(services: Services, payload: dict[str, Any], prompts: list[Prompt]) -> None:
    thread = {"thread_ts": payload["thread_ts"]} if payload.get("thread_ts") else {}
    try:
        services.slack_for(payload["team_id"]).assistant_threads_setSuggestedPrompts(
            channel_id=payload["channel"], prompts=prompts, title=PROMPTS_TITLE, **thread
        )
    except SlackApiError as exc:  # prompts are a convenience: the DM works without them
        log.warning("suggested prompts not set: %s", exc.response.get("error"))


def greet_messages_tab(services: Services, payload: dict[str, Any]) -> None:
    """The Messages tab was opened: set the prompts, and welcome the person the first time
    (a committed claim makes it once, however many opens race)."""
    team_id, user = payload["team_id"], payload["user"]
    prompts = prompts_for(services, team_id, user)
    _send_prompts(services, payload, prompts)
    with UnitOfWork(services.factory) as uow:
        org_id = uow.orgs.ensure(slack_team_id=team_id).id
        first = uow.claims.claim(org_id, WELCOME, user, by=payload.get("delivery_id", "app"))
        uow.commit()
    if not first:
        return
    try:
        services.slack_for(team_id).chat_postMessage(
            channel=payload["channel"], text=welcome_text(prompts), blocks=welcome_blocks(prompts)
        )
    except SlackApiError as exc:  # not greeted: let a later open try again
        log.warning("welcome not posted to %s: %s", user, exc.response.get("error"))
        with UnitOfWork(services.factory) as uow:
            uow.claims.release(org_id, WELCOME, user)
            uow.commit()


_WHAT_I_DO = (
    "I'm Countersign. I answer questions about your customers from the CRM, price quotes, "
    "review your accounts and draft emails, notes and tasks. Nothing is sent or written until "
    "a person approves the draft. Ask me here, with `/ai` anywhere, or use *Log to CRM* and "
    "*Draft a reply* from any message's ⋯ menu."
)


def welcome_text(prompts: list[Prompt]) -> str:
    """The welcome as plain text (notifications and the fallback)."""
    tries = "\n".join(f"• {p['message']}" for p in prompts)
    return f"Welcome! {_WHAT_I_DO}\nTry:\n{tries}"


def welcome_blocks(prompts: list[Prompt]) -> list[dict[str, Any]]:
    """The welcome: what the bot does, then the same prompts as the suggested ones."""
    tries = "\n".join(f"• _{p['message']}_" for p in prompts)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Welcome!* {_WHAT_I_DO}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Try asking:*\n{tries}"}},
    ]
