"""auth, users, conversations, views, files and assistant.threads methods."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.emulator.calls import CallContext, Handler
from bot.emulator.workspace import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    PendingUpload,
    PostedMessage,
    SlackError,
    UploadedFile,
    Workspace,
)


def auth_test(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """auth.test: who the token belongs to."""
    return {
        "url": "https://emulated.slack.com/",
        "team": ws.team_name,
        "user": BOT_NAME,
        "team_id": ctx.team_id,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """users.info: the directory entry of one user."""
    return {"user": ws.user(ctx.required("user")).to_api()}


def users_lookup_by_email(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """users.lookupByEmail: find a member by email (case-insensitive, as Slack does)."""
    email = ctx.required("email").lower()
    for user in ws.users.values():
        if user.email.lower() == email:
            return {"user": user.to_api()}
    raise SlackError("users_not_found")


def conversations_info(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """conversations.info: metadata of one channel or DM."""
    return {"channel": ws.channel(ctx.required("channel")).to_api()}


def conversations_open(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """conversations.open: the bot's DM with one user (multi-person DMs are not emulated)."""
    if channel_id := ctx.optional("channel"):
        return {"channel": ws.channel(channel_id).to_api()}
    users = [user for user in ctx.required("users").split(",") if user]
    if len(users) != 1:
        raise SlackError("not_supported")
    return {"channel": ws.open_dm(users[0]).to_api()}


def conversations_replies(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """conversations.replies: a thread from state, parent first."""
    channel = ws.channel(ctx.required("channel")).id
    messages = ws.thread(channel, ctx.required("ts"))
    if not messages:
        raise SlackError("thread_not_found")
    return {
        "messages": [message.to_api(ws.team_id) for message in messages],
        "has_more": False,
        "response_metadata": {"next_cursor": ""},
    }


def _store_view(ws: Workspace, ctx: CallContext, view_id: str, root_id: str) -> dict[str, Any]:
    view = ctx.structured("view")
    if not isinstance(view, dict) or "type" not in view:
        raise SlackError("invalid_arguments")
    stored = {
        "id": view_id,
        "team_id": ctx.team_id,
        "title": None,
        "blocks": [],
        "callback_id": "",
        "private_metadata": "",
        "external_id": "",
        "state": {"values": {}},
        **view,
        "hash": hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16],
        "root_view_id": root_id,
        "app_id": "A_COUNTERSIGN",
        "bot_id": BOT_ID,
    }
    ws.views[view_id] = stored
    return stored


def views_open(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """views.open: open a modal (needs a trigger_id, as in Slack)."""
    ctx.required("trigger_id")
    view_id = ws.next_id("V")
    return {"view": _store_view(ws, ctx, view_id, view_id)}


def views_push(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """views.push: stack a modal on top of the open one."""
    ctx.required("trigger_id")
    view_id = ws.next_id("V")
    return {"view": _store_view(ws, ctx, view_id, view_id)}


def views_update(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """views.update: replace a view by view_id or external_id, honouring `hash`."""
    view_id = ctx.optional("view_id")
    if view_id is None:
        external_id = ctx.required("external_id")
        found = [v["id"] for v in ws.views.values() if v.get("external_id") == external_id]
        view_id = found[0] if found else None
    if view_id is None or view_id not in ws.views:
        raise SlackError("not_found")
    current = ws.views[view_id]
    expected_hash = ctx.optional("hash")
    if expected_hash is not None and expected_hash != current["hash"]:
        raise SlackError("hash_conflict")
    return {"view": _store_view(ws, ctx, view_id, str(current["root_view_id"]))}


def views_publish(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """views.publish: set a user's App Home tab."""
    user_id = ws.user(ctx.required("user_id")).id
    stored = _store_view(ws, ctx, ws.next_id("V"), "")
    ws.home_views[user_id] = stored
    return {"view": stored}


def files_get_upload_url(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """files.getUploadURLExternal: hand out an upload URL served by this emulator."""
    filename = ctx.required("filename")
    length = int(ctx.required("length"))
    file_id = ws.next_id("F")
    ws.pending_uploads[file_id] = PendingUpload(file_id, filename, length)
    return {"upload_url": f"{ctx.base_url}upload/{file_id}", "file_id": file_id}


def files_complete_upload(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """files.completeUploadExternal: share uploaded files, optionally into a channel/thread."""
    entries = ctx.structured("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    channel = ctx.optional("channel_id") or (ctx.optional("channels") or "").split(",")[0] or None
    thread_ts = ctx.optional("thread_ts")
    shared = [_complete_one(ws, entry, channel, thread_ts) for entry in entries]
    api_files = [_file_api(file) for file in shared]
    if channel is not None:
        ws.add_message(
            PostedMessage(
                channel=channel,
                ts=ws.next_ts(),
                text=ctx.text("initial_comment"),
                user=BOT_USER_ID,
                bot_id=BOT_ID,
                thread_ts=thread_ts,
                files=api_files,
            )
        )
    return {"files": api_files}


def _complete_one(
    ws: Workspace, entry: dict[str, Any], channel: str | None, thread_ts: str | None
) -> UploadedFile:
    pending = ws.pending_uploads.pop(str(entry.get("id")), None)
    if pending is None or pending.content is None:
        raise SlackError("file_not_found")
    title = str(entry.get("title") or pending.name)
    file = UploadedFile(
        pending.id, pending.name, title, len(pending.content), channel, thread_ts, pending.content
    )
    ws.files.append(file)
    return file


def _file_api(file: UploadedFile) -> dict[str, Any]:
    return {"id": file.id, "name": file.name, "title": file.title, "size": file.size}


def _assistant_thread(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    key = (ctx.required("channel_id"), ctx.required("thread_ts"))
    return ws.assistant_threads.setdefault(key, {})


def assistant_set_status(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """assistant.threads.setStatus: the "is thinking…" line under a thread."""
    _assistant_thread(ws, ctx)["status"] = ctx.text("status")
    return {}


def assistant_set_suggested_prompts(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """assistant.threads.setSuggestedPrompts: the prompt buttons of an assistant thread, or
    (agent view, no thread_ts) of the DM itself."""
    key = (ctx.required("channel_id"), ctx.optional("thread_ts") or "")
    thread = ws.assistant_threads.setdefault(key, {})
    thread["prompts"] = ctx.structured("prompts") or []
    thread["prompts_title"] = ctx.optional("title")
    return {}


def assistant_set_title(ws: Workspace, ctx: CallContext) -> dict[str, Any]:
    """assistant.threads.setTitle: the title of an assistant thread."""
    _assistant_thread(ws, ctx)["title"] = ctx.required("title")
    return {}


ROUTES: dict[str, Handler] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.replies": conversations_replies,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
    "assistant.threads.setStatus": assistant_set_status,
    "assistant.threads.setSuggestedPrompts": assistant_set_suggested_prompts,
    "assistant.threads.setTitle": assistant_set_title,
}
