"""`/ai-suggest` and App Home suggestions through the real app and the workspace emulator:
reps see theirs, managers their team's with acceptance per rule; App Home decides in place."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from bot.actions import ActionId
from bot.emulator import slash_command
from bot.suggestion_jobs import scan_org
from storage.models import Suggestion, SuggestionStatus, User
from storage.uow import UnitOfWork
from tests.stack import SALES, TEAM, running_stack

NOW = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)  # a Wednesday afternoon: see test_nudge_scenarios


@pytest.fixture
def stack(tmp_path):
    with running_stack(tmp_path) as running:
        scan_org(running.services, running.org_id, now=NOW)
        yield running


def ai_suggest(stack, user, text=""):
    """Run `/ai-suggest text` as `user`; the one ephemeral reply, as plain text."""
    body = slash_command(TEAM, SALES, user, "/ai-suggest", text, emulator_url=stack.slack.base_url)
    response_id = parse_qs(body)["response_url"][0].rsplit("/", 1)[1]
    status, _, ack_body, _ = stack.sender.post_form(body)
    assert (status, ack_body) == (200, "")
    stack.wait_idle()
    [reply] = [
        c.params
        for c in stack.slack.calls_to("response_url")
        if c.params["response_id"] == response_id
    ]
    assert reply["response_type"] == "ephemeral" and len(reply["blocks"]) <= 50
    return "\n".join(_texts(b) for b in reply["blocks"])


def _texts(block):
    parts = [block.get("text"), *block.get("elements", [])]
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _open_by_owner(stack):
    with UnitOfWork(stack.services.factory) as uow:
        owners = dict(uow.session.execute(select(User.id, User.slack_user_id)).all())
        rows = uow.session.scalars(
            select(Suggestion).where(Suggestion.status == SuggestionStatus.OPEN)
        )
        return Counter(owners.get(s.owner_id) for s in rows)


def test_a_rep_sees_their_own_open_suggestions(stack):
    counts = _open_by_owner(stack)
    text = ai_suggest(stack, "U_REP1")
    assert f"{counts['U_REP1']} open suggestions (yours)" in text
    assert "<@U_REP2>" not in text
    assert "App Home" in text


def test_a_manager_sees_the_team_per_rep_and_the_highest_priority(stack):
    counts = _open_by_owner(stack)
    text = ai_suggest(stack, "U_MGR1")
    assert f"<@U_REP1>: {counts['U_REP1']}" in text
    assert f"<@U_REP2>: {counts['U_REP2']}" in text
    assert "Your team's" in text and "Highest priority" in text
    assert "No decisions yet." in text


def test_acceptance_per_rule_counts_accepts_against_dismissals(stack):
    [nudge] = [m for m in stack.bot_replies("U_REP1") if m.thread_ts is None]
    assert stack.click("U_REP1", nudge, ActionId.SUGGESTION_ACCEPT) == 200
    stack.wait_idle()
    [nudge] = [m for m in stack.bot_replies("U_REP1") if m.thread_ts is None]
    assert stack.click("U_REP1", nudge, ActionId.SUGGESTION_DISMISS) == 200
    assert stack.submit("U_REP1", stack.slack.opened_views()[-1], {"reason": None}) == 200
    stack.wait_idle()
    with UnitOfWork(stack.services.factory) as uow:
        decided = list(
            uow.session.scalars(
                select(Suggestion).where(Suggestion.status != SuggestionStatus.OPEN)
            )
        )
    text = ai_suggest(stack, "U_ADMIN1")
    rules = {s.rule for s in decided}
    assert "The whole org's" in text
    if len(rules) == 1:  # both decisions on one rule: one accepted out of two
        assert "50% (1/2)" in text
    else:
        assert "100% (1/1)" in text and "0% (0/1)" in text


def test_a_rep_asking_for_the_team_is_told_and_shown_their_own(stack):
    text = ai_suggest(stack, "U_REP2", "team")
    assert "Team summaries are for managers and admins" in text
    assert "(yours)" in text


def test_unknown_words_get_the_help(stack):
    text = ai_suggest(stack, "U_REP1", "pls everything")
    assert "I don't know `pls everything`" in text and "/ai-suggest team" in text


def test_app_home_accept_drafts_in_the_dm_and_redraws_the_home(stack):
    home = stack.open_home("U_REP1")
    before = str(home["blocks"]).count("suggestion_accept")
    assert before >= 1 and "Suggestions for you" in str(home["blocks"])
    assert stack.click_home("U_REP1", ActionId.SUGGESTION_ACCEPT) == 200
    stack.wait_idle()
    after = stack.slack.home_view("U_REP1")
    dm = "D_REP1"  # the emulator's DM channel id of U_REP1 (what conversations.open returns)
    roots = [m for m in stack.bot_replies(dm) if m.thread_ts is None]
    with UnitOfWork(stack.services.factory) as uow:
        [accepted] = uow.session.scalars(
            select(Suggestion).where(Suggestion.status == SuggestionStatus.ACCEPTED)
        )
    assert accepted.decided_by_id is not None
    card_threads = [stack.bot_replies(dm, m.ts) for m in roots]
    assert any(b["type"] == "header" for t in card_threads for m in t for b in m.blocks)
    assert f'"suggestion_id":{accepted.id}' not in str(after["blocks"])


def test_app_home_dismiss_goes_through_the_modal_and_redraws(stack):
    stack.open_home("U_REP2")
    assert stack.click_home("U_REP2", ActionId.SUGGESTION_DISMISS) == 200
    modal = stack.slack.opened_views()[-1]
    assert stack.submit("U_REP2", modal, {"reason": "Handled by phone"}) == 200
    stack.wait_idle()
    with UnitOfWork(stack.services.factory) as uow:
        [dismissed] = uow.session.scalars(
            select(Suggestion).where(Suggestion.status == SuggestionStatus.DISMISSED)
        )
    home = stack.slack.home_view("U_REP2")
    assert dismissed.dismiss_reason == "Handled by phone"
    assert f'"suggestion_id":{dismissed.id}' not in str(home["blocks"])
