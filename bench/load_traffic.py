"""bench/load.py's traffic: which signed request each sequence number is, and which answer in
the Slack emulator belongs to which request.

Mix, by sequence number n (n % 20): 16 of 20 are @mentions in one of 20 channels, half worded
so the triage rules route them ("what's going on with Kestrel?": one model call, the
specialist's) and half so they cannot ("where do things stand with Kestrel this week?": the
triage model call, then the specialist's); 3 of 20 are DMs ("how is the pipeline looking this
quarter?", analytics: one call); 1 of 20 is `/ai what does Kestrel owe?` (orders: one call,
after the question is posted as the thread's root). Every request comes from one of 500
people, has a unique event id or trigger id, and carries `ref-n` in its text.

An answer is matched to its request by thread: a mention's thread is its own ts, made from n;
an /ai thread is the root message quoting `ref-n`; a DM answer is top level and quotes `ans-n`
(bench/fake_model.py echoes it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from _common import Request

from bot.emulator import BOT_USER_ID, RecordedCall, sign_request
from bot.emulator.payloads import app_mention_event, dm_message_event, slash_command
from bot.sandbox import TEAM

PEOPLE = 500
CHANNELS = 20
CUSTOMERS = (
    "Halvorsen", "Baltic Tug", "Kestrel", "Gulfstream", "Nordic Aquafarms", "Atlantic Ferries",
    "Seabright", "Cormorant", "Meridian", "Ironbridge", "Tideway", "Vestby",
)  # fmt: skip
KINDS = ("mention_rules", "mention_model", "dm", "slash")
MODEL_CALLS = {"mention_rules": 1, "mention_model": 2, "dm": 1, "slash": 1}
MENTION_TS_BASE = 1_800_000_000  # a mention's ts is base + n: unique, and never a bot ts
_REF = re.compile(r"\b(?:ref|ans)-(\d+)\b")
_FAILED = "something went wrong"


def kind_of(n: int) -> str:
    slot = n % 20
    if slot < 16:
        return KINDS[slot % 2]
    return "dm" if slot < 19 else "slash"


def mean_model_calls() -> float:
    """Model calls per answer over one 20-request cycle of the mix."""
    return sum(MODEL_CALLS[kind_of(n)] for n in range(20)) / 20


def user_of(n: int) -> str:
    return f"U_LOAD{n % PEOPLE:03d}"


def channel_of(n: int) -> str:
    return f"C_LOAD{n % CHANNELS:02d}"


def dm_of(user: str) -> str:
    return "D" + user.removeprefix("U")  # what the emulator's conversations.open gives


def mention_ts(n: int) -> str:
    return f"{MENTION_TS_BASE + n}.000100"


def build_request(
    secret: str, emulator_url: str, tag: str, lane: int, lanes: int, seq: int
) -> Request:
    """Request `seq` of generator `lane` (of `lanes`): global number n = seq * lanes + lane."""
    n = seq * lanes + lane
    kind, user, ref = kind_of(n), user_of(n), f"ref-{n:07d}"
    customer = CUSTOMERS[(n // 20) % len(CUSTOMERS)]
    if kind == "slash":
        form = slash_command(
            TEAM, channel_of(n), user, "/ai", f"what does {customer} owe? {ref}",
            emulator_url=emulator_url, trigger_id=f"{n}.{tag}",
        )  # fmt: skip
        body, content_type = form.encode(), "application/x-www-form-urlencoded"
    else:
        if kind == "dm":
            text = f"how is the pipeline looking this quarter? {ref}"
            envelope = dm_message_event(TEAM, dm_of(user), user, text, f"{time.time():.6f}")
        else:
            ask = (
                "what's going on with {}?"
                if kind == "mention_rules"
                else ("where do things stand with {} this week?")
            )
            text = f"<@{BOT_USER_ID}> {ask.format(customer)} {ref}"
            envelope = app_mention_event(TEAM, channel_of(n), user, text, mention_ts(n))
        envelope["event_id"] = f"Ev{tag}{n:07d}"
        body, content_type = json.dumps(envelope).encode(), "application/json"
    return "/slack/events", body, {"Content-Type": content_type, **sign_request(body, secret)}


@dataclass(frozen=True)
class Outcome:
    """How one request ended in Slack: answered, an error message, or refused (ephemeral)."""

    n: int
    at: float  # wall clock of the final call (the emulator's time.time())
    how: str  # "answered", "error" or "refused"


@dataclass
class AnswerMatcher:
    """Reads the emulator's recorded calls, in order, and finds each request's outcome."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    _threads: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, ts) → n
    _streams: dict[tuple[str, str], int] = field(default_factory=dict)  # stream msg → n
    seen: int = 0
    unmatched: int = 0

    def feed(self, calls: Iterable[RecordedCall]) -> None:
        for call in calls:
            self.seen += 1
            self._one(call)

    def _one(self, call: RecordedCall) -> None:
        params, method = call.params, call.method
        channel = str(params.get("channel", ""))
        thread = params.get("thread_ts")
        if method == "chat.postMessage" and not thread and channel.startswith("C"):
            if (ref := _REF.search(str(params.get("text", "")))) is not None:  # an /ai root
                self._threads[(channel, str(call.response.get("ts")))] = int(ref.group(1))
            return
        if method == "chat.startStream":
            n = self._thread_of(channel, thread)
            if n is not None:
                self._streams[(channel, str(call.response.get("ts")))] = n
            return
        if method == "chat.stopStream":
            n = self._streams.get((channel, str(params.get("ts"))))
        elif method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            n = self._thread_of(channel, thread) if thread else _ref_in(params)
        else:
            return
        if n is None:
            self.unmatched += 1
            return
        failed = _FAILED in json.dumps(params)
        how = "refused" if method == "chat.postEphemeral" else "error" if failed else "answered"
        self.outcomes[n] = Outcome(n, call.at, how)

    def _thread_of(self, channel: str, thread: object) -> int | None:
        if not thread:
            return None
        ts = str(thread)
        if channel.startswith("C_LOAD") and ts.endswith(".000100"):
            seconds = int(ts.split(".")[0]) - MENTION_TS_BASE
            if seconds >= 0:
                return seconds
        return self._threads.get((channel, ts))


def _ref_in(params: dict[str, object]) -> int | None:
    found = _REF.search(str(params.get("text", "")))
    return int(found.group(1)) if found else None
