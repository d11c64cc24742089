from __future__ import annotations

from bot.emulator import PostedMessage, render_message, render_thread
from bot.emulator.render import RULE, mrkdwn_to_text

USERS = {"U1": "alice", "U_BOT": "countersign"}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def test_plain_text_message_resolves_mentions_links_and_entities():
    msg = {"text": "<@U1> see <https://crm.example/d/7|deal 7> &amp; <#C9|sales> <!here>"}

    assert (
        render_message(msg, USERS) == "@alice see deal 7 (https://crm.example/d/7) & #sales @here"
    )


def test_unknown_user_mention_falls_back_to_the_id():
    assert mrkdwn_to_text("<@U404> and <@U1|ally>", USERS) == "@U404 and @ally"


def test_draft_card_renders_header_fields_context_rule_and_buttons():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Email draft"}},
        {
            "type": "section",
            "text": _mrkdwn("To *Acme* from <@U1>"),
            "fields": [_mrkdwn("*Amount*\n$1,000"), _mrkdwn("*Stage*\nProposal")],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://x/i.png", "alt_text": "logo"},
                _mrkdwn("cost $0.01"),
            ],
        },
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "value": "1"},
                {"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "value": "1"},
            ],
        },
    ]

    assert render_message({"text": "fallback", "blocks": blocks}, USERS) == "\n".join(
        [
            "Email draft",
            "===========",
            "To *Acme* from @alice",
            "  *Amount* $1,000",
            "  *Stage* Proposal",
            RULE,
            "[image: logo]  cost $0.01",
            "[ Approve ]  [ Reject ]",
        ]
    )


def test_section_accessory_image_block_and_select_placeholder():
    blocks = [
        {
            "type": "section",
            "text": _mrkdwn("Snooze?"),
            "accessory": {
                "type": "static_select",
                "placeholder": {"type": "plain_text", "text": "Pick"},
                "options": [],
            },
        },
        {"type": "image", "image_url": "https://x/c.png", "alt_text": "pipeline chart"},
    ]

    assert (
        render_message({"blocks": blocks}, USERS)
        == "Snooze?\n  [ Pick v ]\n[image: pipeline chart]"
    )


def test_rich_text_is_flattened_with_lists_quotes_and_code():
    block = {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "user", "user_id": "U_BOT"},
                    {"type": "text", "text": " top deals "},
                    {"type": "emoji", "name": "moneybag"},
                ],
            },
            {
                "type": "rich_text_list",
                "style": "ordered",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "Acme"}]},
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "Globex"}]},
                ],
            },
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": "as agreed"}]},
            {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "x = 1"}]},
        ],
    }

    assert render_message({"blocks": [block]}, USERS) == "\n".join(
        [
            "@countersign top deals :moneybag:",
            "1. Acme",
            "2. Globex",
            "> as agreed",
            "```",
            "x = 1",
            "```",
        ]
    )


def test_unknown_blocks_show_their_type_and_files_are_listed():
    msg = {
        "blocks": [{"type": "video", "title": "demo"}],
        "files": [{"name": "a.csv", "title": "A"}],
    }

    assert render_message(msg, USERS) == "[video]\n[file: A]"


def test_posted_message_and_thread_rendering():
    parent = PostedMessage(channel="C1", ts="1.000100", text="hi <@U_BOT>", user="U1")
    reply = PostedMessage(
        channel="C1",
        ts="1.000200",
        text="hello",
        user="U_BOT",
        bot_id="B_BOT",
        thread_ts="1.000100",
        edited=True,
    )

    assert render_message(parent, USERS) == "hi @countersign"
    assert render_thread([parent, reply], USERS) == (
        "alice:\n  hi @countersign\n    countersign (edited):\n      hello"
    )
