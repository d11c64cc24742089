"""Block Kit and mrkdwn rendered as readable plain text for terminal transcripts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.emulator.workspace import PostedMessage

RULE = "-" * 40
_ANGLE = re.compile(r"<([^<>]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def render_message(msg: PostedMessage | Mapping[str, Any], users: Mapping[str, str]) -> str:
    """Render a message (a `PostedMessage` or a Slack message dict) as plain text.

    Blocks win over `text` when present, as in the Slack client; mentions become @name.
    """
    data = msg.to_api("") if isinstance(msg, PostedMessage) else msg
    blocks = data.get("blocks") or []
    if not blocks:
        lines = [mrkdwn_to_text(str(data.get("text", "")), users)]
    else:
        lines = [render_block(block, users) for block in blocks]
    for file in data.get("files") or []:
        lines.append(f"[file: {file.get('title') or file.get('name')}]")
    return "\n".join(line for line in lines if line)


def render_thread(messages: Iterable[PostedMessage], users: Mapping[str, str]) -> str:
    """A conversation as `name: text` paragraphs; replies indented under their parent."""
    parts = []
    for message in messages:
        author = users.get(message.user or "", message.user or "?")
        body = render_message(message, users)
        edited = " (edited)" if message.edited else ""
        reply = bool(message.thread_ts) and message.thread_ts != message.ts
        indent = "    " if reply else ""
        text = body.replace("\n", "\n" + indent + "  ")
        parts.append(f"{indent}{author}{edited}:\n{indent}  {text}")
    return "\n".join(parts)


def mrkdwn_to_text(text: str, users: Mapping[str, str]) -> str:
    """Resolve Slack's `<…>` escapes: users, channels, links, special mentions, dates."""

    def resolve(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (label or users.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label and label != target else target

    resolved = _ANGLE.sub(resolve, text)
    for entity, char in _ENTITIES:
        resolved = resolved.replace(entity, char)
    return resolved


def render_block(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """One block as text; unknown block types show as `[type]`."""
    renderer = _BLOCK_RENDERERS.get(str(block.get("type")))
    if renderer is None:
        return f"[{block.get('type')}]"
    return renderer(block, users)


def _text(obj: Any, users: Mapping[str, str]) -> str:
    """A text object (plain_text or mrkdwn) or a bare string."""
    if isinstance(obj, Mapping):
        obj = obj.get("text", "")
    return mrkdwn_to_text(str(obj or ""), users)


def _element(element: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """An interactive or context element."""
    kind = element.get("type")
    if kind == "button":
        return f"[ {_text(element.get('text'), users)} ]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("plain_text", "mrkdwn"):
        return _text(element, users)
    placeholder = _text(element.get("placeholder"), users) or str(kind)
    return f"[ {placeholder} v ]"


def _header(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    title = _text(block.get("text"), users)
    return f"{title}\n{'=' * len(title)}"


def _section(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    lines = [_text(block.get("text"), users)] if block.get("text") else []
    lines += [f"  {_text(field, users)}".replace("\n", " ") for field in block.get("fields", [])]
    if accessory := block.get("accessory"):
        lines.append(f"  {_element(accessory, users)}")
    return "\n".join(lines)


def _context(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    return "  ".join(_element(element, users) for element in block.get("elements", []))


def _actions(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    return "  ".join(_element(element, users) for element in block.get("elements", []))


def _image(block: Mapping[str, Any], _users: Mapping[str, str]) -> str:
    return f"[image: {block.get('alt_text', '')}]"


def _divider(_block: Mapping[str, Any], _users: Mapping[str, str]) -> str:
    return RULE


def _markdown(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    return mrkdwn_to_text(str(block.get("text", "")), users)


def _input(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    element = block.get("element") or {}
    return f"{_text(block.get('label'), users)}: {_element(element, users)}"


def _rich_text(block: Mapping[str, Any], users: Mapping[str, str]) -> str:
    return "\n".join(_rich_part(part, users) for part in block.get("elements", []))


def _rich_part(part: Mapping[str, Any], users: Mapping[str, str]) -> str:
    kind = part.get("type")
    if kind == "rich_text_list":
        ordered = part.get("style") == "ordered"
        items = [_rich_part(item, users) for item in part.get("elements", [])]
        bullets = [f"{n}." if ordered else "•" for n in range(1, len(items) + 1)]
        return "\n".join(f"{bullet} {item}" for bullet, item in zip(bullets, items, strict=True))
    inline = "".join(_rich_inline(element, users) for element in part.get("elements", []))
    if kind == "rich_text_preformatted":
        return f"```\n{inline}\n```"
    if kind == "rich_text_quote":
        return "> " + inline.replace("\n", "\n> ")
    return inline


def _rich_inline(element: Mapping[str, Any], users: Mapping[str, str]) -> str:
    kind = element.get("type")
    if kind == "user":
        return "@" + users.get(str(element.get("user_id")), str(element.get("user_id")))
    if kind == "channel":
        return f"#{element.get('channel_id')}"
    if kind == "emoji":
        return f":{element.get('name')}:"
    if kind == "link":
        return str(element.get("text") or element.get("url"))
    if kind == "broadcast":
        return f"@{element.get('range')}"
    return str(element.get("text", ""))


_BLOCK_RENDERERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], str]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "actions": _actions,
    "image": _image,
    "divider": _divider,
    "markdown": _markdown,
    "input": _input,
    "rich_text": _rich_text,
}
