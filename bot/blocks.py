"""Block Kit builders: pure functions from domain objects to blocks."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.metering.money import usd
from agents.questions import Answer
from bot.actions import ActionId, FeedbackValue

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
_BROADCAST = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>|@(channel|here|everyone)\b")


# User-group pings (<!subteam^S123|@sales>) and links whose text hides their target.
_GROUP_PING = re.compile(r"<!subteam\^[^>|]*(?:\|([^>]*))?>")
_LABELLED_LINK = re.compile(r"<((?:https?|mailto):[^>|]+)\|([^>]*)>")


def sanitize(text: str) -> str:
    """Model output pings nobody and hides no link target: @channel/@here/@everyone and group
    pings become plain words, and a labelled link shows where it really goes."""
    text = _BROADCAST.sub(lambda m: f"`@{m.group(1) or m.group(3)}`", text)
    text = _GROUP_PING.sub(lambda m: f"`{m.group(1) or '@group'}`", text)
    return _LABELLED_LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at paragraph, then line, then hard boundaries so each piece fits a section."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        cut = cut if cut > 0 else rest.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*pieces, rest] if rest else pieces


def cost_line(answer: Answer) -> str:
    """The context line on every reply: who answered and what it cost."""
    if answer.offline:
        return f"Offline mode · {answer.agent} · answered from CRM data by rules, no AI model · $0"
    return (
        f"{answer.agent} · {answer.model} · {answer.tokens:,} tokens · {usd(answer.cost_micro_usd)}"
    )


def answer_blocks(answer: Answer) -> list[dict[str, Any]]:
    """The reply: text sections, a notice if any, the cost line and feedback buttons."""
    return [*text_blocks(answer), *footer_blocks(answer)]


def text_blocks(answer: Answer) -> list[dict[str, Any]]:
    """The answer's text as sections, within Block Kit limits (room left for the footer)."""
    return text_sections(answer.text, limit=MAX_BLOCKS - 3)


def text_sections(text: str, *, limit: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """Model or template text, sanitised, as at most `limit` sections of at most 3,000 chars."""
    pieces = split_text(sanitize(text))[:limit]
    return [SectionBlock(text=MarkdownTextObject(text=piece)).to_dict() for piece in pieces]


def footer_blocks(answer: Answer) -> list[dict[str, Any]]:
    """What follows the text (also under a streamed answer): notice, cost line, feedback."""
    blocks: list[Block] = []
    if answer.notice:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f":warning: {answer.notice}")])
        )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=cost_line(answer))]))
    value = FeedbackValue(conversation_id=answer.conversation_id).model_dump_json()
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(text=":+1: Helpful", action_id=ActionId.FEEDBACK_UP, value=value),
                ButtonElement(
                    text=":-1: Not helpful", action_id=ActionId.FEEDBACK_DOWN, value=value
                ),
            ]
        )
    )
    return [block.to_dict() for block in blocks]


def notice(text: str) -> list[dict[str, Any]]:
    """One plain section (an apology, a refusal)."""
    return [SectionBlock(text=MarkdownTextObject(text=text[:SECTION_LIMIT])).to_dict()]


def answer_fallback_text(answer: Answer) -> str:
    """Notification text (and what screen readers get) for the reply."""
    first = sanitize(answer.text).strip().splitlines()[0] if answer.text.strip() else "(no answer)"
    return first[:300]
