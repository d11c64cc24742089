from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from agents.drafts.snapshot import DraftSnapshot, Person
from bot.actions import ActionId, DraftRef, FieldId, ViewId
from bot.draft_blocks import decision_notice, draft_card, draft_fallback_text, escape_mrkdwn
from bot.draft_modals import (
    edit_errors,
    edit_modal,
    has_body_input,
    parse_edit_submission,
    parse_hint,
    parse_reason,
    regenerate_modal,
    reject_modal,
)
from bot.home_blocks import home_view
from storage.models.enums import DraftKind, DraftStatus

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
REP = Person("Jordan Blake", "U123")
MANAGER = Person("Maya Lind", "U456")
DECISIONS = [
    ActionId.DRAFT_APPROVE,
    ActionId.DRAFT_EDIT,
    ActionId.DRAFT_REJECT,
    ActionId.DRAFT_REGENERATE,
    ActionId.DRAFT_FEEDBACK_UP,
    ActionId.DRAFT_FEEDBACK_DOWN,
]
EVIL = "Hi <!channel> and @here, ping <@U999> <!subteam^S1|sales> at <https://evil|bank> & co"


def make_draft(**changes: Any) -> DraftSnapshot:
    draft = DraftSnapshot(
        id=7,
        version=2,
        kind=DraftKind.EMAIL,
        status=DraftStatus.PENDING,
        customer_name="Halvorsen Marine",
        subject="Following up on the hull inspection",
        body="Hi Ingrid,\n\nThanks for the walkthrough yesterday.\n\nBest,\nJordan",
        fields=(("To", "Ingrid Berg <ingrid@halvorsen.no>"),),
        requested_by=REP,
        agent="sales-assistant",
        model="claude-sonnet-4",
        tokens=1234,
        cost_micro_usd=12_345,
        created_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(hours=23),
    )
    return replace(draft, **changes)


def decided(status: DraftStatus, **changes: Any) -> DraftSnapshot:
    return make_draft(status=status, decided_by=MANAGER, decided_at=NOW, **changes)


