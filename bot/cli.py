"""The `countersign` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

from agents.privacy.logs import install_log_redaction
from bot.observability.logs import configure_logging
from bot.settings import Settings, SettingsError

Command = Callable[[argparse.Namespace, Settings], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="countersign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the Slack app")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_true", help="serve POST /slack/events (default)")
    mode.add_argument("--socket-mode", action="store_true", help="connect with SLACK_APP_TOKEN")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3000)
    sub.add_parser("migrate", help="bring the database schema up to date")
    worker = sub.add_parser("worker", help="run queued jobs and periodic tasks (PostgreSQL)")
    worker.add_argument(
        "--concurrency",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="jobs this process runs at once (default: COUNTERSIGN_WORKERS)",
    )
    worker.add_argument(
        "--tasks",
        action="append",
        default=[],
        metavar="MODULE",
        help="also load MODULE's register_jobs(services): extra tasks and schedules",
    )
    imp = sub.add_parser("import-crm", help="import CRM data from a JSON file (see README)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--team", help="Slack team id of the org (default: the only org)")
    seed = sub.add_parser("seed-demo", help="load the demo CRM dataset")
    seed.add_argument("--team", default="T_DEMO")
    sub.add_parser("demo", help="run a scripted conversation against a local workspace")
    audit = sub.add_parser("audit", help="show a draft's history or a person's decisions")
    which = audit.add_mutually_exclusive_group(required=True)
    which.add_argument("--draft", type=int, help="draft id")
    which.add_argument("--user", help="Slack user id of the person")
    audit.add_argument("--team", help="Slack team id of the org (default: the only org)")
    report = sub.add_parser("drafts-report", help="acceptance rate of drafts per prompt version")
    report.add_argument("--team", help="Slack team id of the org (default: the only org)")
    digest = sub.add_parser("digest", help="post the daily cost digests that are due")
    digest.add_argument(
        "--now", action="store_true", help="post yesterday's digest of every org right away"
    )
    suggest = sub.add_parser("suggest", help="run the suggestion scan and send due nudges")
    suggest.add_argument(
        "--now", action="store_true", help="nudge reps now, even outside their working hours"
    )
    _add_export_training(sub)
    sub.add_parser("token-key", help="print a new key for COUNTERSIGN_TOKEN_KEYS")
    sub.add_parser(
        "rotate-token-key",
        help="re-encrypt stored Slack tokens with the first of COUNTERSIGN_TOKEN_KEYS",
    )
    mcp = sub.add_parser(
        "mcp", help="serve the read-only CRM tools to other agents over MCP (stdio)"
    )
    mcp.add_argument("--team", help="Slack team id of the org (default: the only org)")
    return parser


def _add_export_training(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export-training",
        help="write approved drafts with their edits as JSONL, PII replaced by placeholders",
    )
    export.add_argument("file", type=Path, metavar="FILE.jsonl")
    export.add_argument("--team", help="Slack team id of the org (default: the only org)")
    export.add_argument(
        "--since", type=_day, metavar="YYYY-MM-DD", help="only drafts created on or after (UTC)"
    )


def _day(value: str) -> datetime:
    """A --since date as the start of that day in UTC."""
    try:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load()
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)  # noqa: T201 (a CLI speaks on stderr)
        return 2
    configure_logging(settings.observability, level=settings.runtime.log_level)
    if redactor := settings.privacy.model_redactor():
        install_log_redaction(redactor)  # before any command logs a rep's words
    if args.command == "demo":  # its output is the transcript, not migration chatter
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from bot import commands  # the heavy imports only once the settings are known to be good

    command: Command = getattr(commands, args.command.replace("-", "_"))
    try:
        return command(args, settings)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
