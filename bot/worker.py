"""`countersign worker`: carry out queued jobs and the periodic schedule with procrastinate.

Run as many as you like, on one host or many: each job is taken by one worker, each period of a
periodic task runs once between them, and the jobs of a worker that dies are queued again."""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Sequence

from sqlalchemy import Engine

from bot.jobs import register_jobs
from bot.observability.server import start_ops_server
from bot.observability.wiring import instrument
from bot.periodic import schedule_periodic
from bot.procrastinate_runner import ProcrastinateRunner
from bot.services import Services, build_services
from bot.settings import Settings, SettingsError
from storage.migrate import job_schema_version


def run_worker(settings: Settings, *, concurrency: int, task_modules: Sequence[str] = ()) -> None:
    """Work until SIGINT/SIGTERM; jobs already running are finished first."""
    if settings.jobs.engine_for(settings.storage.resolved_database_url()) != "procrastinate":
        raise SettingsError(
            "countersign worker runs the PostgreSQL job engine: set DATABASE_URL to PostgreSQL "
            "(in embedded mode `countersign serve` runs the jobs itself)"
        )
    services = build_services(settings)
    ops_server = None
    try:
        _require_job_schema(services.engine)
        runner = _register_everything(services, task_modules)
        # Workers make the model calls: their metrics and readiness have a port of their own.
        ops_server = start_ops_server(settings.observability, instrument(services))
        runner.run_worker(concurrency=concurrency, name=worker_name())
    finally:
        if ops_server is not None:
            ops_server.close()
        services.close()


def _register_everything(services: Services, task_modules: Sequence[str]) -> ProcrastinateRunner:
    """The app's tasks, any extra modules' (`register_jobs(services)` in each), then the
    periodic schedule, so extra modules may also replace a scheduled task's body."""
    register_jobs(services)
    for module in task_modules:
        importlib.import_module(module).register_jobs(services)
    schedule_periodic(services)
    assert isinstance(services.runner, ProcrastinateRunner)  # checked by the caller
    return services.runner


def _require_job_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        if job_schema_version(conn) is None:
            raise SettingsError("the job engine's tables are missing: run `countersign migrate`")


def worker_name() -> str:
    """Host and process, as the worker's name in procrastinate's logs."""
    return f"{socket.gethostname()}:{os.getpid()}"
