"""A local Slack for trying a deployment on one machine: the workspace emulator as a service,
and a signed @mention sent to a running web process whose answer is read back.

    .venv/bin/python bench/local_slack.py serve --port 8300
    .venv/bin/python bench/local_slack.py mention --env countersign.env --port 5000 \\
        "what's going on with Halvorsen?"

`serve` runs bot/emulator's Web API (any xoxb- token is valid for team T_DEMO, the demo
org's) with the sandbox's people, #sales and #sales-ops. `mention` signs an app_mention with
the env file's SLACK_SIGNING_SECRET, POSTs it to http://127.0.0.1:PORT/slack/events, then asks
the emulator (conversations.replies, the file's SLACK_API_URL) for the bot's finished reply.
docs/deployment.md uses both; bench/load.py builds its emulator with `workspace_emulator`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.emulator import BOT_USER_ID, EventSender, SlackEmulator, app_mention_event
from bot.emulator import httpd as emulator_httpd
from bot.sandbox import ADMIN_CHANNEL, PEOPLE, SALES, TEAM


def workspace_emulator(port: int = 0, *, backlog: int = 512) -> SlackEmulator:
    """The emulator with the demo workspace's people and channels (not started).

    Under load hundreds of clients connect at once (slack_sdk opens a connection per call);
    socketserver's default listen backlog of 5 would drop SYNs and add 1 s retransmits that
    real Slack never causes, so the backlog is raised for this process's servers."""
    emulator_httpd._TrackingServer.request_queue_size = backlog
    slack = SlackEmulator(port=port, team_id=TEAM, team_name="Demo Co")
    for user_id, name, email in PEOPLE:
        slack.add_user(user_id, name, email)
    slack.add_channel(SALES, "sales")
    slack.add_channel(ADMIN_CHANNEL, "sales-ops")
    return slack


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (as honcho and the app read them); comments and blanks skipped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        words = shlex.split(value, comments=True)
        values[key.strip()] = " ".join(words)
    return values


def serve(args: argparse.Namespace) -> int:
    with workspace_emulator(args.port) as slack:
        print(f"Slack emulator: SLACK_API_URL={slack.api_url} (team {TEAM})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


def mention(args: argparse.Namespace) -> int:
    env = read_env_file(args.env)
    ts = f"{time.time():.6f}"
    envelope = app_mention_event(TEAM, SALES, args.user, f"<@{BOT_USER_ID}> {args.text}", ts)
    sender = EventSender(f"http://127.0.0.1:{args.port}", env["SLACK_SIGNING_SECRET"])
    status, _headers, _body, elapsed = sender.post_event(envelope)
    print(f"POST :{args.port}/slack/events -> HTTP {status} in {elapsed * 1000:.0f} ms")
    if status != 200:
        return 1
    slack = WebClient(token=env.get("SLACK_BOT_TOKEN", "xoxb-local"), base_url=env["SLACK_API_URL"])
    reply = wait_for_reply(slack, SALES, ts, timeout=args.timeout)
    if reply is None:
        print(f"no finished reply in the thread within {args.timeout:g} s", file=sys.stderr)
        return 1
    print(f"answer in thread {ts} after {time.time() - float(ts):.1f} s:\n{reply['text']}")
    return 0


def wait_for_reply(
    slack: WebClient, channel: str, thread_ts: str, *, timeout: float
) -> dict[str, Any] | None:
    """The bot's first finished reply in the thread (it has blocks: the footer or the answer's
    sections arrive last), or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            messages = slack.conversations_replies(channel=channel, ts=thread_ts)["messages"]
        except SlackApiError:
            messages = []  # thread_not_found until the first reply lands
        done = [m for m in messages if m.get("bot_id") and m.get("blocks")]
        if done:
            return dict(done[0])
        time.sleep(0.2)
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the Slack Web API emulator")
    run.add_argument("--port", type=int, default=8300)
    send = sub.add_parser("mention", help="send a signed @mention and print the answer")
    send.add_argument("--env", type=Path, required=True, help="the env file the app runs with")
    send.add_argument("--port", type=int, required=True, help="a web process's port")
    send.add_argument("--user", default=PEOPLE[0][0])
    send.add_argument("--timeout", type=float, default=30.0)
    send.add_argument("text")
    args = parser.parse_args(argv)
    return serve(args) if args.command == "serve" else mention(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
