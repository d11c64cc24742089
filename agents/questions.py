"""What the bot hands the assistant and gets back: a question, a regeneration request, what
Slack knows of a new person, and the answer with its cost."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.charts import Chart
from agents.drafts.snapshot import DraftSnapshot
from agents.loop import RunWatcher


@dataclass(frozen=True, kw_only=True)
class Question:
    """A rep's message as the bot received it."""

    team_id: str
    channel_id: str
    thread_ts: str  # the thread root; "" for the top level of a DM
    slack_user_id: str
    text: str
    delivery_id: str  # Slack event_id (or command/trigger id): one answer per delivery
    request_type: str = "chat"
    # The specialists this channel may use (its admins chose); None: every one.
    specialists: frozenset[str] | None = None
    # Follows the specialist's run live (streamed text, tools running); model runs only.
    watch: RunWatcher | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Regeneration:
    """A Regenerate click: which draft version, who clicked, and their hint."""

    team_id: str
    slack_user_id: str
    draft_id: int
    version: int
    hint: str = ""


@dataclass(frozen=True)
class Profile:
    """What Slack knows of a person we have not seen before."""

    email: str | None
    name: str
    timezone: str = "UTC"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The reply and what it cost."""

    text: str
    agent: str
    offline: bool
    model: str
    tokens: int = 0
    cost_micro_usd: int = 0
    conversation_id: int = 0
    notice: str | None = None
    duplicate: bool = False
    org_id: int = 0
    draft_ids: tuple[int, ...] = ()  # drafts proposed by this run, each posted as a card
    blocked: bool = False  # a rate limit or budget refused it: `text` says why, to the asker only
    charts: tuple[Chart, ...] = ()  # pictures the specialist asked to show under the answer


def revision_request(draft: DraftSnapshot, customer_id: int | None, hint: str) -> str:
    """The user turn of a regeneration: the current text, the customer and the rep's hint."""
    return (
        f"Revise {draft.kind_label.lower()} draft #{draft.id} for {draft.customer_name} "
        f"(customer id {customer_id}). Propose the new version with the same tool.\n"
        f"Current subject: {draft.subject}\nCurrent text:\n{draft.body}\n"
        f"Hint from the rep: {hint or 'rewrite it'}"
    )


def too_long(text: str, limit: int) -> str | None:
    """The refusal of a question over the length limit, before anything is stored or spent: a
    paste that long usually hides the real ask, which a cut could drop."""
    if len(text) <= limit:
        return None
    return (
        f"That message is {len(text):,} characters long; I can take questions of up to "
        f"{limit:,} characters. Nothing was sent to the AI model. Please ask again with "
        "just the part that matters."
    )
