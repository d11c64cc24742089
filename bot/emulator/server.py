"""SlackEmulator: a local HTTP server speaking the Slack Web API wire format.

The official `slack_sdk.WebClient(base_url=emulator.api_url)` works against it unchanged.
It keeps a small stateful workspace (users, channels, threads, files, views), records every
call for assertions, and can inject failures (429 + Retry-After, any error) and delays.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.emulator import chat_methods, other_methods
from bot.emulator.calls import CallContext, RecordedCall, bearer_token, parse_params
from bot.emulator.httpd import BackgroundHTTPServer, QuietHandler
from bot.emulator.oauth import Grant, access_answer, check_client
from bot.emulator.recorder import Answer, CallRecorder
from bot.emulator.render import render_thread
from bot.emulator.workspace import (
    Channel,
    PostedMessage,
    SlackError,
    SlackUser,
    UploadedFile,
    Workspace,
)

_ROUTES = {**chat_methods.ROUTES, **other_methods.ROUTES}


class _SlackHandler(QuietHandler):
    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        emulator: SlackEmulator = self.server.owner  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.read_body()
        status, headers, payload = emulator.handle_http(
            url.path,
            url.query,
            self.headers.get("Content-Type") or "",
            self.headers.get("Authorization"),
            body,
        )
        if isinstance(payload, bytes):
            self.send_bytes(status, payload, "text/plain; charset=utf-8", headers)
        else:
            self.send_json(status, payload, headers)


class SlackEmulator(CallRecorder, BackgroundHTTPServer):
    """A local Slack workspace: Web API server, recorded calls, failure injection."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens: Mapping[str, str] | None = None,
        team_id: str = "T0001",
        team_name: str = "Countersign Demo",
    ) -> None:
        BackgroundHTTPServer.__init__(self, _SlackHandler, host, port)
        CallRecorder.__init__(self)
        # None means "any xoxb-/xoxp- token is valid for the default team".
        self._tokens = dict(tokens) if tokens is not None else None
        self._client: tuple[str, str] | None = None
        self._grants: dict[str, Grant] = {}
        self.workspace = Workspace(team_id, team_name)

    @property
    def api_url(self) -> str:
        """Web API base URL for `WebClient(base_url=...)`, ending with "/"."""
        return f"{self.base_url}api/"

    # ---- workspace --------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str,
        tz: str = "America/New_York",
        is_admin: bool = False,
    ) -> SlackUser:
        """Add a member to the user directory."""
        with self._state:
            return self.workspace.add_user(user_id, name, email, tz=tz, is_admin=is_admin)

    def add_channel(self, channel_id: str, name: str, is_im: bool = False) -> Channel:
        """Add a channel (or a DM when `is_im`)."""
        with self._state:
            return self.workspace.add_channel(channel_id, name, is_im=is_im)

    def post_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> PostedMessage:
        """Put a human's message into the workspace; use its ts in the event you send."""
        with self._state:
            ws = self.workspace
            message = PostedMessage(channel, ws.next_ts(), text, user=user, thread_ts=thread_ts)
            return copy.deepcopy(ws.add_message(message))

    def thread(self, channel: str, thread_ts: str) -> list[PostedMessage]:
        """The thread as it stands: parent (if known) then replies, oldest first."""
        with self._state:
            return copy.deepcopy(self.workspace.thread(channel, thread_ts))

    def channel_messages(self, channel: str) -> list[PostedMessage]:
        """Every message in a channel, top level and thread replies, in posting order."""
        with self._state:
            return copy.deepcopy(self.workspace.messages.get(channel, []))

    def ephemeral_messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Ephemeral messages sent so far, optionally only those in `channel`."""
        with self._state:
            found = self.workspace.ephemerals
            return copy.deepcopy([m for m in found if channel in (None, m.channel)])

    @property
    def files(self) -> list[UploadedFile]:
        """Files shared via files.completeUploadExternal."""
        with self._state:
            return list(self.workspace.files)

    def opened_views(self) -> list[dict[str, Any]]:
        """Every modal the app opened, oldest first."""
        with self._state:
            return copy.deepcopy(list(self.workspace.views.values()))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for a user."""
        with self._state:
            return copy.deepcopy(self.workspace.home_views.get(user_id))

    def assistant_thread(self, channel: str, thread_ts: str) -> dict[str, Any]:
        """Status, title and suggested prompts set on an assistant thread."""
        with self._state:
            return copy.deepcopy(self.workspace.assistant_threads.get((channel, thread_ts), {}))

    def user_names(self) -> dict[str, str]:
        """User id → display name, for rendering mentions."""
        with self._state:
            return {user.id: user.name for user in self.workspace.users.values()}

    def transcript(self, channel: str, thread_ts: str | None = None) -> str:
        """A channel or thread rendered as readable plain text."""
        messages = self.thread(channel, thread_ts) if thread_ts else self.channel_messages(channel)
        return render_thread(messages, self.user_names())

    # ---- HTTP ------------------------------------------------------------------------

    def handle_http(
        self, path: str, query: str, content_type: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | bytes]:
        """Answer one HTTP request (called by the handler thread)."""
        kind, _, name = path.strip("/").partition("/")
        if kind == "upload" and name:
            return self._upload(name, body)
        try:
            params = parse_params(body, content_type, query)
        except (SlackError, ValueError):
            return 200, {}, {"ok": False, "error": "invalid_form_data"}
        if kind == "api" and name == "oauth.v2.access":
            return self._call(name, params, None, lambda *_: self._exchange(authorization, params))
        if kind == "api" and name:
            token = bearer_token(authorization, params)
            return self._call(name, params, token, self._api_answer)
        if kind == "response" and name:
            params["response_id"] = name
            return self._call("response_url", params, None, lambda *_: (200, {}, {"ok": True}))
        return 404, {}, {"ok": False, "error": "not_found"}

    def _call(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        answer: Callable[[str, dict[str, Any], str | None], Answer],
    ) -> Answer:
        at = time.time()
        with self._state:
            delay = self._delays.get(method, 0.0)
        if delay > 0:
            time.sleep(delay)  # outside the lock so other calls keep flowing
        with self._state:
            failure = self._take_failure(method)
            status, headers, payload = (
                failure.answer() if failure else answer(method, params, token)
            )
            recorded = copy.deepcopy(params)
            self._calls.append(RecordedCall(method, recorded, token, at, status, payload))
            self._state.notify_all()
        return status, headers, payload

    def _api_answer(self, method: str, params: dict[str, Any], token: str | None) -> Answer:
        handler = _ROUTES.get(method)
        try:
            if handler is None:
                raise SlackError("unknown_method")
            ctx = CallContext(params, self._team_for(token), self.base_url)
            result = handler(self.workspace, ctx)
        except SlackError as exc:
            return 200, {}, {"ok": False, "error": exc.error}
        return 200, {}, {"ok": True, **result}

    def register_app(self, client_id: str, client_secret: str) -> None:
        """The app's OAuth client credentials (needed before any install)."""
        with self._state:
            self._client = (client_id, client_secret)

    def approve_install(
        self, team_id: str, team_name: str, *, installer: str = "U_ADMIN1", scopes: str = ""
    ) -> tuple[str, str]:
        """A person approves the app on Slack's install page: the code Slack would send to
        the redirect URL, and the bot token it will be exchanged for."""
        code = "code-" + secrets.token_hex(8)
        token = f"xoxb-{team_id.lower()}-" + secrets.token_hex(12)
        with self._state:
            self._grants[code] = Grant(team_id, team_name, token, installer, scopes)
        return code, token

    def revoke(self, token: str) -> None:
        """The token stops working (tokens_revoked, app_uninstalled)."""
        with self._state:
            if self._tokens is not None:
                self._tokens.pop(token, None)

    def _exchange(self, authorization: str | None, params: dict[str, Any]) -> Answer:
        try:
            check_client(self._client, authorization, params)
            grant = self._grants.pop(str(params.get("code", "")), None)
            if grant is None:
                raise SlackError("invalid_code")
        except SlackError as exc:
            return 200, {}, {"ok": False, "error": exc.error}
        if self._tokens is None:
            self._tokens = {}
        self._tokens[grant.bot_token] = grant.team_id
        return 200, {}, {"ok": True, **access_answer(grant)}

    def _team_for(self, token: str | None) -> str:
        if not token:
            raise SlackError("not_authed")
        if self._tokens is None:
            if token.startswith(("xoxb-", "xoxp-")):
                return self.workspace.team_id
            raise SlackError("invalid_auth")
        if token not in self._tokens:
            raise SlackError("invalid_auth")
        return self._tokens[token]

    def _upload(self, file_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        # slack_sdk POSTs the raw file bytes here (urllib labels them form-encoded).
        with self._state:
            pending = self.workspace.pending_uploads.get(file_id)
            status = 200 if pending is not None else 404
            if pending is not None:
                pending.content = body
            params = {"file_id": file_id, "size": len(body)}
            response = {"ok": pending is not None}
            self._calls.append(
                RecordedCall("file_upload", params, None, time.time(), status, response)
            )
            self._state.notify_all()
        return status, {}, (f"OK - {len(body)}" if pending else "Not Found").encode()
