"""Hypothesis strategies for what might arrive at POST /slack/events.

`slack_shaped(...)` builds what Slack itself could send: every field Slack always sends is
there with the right type, optional ones come and go, and the values are random (unknown
teams, users, channels, ids of drafts that do not exist, any text). `mangled(...)` builds the
same payloads with any field replaced by any JSON value or left out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from bot.actions import ActionId, FieldId, ViewId
from bot.shortcuts import ShortcutId
from tests.stack import SALES, TEAM

MISSING = object()
USERS = ("U_REP1", "U_REP2", "U_MGR1", "U_ADMIN1")
COMMANDS = ("/ai", "/ai-cost", "/ai-suggest", "/ai-channel")
Strategy = st.SearchStrategy[Any]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
texts = st.text(max_size=60) | st.sampled_from(
    ["what's going on with Halvorsen?", "draft a follow-up to Seabright", "review my accounts"]
)
ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=12)
teams = st.just(TEAM) | ids.map(lambda s: "T" + s)
users = st.sampled_from(USERS) | ids.map(lambda s: "U" + s)
channels = st.sampled_from([SALES, "D_REP1", "C_SALES_OPS"]) | ids.map(lambda s: "C" + s)
timestamps = st.sampled_from(["1700000000.000100", "1700000000.000200"]) | st.floats(
    min_value=0, max_value=2e9
).map(lambda f: f"{f:.6f}")
ints = st.integers(-2, 5)
draft_ref = st.fixed_dictionaries({"draft_id": ints, "version": st.integers(-1, 3)})
suggestion_ref = st.fixed_dictionaries(
    {"suggestion_id": ints},
    optional={"channel": channels, "message_ts": timestamps, "home": st.booleans()},
)
snooze = st.fixed_dictionaries({"suggestion_id": ints, "days": st.integers(-1, 30)})
feedback = st.fixed_dictionaries({"conversation_id": ints})
# What each button carries (a JSON model of ids, bot/actions.py), and the menu it is in.
BUTTON_VALUES = {
    ActionId.FEEDBACK_UP: feedback,
    ActionId.FEEDBACK_DOWN: feedback,
    ActionId.SUGGESTION_ACCEPT: suggestion_ref,
    ActionId.SUGGESTION_DISMISS: suggestion_ref,
} | {action: draft_ref for action in ActionId if action.startswith("draft_")}
MENU_VALUES = {ActionId.SUGGESTION_SNOOZE: snooze}
MODAL_METADATA = {view: draft_ref for view in ViewId if view.startswith("draft_")} | {
    ViewId.SUGGESTION_DISMISS: suggestion_ref
}
modal_inputs = st.fixed_dictionaries(
    {
        str(name): st.builds(
            lambda name, value: {name: {"type": "plain_text_input", "value": value}},
            st.just(str(name)),
            st.none() | texts,
        )
        for name in FieldId
    }
)


class Shapes:
    """Payload strategies, Slack-shaped (`mangle=False`) or mangled (`mangle=True`)."""

    def __init__(self, response_url: str, *, mangle: bool) -> None:
        self.response_url = st.just(response_url)
        self.mangle = mangle

    def obj(
        self, always: dict[str, Strategy], maybe: dict[str, Strategy] | None = None
    ) -> Strategy:
        """A JSON object: `always` fields are always sent, `maybe` ones sometimes."""
        fields = {k: self._field(v, optional=False) for k, v in always.items()}
        fields |= {k: self._field(v, optional=True) for k, v in (maybe or {}).items()}
        drawn = st.fixed_dictionaries(fields)
        return drawn.map(lambda d: {k: v for k, v in d.items() if v is not MISSING})

    def _field(self, value: Strategy, *, optional: bool) -> Strategy:
        if self.mangle:
            return st.one_of(value, value, json_values, st.just(MISSING))
        return st.one_of(value, st.just(MISSING)) if optional else value

    def envelopes(self) -> Strategy:
        said = self.obj(
            {
                "type": st.sampled_from(["app_mention", "message"]),
                "user": users,  # anyone: people Slack knows that the CRM does not, too
                "channel": channels,
                "text": texts,
                "ts": timestamps,
                "event_ts": timestamps,
            },
            {
                "thread_ts": timestamps,
                "channel_type": st.sampled_from(["im", "channel", "group", "mpim"]),
                "subtype": st.sampled_from(["message_changed", "bot_message", "file_share"]),
                "bot_id": ids,
            },
        )
        home = self.obj(
            {
                "type": st.just("app_home_opened"),
                "user": st.sampled_from(USERS),  # a Home is published to a real person
                "channel": channels,
                "tab": st.sampled_from(["home", "messages"]),
                "event_ts": timestamps,
            }
        )
        thread = self.obj(
            {
                "type": st.just("assistant_thread_started"),
                "assistant_thread": self.obj(
                    {"user_id": users, "channel_id": channels, "thread_ts": timestamps},
                    {"context": self.obj({}, {"channel_id": channels, "team_id": teams})},
                ),
                "event_ts": timestamps,
            }
        )
        callback = self.obj(
            {
                "type": st.just("event_callback"),
                "team_id": teams,
                "api_app_id": st.just("A_COUNTERSIGN"),
                "event": said | home | thread,
                "event_id": ids.map(lambda s: "Ev" + s),
                "event_time": st.integers(min_value=0, max_value=2**31),
            },
            {"token": st.just("legacy-verification-token")},
        )
        challenge = self.obj({"type": st.just("url_verification"), "challenge": st.text()})
        return callback | challenge

    def commands(self) -> Strategy:
        command = self.obj(
            {
                "command": st.sampled_from(COMMANDS),
                "text": texts | st.sampled_from(["budget set org 5", "on", "off", "admin"]),
                "team_id": teams,
                "channel_id": channels,
                "user_id": users,
                "trigger_id": ids,
                "response_url": self.response_url,
            }
        )
        return command.map(lambda d: {k: _form_value(v) for k, v in d.items()})

    def actions(self) -> Strategy:
        """One element of a block_actions payload: a button, or a choice from a menu."""
        base = {"block_id": ids, "type": st.just("button")}
        buttons = [
            self.obj({"action_id": st.just(str(a)), "value": v.map(json.dumps)} | base)
            for a, v in BUTTON_VALUES.items()
        ]
        menus = [
            self.obj(
                {
                    "action_id": st.just(str(a)),
                    "selected_option": self.obj({"value": v.map(json.dumps)}),
                }
                | base
            )
            for a, v in MENU_VALUES.items()
        ]
        return st.one_of(*buttons, *menus)

    def views(self) -> Strategy:
        """A submitted modal: its callback id, metadata and whatever was typed into it."""
        return st.one_of(
            *(
                self.obj(
                    {
                        "id": ids,
                        "type": st.just("modal"),
                        "callback_id": st.just(str(view)),
                        "private_metadata": metadata.map(json.dumps),
                        "state": self.obj({"values": modal_inputs}),
                    }
                )
                for view, metadata in MODAL_METADATA.items()
            )
        )

    def interactions(self) -> Strategy:
        # A click comes from a person of the workspace (App Home is published to them).
        people = st.sampled_from(USERS)
        team, user = self.obj({"id": teams}), self.obj({"id": people, "team_id": teams})
        common = {"team": team, "user": user, "trigger_id": ids}
        clicks = self.obj(
            {
                "type": st.just("block_actions"),
                "actions": st.lists(self.actions(), min_size=1, max_size=2),
                "container": self.obj({"type": st.sampled_from(["message", "view"])}),
            }
            | common,
            {
                "channel": self.obj({"id": channels}),
                "message": self.obj({"ts": timestamps, "text": texts}),
                "response_url": self.response_url,
            },
        )
        submits = self.obj({"type": st.just("view_submission"), "view": self.views()} | common)
        shortcut = self.obj(
            {
                "type": st.just("message_action"),
                "callback_id": st.sampled_from(list(ShortcutId)).map(str),
                "channel": self.obj({"id": channels}),
                "message": self.obj({"ts": timestamps, "text": texts}, {"user": users}),
                "message_ts": timestamps,
                "response_url": self.response_url,
            }
            | common,
        )
        return clicks | submits | shortcut


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def form(fields: dict[str, str]) -> bytes:
    """A form-encoded body, as Slack posts commands and interactivity."""
    return urlencode(fields).encode()


def interaction_form(payload: dict[str, Any]) -> bytes:
    """Interactivity: the JSON payload in a `payload` form field."""
    return form({"payload": json.dumps(payload)})
