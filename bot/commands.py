"""What each `countersign` subcommand does."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.reports import acceptance_by_prompt, audit_trail
from bot.settings import Settings, SettingsError
from storage import migrate as migrations
from storage.crm_import import CrmImportError, import_crm_file
from storage.db import engine_from_settings, session_factory
from storage.demo import seed_demo as load_demo_data
from storage.types import utcnow
from storage.uow import UnitOfWork


def _say(text: str) -> None:
    print(text)  # noqa: T201 (CLI output)


def migrate(_args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade the configured database to the newest schema (with the job engine's on
    PostgreSQL)."""
    migrations.upgrade(_url(settings))
    if migrations.apply_job_schema(_url(settings)):
        _say("job engine schema applied")
    _say("database is up to date")
    return 0


def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run jobs and periodic tasks until SIGINT/SIGTERM."""
    from bot.worker import run_worker

    settings.require_slack_auth()
    concurrency = args.concurrency or settings.runtime.workers
    run_worker(settings, concurrency=concurrency, task_modules=args.tasks)
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve over HTTP (default) or Socket Mode."""
    from bot.serve import serve_http, serve_socket_mode
    from bot.services import build_services

    if args.socket_mode:
        settings.require_slack_auth("SLACK_APP_TOKEN")
    else:
        settings.require_slack_auth("SLACK_SIGNING_SECRET")
    _prepare_embedded(settings)
    services = build_services(settings)
    try:
        if args.socket_mode:
            serve_socket_mode(settings, services)
        else:
            serve_http(settings, services, host=args.host, port=args.port)
    finally:
        services.close()
    return 0


def import_crm(args: argparse.Namespace, settings: Settings) -> int:
    """Import a CRM JSON file into one org, all or nothing."""
    _prepare_embedded(settings)
    factory = session_factory(engine_from_settings(settings.storage))
    org_id = _org_id(factory, args.team)
    try:
        report = import_crm_file(factory, org_id=org_id, path=args.file)
    except CrmImportError as exc:
        print(f"countersign: nothing was imported:\n{exc}", file=sys.stderr)  # noqa: T201
        return 1
    _say(report.summary())
    return 0


def seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Load the packaged demo dataset (timestamps shifted to now)."""
    _prepare_embedded(settings)
    factory = session_factory(engine_from_settings(settings.storage))
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=args.team, name="Demo Co")
        uow.commit()
    _say(load_demo_data(factory, org_id=org.id, now=utcnow()).summary())
    return 0


def demo(_args: argparse.Namespace, settings: Settings) -> int:
    """A scripted conversation against the local workspace emulator."""
    from bot.demo import run_demo

    return run_demo(settings)


def audit(args: argparse.Namespace, settings: Settings) -> int:
    """Print a draft's audit trail, or what one person decided."""
    factory = session_factory(engine_from_settings(settings.storage))
    org_id = _existing_org_id(factory, args.team)
    lines = audit_trail(factory, org_id, draft_id=args.draft, slack_user_id=args.user)
    for line in lines:
        detail = ", ".join(f"{k}={v}" for k, v in line.detail.items())
        _say(
            f"{line.at:%Y-%m-%d %H:%M:%S} {line.actor:<20} {line.action:<24} "
            f"{line.subject:<12} {line.result:<9} {detail}"
        )
    if not lines:
        _say("no audit events")
    return 0


def drafts_report(args: argparse.Namespace, settings: Settings) -> int:
    """Print how often each prompt version's drafts were accepted."""
    factory = session_factory(engine_from_settings(settings.storage))
    rows = acceptance_by_prompt(factory, _existing_org_id(factory, args.team))
    _say(f"{'prompt version':<24}{'accepted':>10}{'declined':>10}{'pending':>10}{'rate':>8}")
    for row in rows:
        rate = f"{row.rate:.0%}" if row.rate is not None else "–"
        _say(
            f"{row.prompt_version:<24}{row.accepted:>10}{row.declined:>10}{row.pending:>10}{rate:>8}"
        )
    return 0


