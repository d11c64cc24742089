"""chat.* (including text streaming) and reactions.add against the emulated workspace."""

from __future__ import annotations

from typing import Any

from bot.emulator.calls import CallContext, Handler
from bot.emulator.workspace import BOT_ID, BOT_USER_ID, PostedMessage, SlackError, Workspace

# Slack's documented Block Kit limits; the emulator rejects what Slack would reject so a
# too-long answer fails in tests the way it would fail in a real workspace.
MAX_BLOCKS = 50
_TEXT_LIMITS = {"section": 3000, "header": 150, "markdown": 12000}


def check_blocks(blocks: list[dict[str, Any]]) -> None:
    """Raise `invalid_blocks` for the limits Slack enforces that our bot could hit."""
    if len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks")
    for block in blocks:
        limit = _TEXT_LIMITS.get(str(block.get("type")))
        text = block.get("text")
        if isinstance(text, dict):
            text = text.get("text")
        if limit is not None and isinstance(text, str) and len(text) > limit:
            raise SlackError("invalid_blocks")


def _content(ctx: CallContext) -> tuple[str, list[dict[str, Any]]]:
    text, blocks = ctx.text("text"), ctx.blocks()
    if not text and not blocks and not ctx.params.get("attachments"):
        raise SlackError("no_text")
    check_blocks(blocks)
    return text, blocks


def _bot_message(ws: Workspace, ctx: CallContext, channel: str) -> PostedMessage:
    message = ws.message(channel, ctx.required("ts"))
    if not message.is_bot:
        raise SlackError("cant_update_message")
    return message


def _new_bot_message(ws: Workspace, ctx: CallContext, **extra: Any) -> PostedMessage:
    """A message from the bot as chat.postMessage / postEphemeral describe it."""
    text, blocks = _content(ctx)
    return PostedMessage(
        channel=ws.ensure_channel(ctx.required("channel")).id,
        ts=ws.next_ts(),
        text=text,
        user=BOT_USER_ID,
        bot_id=BOT_ID,
        blocks=blocks,
        thread_ts=ctx.optional("thread_ts"),
        **extra,
    )


def post_message(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.postMessage: a bot message, top level or in a thread."""
    message = _new_bot_message(ws, ctx, metadata=ctx.structured("metadata"))
    channel = message.channel
    ws.add_message(message)
    return {"channel": channel, "ts": message.ts, "message": message.to_api(ws.team_id)}


def update(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.update: replace text/blocks of a bot message and mark it edited."""
    channel = ws.channel(ctx.required("channel")).id
    message = _bot_message(ws, ctx, channel)
    message.text, message.blocks = _content(ctx)
    if "metadata" in ctx.params:
        message.metadata = ctx.structured("metadata")
    message.edited = True
    api = message.to_api(ws.team_id)
    return {"channel": channel, "ts": message.ts, "text": message.text, "message": api}


def delete(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.delete: remove a bot message."""
    channel = ws.channel(ctx.required("channel")).id
    message = _bot_message(ws, ctx, channel)
    ws.delete_message(channel, message.ts)
    return {"channel": channel, "ts": message.ts}


def post_ephemeral(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.postEphemeral: a message only `user` sees; kept apart from the channel history."""
    message = _new_bot_message(ws, ctx, ephemeral_to=ctx.required("user"))
    ws.ephemerals.append(message)
    return {"message_ts": message.ts}


def get_permalink(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.getPermalink: a slack.com-shaped link to an existing message."""
    channel = ws.channel(ctx.required("channel")).id
    message = ws.message(channel, ctx.required("message_ts"))
    link = f"https://emulated.slack.com/archives/{channel}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={channel}"
    return {"channel": channel, "permalink": link}


def _streamed(ctx: CallContext) -> tuple[str, list[dict[str, Any]]]:
    """Text and blocks carried by `markdown_text` and/or `chunks` (the SDK helper sends chunks)."""
    text, blocks = ctx.text("markdown_text"), []
    for chunk in ctx.structured("chunks") or []:
        if chunk.get("type") == "markdown_text":
            text += str(chunk.get("text", ""))
        elif chunk.get("type") == "blocks":
            blocks.extend(chunk.get("blocks", []))
    return text, blocks


def start_stream(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.startStream: open a bot message that later appends extend."""
    channel = ws.ensure_channel(ctx.required("channel")).id
    text, blocks = _streamed(ctx)
    message = PostedMessage(
        channel=channel,
        ts=ws.next_ts(),
        text=text,
        user=BOT_USER_ID,
        bot_id=BOT_ID,
        blocks=blocks,
        thread_ts=ctx.optional("thread_ts"),
        streaming=True,
    )
    ws.add_message(message)
    return {"channel": channel, "ts": message.ts}


def _streaming_message(ws: Workspace, ctx: CallContext) -> PostedMessage:
    message = ws.message(ws.channel(ctx.required("channel")).id, ctx.required("ts"))
    if not message.streaming:
        raise SlackError("message_not_in_streaming_state")
    return message


def append_stream(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.appendStream: add text to a message that is still streaming."""
    message = _streaming_message(ws, ctx)
    text, blocks = _streamed(ctx)
    message.text += text
    message.blocks.extend(blocks)
    return {"channel": message.channel, "ts": message.ts}


def stop_stream(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """chat.stopStream: append the last text, attach final blocks/metadata, close the stream."""
    message = _streaming_message(ws, ctx)
    text, blocks = _streamed(ctx)
    final_blocks = ctx.blocks()
    check_blocks(final_blocks)
    message.text += text
    message.blocks.extend(blocks + final_blocks)
    if "metadata" in ctx.params:
        message.metadata = ctx.structured("metadata")
    message.streaming = False
    api = message.to_api(ws.team_id)
    return {"channel": message.channel, "ts": message.ts, "message": api}


def add_reaction(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """reactions.add: an emoji on a message, once per name."""
    message = ws.message(ws.channel(ctx.required("channel")).id, ctx.required("timestamp"))
    name = ctx.required("name")
    if name in message.reactions:
        raise SlackError("already_reacted")
    message.reactions.append(name)
    return {}


ROUTES: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "chat.startStream": start_stream,
    "chat.appendStream": append_stream,
    "chat.stopStream": stop_stream,
    "reactions.add": add_reaction,
}