# --- helpers: limits and text ---------------------------------------------------------------


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text a block list shows."""
    found: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
        found += [field["text"] for field in block.get("fields", [])]
        if block["type"] == "context":
            found += [element["text"] for element in block["elements"]]
    return found


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [button["action_id"] for button in buttons(blocks)]


def assert_valid_blocks(blocks: list[dict[str, Any]], max_blocks: int = 50) -> None:
    assert 0 < len(blocks) <= max_blocks
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None, raw
        parsed.validate_json()
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150
        if raw["type"] == "section":
            assert len(raw.get("text", {}).get("text", "")) <= 3000
            assert len(raw.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in raw.get("fields", []))
        if raw["type"] == "context":
            assert len(raw["elements"]) <= 10
            assert all(len(element["text"]) <= 3000 for element in raw["elements"])
        if raw["type"] == "actions":
            assert len(raw["elements"]) <= 25
    for button in buttons(blocks):
        assert len(button["text"]["text"]) <= 75
        assert len(button["value"]) <= 2000


def assert_valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    assert_valid_blocks(view["blocks"], max_blocks=100)


def card(draft: DraftSnapshot, now: datetime = NOW) -> list[dict[str, Any]]:
    blocks = draft_card(draft, now=now)
    assert_valid_blocks(blocks)
    return blocks


def slack_view(modal: dict[str, Any], values: dict[str, str | None]) -> dict[str, Any]:
    """A view_submission `view` as Slack sends it: state keyed by block_id then action_id."""
    state = {
        field: {field: {"type": "plain_text_input", "value": value}}
        for field, value in values.items()
    }
    return {**modal, "id": "V1", "state": {"values": state}}


# --- escaping -------------------------------------------------------------------------------


def test_escape_mrkdwn_escapes_ampersand_first_and_control_chars():
    assert escape_mrkdwn("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    assert escape_mrkdwn("&lt;") == "&amp;lt;"
    assert escape_mrkdwn("plain *bold*") == "plain *bold*"


def test_model_text_cannot_mention_ping_or_disguise_links_on_the_card():
    draft = make_draft(
        subject=EVIL,
        body=EVIL,
        fields=(("To", EVIL),),
        notices=(EVIL,),
        approvers=EVIL,
        agent=EVIL,
    )

    shown = "\n".join(texts(card(draft)))

    tokens = set(re.findall(r"<[^<>]*>", shown))
    assert {t for t in tokens if not t.startswith("<!date^")} == {"<@U123>"}
    assert "&lt;@U999&gt;" in shown
    assert "bank (https://evil)" in shown  # the link shows its real target
    assert "@here" not in shown.replace("`@here`", "")
    assert "&amp; co" in shown


def test_rejection_reason_and_failure_error_are_escaped():
    rejected = card(decided(DraftStatus.REJECTED, reject_reason="see <@U999>\nnow"))
    failed = card(decided(DraftStatus.FAILED, execution_error="<!channel> smtp down", attempts=2))

    assert ":no_entry: Rejected by <@U456>" in texts(rejected)[-1]
    assert "_see &lt;@U999&gt; now_" in texts(rejected)[-1]
    assert "`@channel` smtp down (attempt 2)" in texts(failed)[-1]


def test_person_without_a_valid_slack_id_is_shown_by_escaped_name():
    draft = make_draft(requested_by=Person("<b>Kim</b>", "U1> <!channel"))

    meta = texts(card(draft))[-2]

    assert meta.startswith("Requested by &lt;b&gt;Kim&lt;/b&gt; ·")


# --- status and buttons ---------------------------------------------------------------------


def test_pending_card_offers_approve_edit_reject_regenerate_and_feedback():
    blocks = card(make_draft())

    assert action_ids(blocks) == DECISIONS
    styles = {b["action_id"]: b.get("style") for b in buttons(blocks)}
    assert styles[ActionId.DRAFT_APPROVE] == "primary"
    assert styles[ActionId.DRAFT_REJECT] == "danger"
    assert "Needs approval from a manager" in texts(blocks)[-1]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (make_draft(expires_at=NOW), []),
        (make_draft(status=DraftStatus.EXPIRED), []),
        (decided(DraftStatus.APPROVED), []),
        (decided(DraftStatus.EXECUTED), [ActionId.DRAFT_FEEDBACK_UP, ActionId.DRAFT_FEEDBACK_DOWN]),
        (decided(DraftStatus.FAILED), [ActionId.DRAFT_RETRY, ActionId.DRAFT_REJECT]),
        (decided(DraftStatus.REJECTED), []),
    ],
    ids=["pending-past-expiry", "expired", "approved", "executed", "failed", "rejected"],
)
def test_each_status_renders_only_its_buttons(draft: DraftSnapshot, expected: list[str]):
    assert action_ids(card(draft)) == expected


def test_every_button_value_parses_back_to_the_shown_draft_version():
    drafts = [make_draft(version=5), decided(DraftStatus.FAILED, version=5)]
    for draft in drafts:
        for button in buttons(card(draft)):
            assert DraftRef.model_validate_json(button["value"]) == DraftRef(draft_id=7, version=5)


def test_approve_confirm_names_the_email_recipient():
    approve = buttons(card(make_draft()))[0]

    assert approve["confirm"]["text"] == {
        "type": "plain_text",
        "text": "Send this email to Ingrid Berg <ingrid@halvorsen.no>?",
    }


def test_approve_confirm_for_a_task_names_the_customer_and_is_capped():
    task = make_draft(kind=DraftKind.TASK, fields=(), customer_name="Acme " * 100)

    text = buttons(card(task))[0]["confirm"]["text"]["text"]

    assert text.startswith("Approve this task draft for Acme")
    assert len(text) <= 300


def test_status_lines_say_who_decided_when_and_what_happened():
    approved = texts(card(decided(DraftStatus.APPROVED)))[-1]
    executed = texts(card(decided(DraftStatus.EXECUTED, execution_summary="sent to ingrid@x")))
    done = texts(card(decided(DraftStatus.EXECUTED)))
    unexplained = texts(card(decided(DraftStatus.REJECTED, reject_reason="  ")))[-1]

    assert approved.startswith(":hourglass_flowing_sand: Approved by <@U456> <!date^")
    assert approved.endswith("— sending…")
    assert executed[-1].startswith(":white_check_mark: Approved by <@U456> <!date^")
    assert executed[-1].endswith("· sent to ingrid@x")
    assert done[-1].endswith("· done")
    assert unexplained.endswith(": _no reason given_")


def test_expired_card_says_to_ask_again():
    line = texts(card(make_draft(expires_at=NOW - timedelta(minutes=1))))[-1]

    assert line.startswith(":hourglass: Expired <!date^")
    assert line.endswith("— ask again to get a fresh draft.")


def test_expiry_uses_slack_date_formatting_with_a_utc_fallback():
    expires = datetime(2025, 3, 5, 11, 30, tzinfo=UTC)

    line = texts(card(make_draft(expires_at=expires)))[-1]

    assert (
        f"<!date^{int(expires.timestamp())}^Expires {{date_short_pretty}} at {{time}}"
        "|Expires 2025-03-05 11:30 UTC>"
    ) in line


# --- size limits ----------------------------------------------------------------------------


def test_long_body_is_cut_at_a_boundary_and_says_how_much_is_left():
    body = "\n".join(f"Line {n:04d} " + "word " * 18 for n in range(100))  # ~10,000 chars
    assert len(body) >= 10_000

    blocks = card(make_draft(body=body))

    preview = blocks[2]["text"]["text"]
    assert len(preview) <= 2500
    assert body.startswith(preview)
    assert preview.endswith("word")
    left_out = len(body[len(preview) :].strip())
    assert blocks[3]["elements"][0]["text"] == f"… ({left_out:,} more characters)"


def test_body_that_fits_the_edit_modal_points_to_edit():
    blocks = card(make_draft(body="word " * 560))  # 2,800 chars

    assert "more characters — open Edit to see all)" in "\n".join(texts(blocks))


def test_body_of_escapable_characters_stays_within_section_limits():
    blocks = card(make_draft(body="<&>" * 3000))

    preview = blocks[2]["text"]["text"]
    assert len(preview) <= 2500
    assert re.fullmatch(r"(&lt;&amp;&gt;)*(&lt;)?(&amp;)?", preview)


def test_header_is_capped_for_a_400_character_customer_name():
    header = card(make_draft(customer_name="N" * 400))[0]["text"]["text"]

    assert header.startswith("✉️ Email draft · NNN")
    assert len(header) == 150
    assert header.endswith("…")


def test_header_without_customer_names_only_the_kind():
    assert card(make_draft(customer_name=None))[0]["text"]["text"] == "✉️ Email draft"
    assert card(make_draft(kind=DraftKind.ORDER))[0]["text"]["text"].startswith("🧾 Order draft ·")


def test_fields_show_the_kinds_subject_label():
    fields = card(make_draft(kind=DraftKind.TASK, fields=(("Due", "Friday"),)))[1]["fields"]

    assert [f["text"] for f in fields] == [
        "*Due*\nFriday",
        "*Title*\nFollowing up on the hull inspection",
    ]


def test_many_fields_and_notices_stay_within_limits():
    draft = make_draft(
        fields=tuple((f"F{n}", "v" * 5000) for n in range(30)),
        notices=tuple(f"notice {n}" for n in range(30)),
        subject="s" * 5000,
    )

    card(draft)


# --- cost line ------------------------------------------------------------------------------


def test_cost_line_names_requester_agent_model_tokens_cost_and_version():
    meta = texts(card(make_draft()))[-2]

    assert meta == (
        "Requested by <@U123> · sales-assistant · claude-sonnet-4 · 1,234 tokens · $0.0123 · v2"
    )


def test_offline_draft_shows_offline_template_and_zero_cost():
    meta = texts(card(make_draft(model="offline", tokens=0, cost_micro_usd=0)))[-2]

    assert "offline template · $0" in meta
    assert "tokens" not in meta


# --- fallback and notices -------------------------------------------------------------------


def test_fallback_text_names_kind_customer_state_and_subject():
    assert draft_fallback_text(make_draft()) == (
        "Email draft for Halvorsen Marine awaiting approval: Following up on the hull inspection"
    )
    assert draft_fallback_text(decided(DraftStatus.EXECUTED)).startswith(
        "Email draft for Halvorsen Marine sent:"
    )


def test_fallback_text_is_escaped_and_at_most_300_characters():
    text = draft_fallback_text(make_draft(subject=EVIL * 20))

    assert len(text) <= 300
    assert "<@U999>" not in text


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (
            decided(DraftStatus.EXECUTED),
            "<@U123> your email draft to Halvorsen Marine was approved by <@U456> and sent.",
        ),
        (
            decided(DraftStatus.REJECTED, reject_reason="too <b>pushy</b>"),
            "<@U123> your email draft to Halvorsen Marine was rejected by <@U456>: "
            "too &lt;b&gt;pushy&lt;/b&gt;",
        ),
        (
            decided(DraftStatus.FAILED, execution_error="mailbox full"),
            "<@U123> your email draft to Halvorsen Marine was approved by <@U456> "
            "but could not be sent: mailbox full",
        ),
        (
            make_draft(status=DraftStatus.EXPIRED, kind=DraftKind.TASK, requested_by=None),
            "Your task draft for Halvorsen Marine expired without a decision.",
        ),
    ],
    ids=["executed", "rejected", "failed", "expired"],
)
def test_decision_notice_tells_the_rep_what_happened(draft: DraftSnapshot, expected: str):
    assert decision_notice(draft) == expected


# --- modals ---------------------------------------------------------------------------------


def test_edit_modal_is_prefilled_and_round_trips_a_submission():
    draft = make_draft()
    modal = edit_modal(draft)
    assert_valid_view(modal)
    inputs = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}

    assert modal["callback_id"] == ViewId.DRAFT_EDIT
    assert modal["title"]["text"] == "Edit draft"
    assert modal["submit"]["text"] == "Save changes"
    assert inputs[FieldId.SUBJECT]["initial_value"] == draft.subject
    assert inputs[FieldId.SUBJECT]["max_length"] == 250
    assert inputs[FieldId.BODY]["initial_value"] == draft.body
    assert inputs[FieldId.BODY]["multiline"] is True
    assert "Saving creates version 3; it then needs approval again." in texts(modal["blocks"])

    view = slack_view(modal, {FieldId.SUBJECT: " New subject ", FieldId.BODY: "New body"})
    assert parse_edit_submission(view) == (
        DraftRef(draft_id=7, version=2),
        "New subject",
        "New body",
    )
    assert has_body_input(view)


def test_blank_edit_inputs_parse_to_none_and_are_refused():
    view = slack_view(edit_modal(make_draft()), {FieldId.SUBJECT: "  ", FieldId.BODY: None})

    _, subject, body = parse_edit_submission(view)

    assert (subject, body) == (None, None)
    assert edit_errors(subject, body) == {
        FieldId.SUBJECT: "This can't be empty.",
        FieldId.BODY: "This can't be empty.",
    }
    assert edit_errors("Subject", "Body") == {}


def test_too_long_body_leaves_out_the_body_input_and_keeps_the_old_body():
    modal = edit_modal(make_draft(kind=DraftKind.NOTE, body="x" * 3001))
    assert_valid_view(modal)

    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"] == [FieldId.SUBJECT]
    assert "too long to edit here" in "\n".join(texts(modal["blocks"]))
    view = slack_view(modal, {FieldId.SUBJECT: "Headline"})
    ref, subject, body = parse_edit_submission(view)
    assert (ref.version, subject, body) == (2, "Headline", None)
    assert not has_body_input(view)
    assert edit_errors(subject, body, body_in_form=has_body_input(view)) == {}


def test_non_email_subject_allows_300_characters():
    modal = edit_modal(make_draft(kind=DraftKind.TASK, subject="t" * 400))
    subject = modal["blocks"][1]["element"]

    assert subject["max_length"] == 300
    assert len(subject["initial_value"]) == 300


def test_reject_modal_explains_the_rep_is_told_and_parses_the_reason():
    modal = reject_modal(make_draft())
    assert_valid_view(modal)
    reason = next(b for b in modal["blocks"] if b["type"] == "input")

    assert (modal["callback_id"], modal["title"]["text"], modal["submit"]["text"]) == (
        ViewId.DRAFT_REJECT,
        "Reject draft",
        "Reject",
    )
    assert reason["optional"] is True
    assert reason["element"]["max_length"] == 500
    assert "<@U123> will be told in the thread" in "\n".join(texts(modal["blocks"]))
    assert parse_reason(slack_view(modal, {FieldId.REASON: "Too long"})) == (
        DraftRef(draft_id=7, version=2),
        "Too long",
    )
    assert parse_reason(slack_view(modal, {FieldId.REASON: None}))[1] == ""


def test_regenerate_modal_has_an_optional_hint_and_parses_it():
    modal = regenerate_modal(make_draft())
    assert_valid_view(modal)
    hint = next(b for b in modal["blocks"] if b["type"] == "input")

    assert (modal["callback_id"], modal["title"]["text"], modal["submit"]["text"]) == (
        ViewId.DRAFT_REGENERATE,
        "Regenerate draft",
        "Regenerate",
    )
    assert hint["optional"] is True
    assert hint["element"]["placeholder"]["text"] == "shorter, mention the inspection"
    assert hint["element"]["max_length"] == 500
    assert parse_hint(slack_view(modal, {FieldId.HINT: "shorter"}))[1] == "shorter"
    assert parse_hint(slack_view(modal, {}))[1] == ""


# --- App Home -------------------------------------------------------------------------------


def test_home_lists_waiting_drafts_with_the_cards_buttons_and_own_drafts_without():
    waiting = [make_draft(id=1, channel_id="C42"), make_draft(id=2, kind=DraftKind.TASK)]
    mine = [make_draft(id=3), decided(DraftStatus.EXECUTED, id=4)]

    view = home_view(waiting_for_you=waiting, your_drafts=mine, now=NOW)
    assert_valid_view(view)

    assert view["type"] == "home"
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["Waiting for your approval", "Your pending drafts"]
    assert action_ids(view["blocks"]) == [ActionId.DRAFT_APPROVE, ActionId.DRAFT_REJECT] * 2
    assert [DraftRef.model_validate_json(b["value"]).draft_id for b in buttons(view["blocks"])] == [
        1,
        1,
        2,
        2,
    ]
    shown = "\n".join(texts(view["blocks"]))
    assert "✉️ *Email draft* · Halvorsen Marine · in <#C42>" in shown
    assert "Asked by <@U123> · <!date^" in shown
    assert "— awaiting a manager · <!date^" in shown
    assert "— sent\n" in shown


def test_home_says_nothing_waiting_when_empty():
    view = home_view(waiting_for_you=[], your_drafts=[], now=NOW)
    assert_valid_view(view)

    assert texts(view["blocks"]) == [
        "Waiting for your approval",
        "Nothing waiting for you.",
        "Your pending drafts",
        "Nothing waiting on others.",
    ]


def test_home_truncates_with_more_and_stays_under_100_blocks():
    drafts = [make_draft(id=n, subject="s" * 400) for n in range(200)]

    small = home_view(waiting_for_you=drafts, your_drafts=drafts, now=NOW, limit=10)
    huge = home_view(waiting_for_you=drafts, your_drafts=drafts, now=NOW, limit=500)

    assert_valid_view(small)
    assert_valid_view(huge)
    assert texts(small["blocks"]).count("+190 more") == 2
    assert len(buttons(small["blocks"])) == 20
    assert len(huge["blocks"]) <= 100


def test_home_expired_waiting_draft_has_no_buttons():
    view = home_view(
        waiting_for_you=[make_draft(expires_at=NOW)],
        your_drafts=[make_draft(expires_at=NOW)],
        now=NOW,
    )

    assert buttons(view["blocks"]) == []
    assert "— expired" in "\n".join(texts(view["blocks"]))