def digest(args: argparse.Namespace, settings: Settings) -> int:
    """Post the digests that are due (or, with --now, yesterday's for every org), once each."""
    from bot.digest import digests_now, due_digests
    from bot.services import build_services

    settings.require_slack_auth()
    if not settings.digest.admin_channel:
        raise SettingsError("COUNTERSIGN_ADMIN_CHANNEL is not set: there is nowhere to post")
    _prepare_embedded(settings)
    services = build_services(settings)
    try:
        runs = (digests_now if args.now else due_digests)(services, utcnow())
        with UnitOfWork(services.factory) as uow:
            names = {org.id: org.name for org in uow.orgs.all()}
    finally:
        services.close()
    for run in runs:
        _say(run.describe(names.get(run.org_id, str(run.org_id))))
    if not runs:
        _say(
            f"nothing to post: each org's digest goes out once a day after "
            f"{settings.digest.digest_time} its local time (--now posts yesterday's right away)"
        )
    return 1 if any(run.status == "failed" for run in runs) else 0


def suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Scan every org's CRM for suggestions and send the nudges that are due."""
    from bot.services import build_services
    from bot.suggestion_jobs import scan_all

    settings.require_slack_auth()
    _prepare_embedded(settings)
    services = build_services(settings)
    try:
        reports = scan_all(services, anytime=args.now)
        with UnitOfWork(services.factory) as uow:
            names = {org.id: org.name for org in uow.orgs.all()}
    finally:
        services.close()
    for org_id, report in reports.items():
        _say(f"{names.get(org_id, org_id)}: {report.open} open suggestions, {report.nudged} nudged")
    if not args.now and reports and not any(r.nudged for r in reports.values()):
        _say("nobody nudged: each rep gets one a day inside their working hours (--now: now)")
    return 0


def export_training(args: argparse.Namespace, settings: Settings) -> int:
    """Write approved drafts with their first and approved versions, PII redacted."""
    from agents.drafts.training_export import export_training as write_jsonl

    factory = session_factory(engine_from_settings(settings.storage))
    org_id = _existing_org_id(factory, args.team)
    try:
        count = write_jsonl(
            factory, org_id, args.file, redactor=settings.privacy.redactor(), since=args.since
        )
    except OSError as exc:
        print(f"countersign: cannot write {args.file}: {exc.strerror}", file=sys.stderr)  # noqa: T201
        return 1
    _say(f"wrote {count} approved draft(s) to {args.file}")
    return 0


def _existing_org_id(factory: sessionmaker[Session], team: str | None) -> int:
    with UnitOfWork(factory) as uow:
        orgs = [uow.orgs.by_team(team)] if team else uow.orgs.all()
    found = [org for org in orgs if org is not None]
    if len(found) != 1:
        raise SettingsError(f"pass --team TEAM_ID: found {len(found)} matching orgs")
    return found[0].id


def _url(settings: Settings) -> str:
    if settings.storage.database_url is None:
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.storage.resolved_database_url()


def _prepare_embedded(settings: Settings) -> None:
    """Zero setup: the embedded SQLite file is migrated automatically; PostgreSQL is not."""
    if settings.storage.database_url is None:
        migrations.upgrade(_url(settings))


def _org_id(factory: sessionmaker[Session], team: str | None) -> int:
    """The org to import into: the named team's, or the only one there is."""
    with UnitOfWork(factory) as uow:
        if team:
            org = uow.orgs.ensure(slack_team_id=team)
            uow.commit()
            return org.id
        orgs = uow.orgs.all()
    if len(orgs) != 1:
        raise SettingsError(f"pass --team TEAM_ID: the database has {len(orgs)} orgs")
    return orgs[0].id


def mcp(args: argparse.Namespace, settings: Settings) -> int:
    """Serve one org's read-only CRM tools over MCP on stdio (stdout is the protocol)."""
    from bot.mcp_server import run

    return run(args.team, settings)


def token_key(_args: argparse.Namespace, _settings: Settings) -> int:
    """Print a fresh Fernet key (put it first in COUNTERSIGN_TOKEN_KEYS to start a rotation)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())  # noqa: T201 (the key is the command's output)
    return 0


def rotate_token_key(_args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every stored workspace token with the first key; then the old key can go."""
    from storage.slack_installs import TokenCipher, TokenKeyError
    from storage.slack_installs import rotate_token_key as rotate

    keys = settings.slack.token_key_list()
    if not keys:
        raise SettingsError("COUNTERSIGN_TOKEN_KEYS is not set: there is no key to rotate to")
    engine = engine_from_settings(settings.storage)
    try:
        count = rotate(engine, TokenCipher(keys))
    except TokenKeyError as exc:
        print(f"countersign: {exc}; nothing was changed", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        engine.dispose()
    print(f"re-encrypted {count} token(s) with the first key")  # noqa: T201
    return 0
