""" "Review all my accounts" as a background task: progress in one message, the review when
done, a failure shown in place, once per delivery, and rate limited as an agent run."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agents.account_review import AccountReview
from agents.metering.settings import CostSettings
from bot.questions import ANSWER_QUESTION, question_payload
from storage.models import Customer, CustomerStatus, User
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, running_stack


def _owned(stack, slack_id):
    with UnitOfWork(stack.services.factory) as uow:
        owner = uow.session.scalar(select(User.id).where(User.slack_user_id == slack_id))
        return sorted(
            c.name
            for c in uow.session.scalars(select(Customer).where(Customer.owner_id == owner))
            if c.status != CustomerStatus.CHURNED
        )


def _progress_texts(stack):
    return [c.params["text"] for c in stack.slack.calls_to("chat.update")]


def _ask(stack, text, user="U_REP1"):
    """Mention the bot in #sales; the envelope Slack delivered (answers are in its thread)."""
    envelope = stack.mention_envelope(text, user=user)
    assert stack.sender.post_event(envelope)[0] == 200
    stack.wait_idle()
    return envelope


def _thread(stack, envelope):
    return stack.bot_replies(SALES, envelope["event"]["ts"])


def test_a_review_counts_up_then_posts_every_owned_account(tmp_path):
    with running_stack(tmp_path) as stack:
        said = _ask(stack, "can you review all my accounts?")
        owned = _owned(stack, "U_REP1")
        replies = _thread(stack, said)
        progress = _progress_texts(stack)
    assert len(owned) >= 2
    [summary] = [m for m in replies if "Account review for Maya Chen" in m.text]
    assert all(name in summary.text for name in owned)
    assert f"{len(owned)} accounts checked" in summary.text
    assert progress[0].startswith(":hourglass_flowing_sand:") and f"0/{len(owned)}" in progress[0]
    assert f"{len(owned)}/{len(owned)} ▰▰▰▰▰▰▰▰▰▰ 100%" in progress[-2]
    assert progress[-1].startswith(f":white_check_mark: Reviewed {len(owned)} accounts")


def test_the_same_delivery_reviews_once(tmp_path):
    with running_stack(tmp_path) as stack:
        said = _ask(stack, "review my accounts")
        ts = said["event"]["ts"]
        again = question_payload(  # the same delivery's job, run again (at-least-once)
            team_id=TEAM,
            channel=SALES,
            user="U_REP1",
            text="review my accounts",
            delivery_id=said["event_id"],
            thread_ts=ts,
            reply_thread_ts=ts,
        )
        stack.services.runner.defer(ANSWER_QUESTION, again)
        stack.wait_idle()
        summaries = [m for m in _thread(stack, said) if "Account review" in m.text]
    assert len(summaries) == 1


def test_a_failure_is_shown_where_the_progress_was(tmp_path, monkeypatch):
    calls = []

    def broken_on_second(self, org_id, owner_id, customer_id):
        calls.append(customer_id)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(self, org_id, owner_id, customer_id)

    original = AccountReview._check
    monkeypatch.setattr(AccountReview, "_check", broken_on_second)
    with running_stack(tmp_path) as stack:
        said = _ask(stack, "review all my accounts")
        replies = _thread(stack, said)
        progress = _progress_texts(stack)
    assert "The review stopped partway through (error id `" in progress[-1]
    assert not [m for m in replies if "Account review for" in m.text]


def test_reviews_are_rate_limited_as_agent_runs(tmp_path):
    with running_stack(tmp_path, cost=CostSettings(agent_runs_per_hour=1)) as stack:
        _ask(stack, "review all my accounts")
        said = _ask(stack, "review all my accounts again")
        refusals = stack.slack.ephemeral_messages(SALES)
        summaries = [m for m in _thread(stack, said) if "Account review" in m.text]
    assert summaries == []
    assert any("background agent runs" in m.text for m in refusals)


@pytest.mark.parametrize(
    "text",
    ["review all my accounts", "go through my customers", "account review please"],
)
def test_review_requests_are_recognised(text):
    from agents.account_review import wants_review

    assert wants_review(text)
