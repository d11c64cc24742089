"""Model output in answers pings nobody and cannot disguise a link."""

from __future__ import annotations

from bot.blocks import sanitize


def test_broadcasts_and_group_pings_become_plain_words():
    text = sanitize("<!channel> <!here|here> @everyone <!subteam^S1|@sales> <!subteam^S2>")
    assert "<!" not in text
    assert text.split() == ["`@channel`", "`@here`", "`@everyone`", "`@sales`", "`@group`"]


def test_a_labelled_link_shows_where_it_really_goes():
    assert sanitize("<https://evil.example/x|your bank>") == "your bank (https://evil.example/x)"
    assert sanitize("<mailto:a@evil.example|Jordan>") == "Jordan (mailto:a@evil.example)"


def test_plain_links_and_ordinary_text_are_left_alone():
    text = "See <https://crm.example/c/7> — renewal at $144,000, email me@x.io"
    assert sanitize(text) == text
