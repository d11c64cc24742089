"""/readyz over HTTP: ready on the embedded stack and on PostgreSQL + Redis + procrastinate,
503 naming the check that failed; the worker's own /metrics, /healthz and /readyz server."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from contextlib import closing

import pytest
from pydantic import SecretStr

from bot.emulator import SlackEmulator
from bot.observability.readiness import Readiness
from bot.observability.server import start_ops_server
from bot.observability.settings import ObservabilitySettings
from bot.observability.wiring import instrument
from bot.serve import make_http_server
from bot.services import build_services
from bot.settings import JobSettings, RuntimeSettings, Settings, SlackSettings
from storage.settings import StorageSettings
from tests.bot.job_fixtures import job_database
from tests.observability.scrape import get, get_json, scrape, value
from tests.stack import TEAM, offline_agents, running_stack

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_the_embedded_stack_is_ready(tmp_path):
    with running_stack(tmp_path) as stack:
        status, body = get_json(stack.url + "/readyz")
        health, _ = get_json(stack.url + "/healthz")
    assert (status, health) == (200, 200)
    assert body == {"status": "ready", "checks": {"database": "ok", "jobs": "ok"}}


def test_an_unreachable_redis_makes_the_process_unready_and_says_so(tmp_path):
    with running_stack(tmp_path, redis_url=CLOSED_REDIS) as stack:
        status, body = get_json(stack.url + "/readyz")
        alive, _ = get_json(stack.url + "/healthz")
    assert status == 503 and alive == 200  # alive (do not restart it), but not ready
    assert body["status"] == "unavailable" and body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("failed")
    assert body["checks"]["database"] == body["checks"]["jobs"] == "ok"


def test_a_check_that_hangs_fails_after_the_timeout_and_the_others_still_answer():
    stuck = threading.Event()
    readiness = Readiness({"database": lambda: None, "redis": lambda: stuck.wait(10)}, timeout=0.2)
    try:
        verdict = readiness.verdict()
    finally:
        stuck.set()
    assert verdict.failing == ["redis"]
    assert verdict.results == {"database": "ok", "redis": "no answer within 0.2 s"}


@pytest.fixture
def production(tmp_path, pg_url, redis_url):
    """Services as a production process builds them: PostgreSQL, Redis, procrastinate."""
    token = "xoxb-ready-" + secrets.token_hex(8)
    with SlackEmulator(tokens={token: TEAM}, team_id=TEAM) as slack, job_database() as url:
        settings = Settings(
            slack=SlackSettings(
                bot_token=SecretStr(token),
                signing_secret=SecretStr(secrets.token_hex(16)),
                api_url=slack.api_url,
            ),
            agents=offline_agents(),
            storage=StorageSettings(data_dir=tmp_path, database_url=url, redis_url=redis_url),
            runtime=RuntimeSettings(log_level="WARNING"),
            jobs=JobSettings(engine="procrastinate"),
        )
        services = build_services(settings)
        try:
            yield services
        finally:
            services.close()


@pytest.mark.postgres
@pytest.mark.redis
def test_the_web_process_on_postgres_redis_and_procrastinate_is_ready(production):
    server = make_http_server(production.settings, production, host="127.0.0.1", port=0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        status, body = get_json(f"http://127.0.0.1:{server.effective_port}/readyz")
    finally:
        server.close()
    assert status == 200
    assert body["checks"] == {"database": "ok", "redis": "ok", "jobs": "ok"}


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_serves_metrics_health_and_readiness_on_its_own_port(production):
    production.runner.register("later", lambda _payload: None)
    production.runner.defer("later", {"n": 1})
    production.runner.defer("later", {"n": 2})
    port = _free_port()
    settings = ObservabilitySettings(metrics_host="127.0.0.1", metrics_port=port)
    server = start_ops_server(settings, instrument(production))
    assert server is not None
    base = f"http://127.0.0.1:{port}"
    try:
        ready, body = get_json(base + "/readyz")
        alive, _ = get_json(base + "/healthz")
        missing = get(base + "/slack/events")[0]
        samples = scrape(base)
    finally:
        server.close()
    assert (ready, alive, missing) == (200, 200, 404)
    assert body["checks"] == {"database": "ok", "redis": "ok", "jobs": "ok"}
    assert value(samples, "countersign_job_queue_depth", status="todo") == 2
    assert value(samples, "countersign_job_queue_depth", status="doing") == 0


def test_a_taken_metrics_port_is_reported_and_the_worker_goes_on(tmp_path, caplog):
    with (
        running_stack(tmp_path) as stack,
        closing(socket.socket()) as taken,
        caplog.at_level(logging.WARNING, logger="bot.observability.server"),
    ):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = ObservabilitySettings(metrics_host="127.0.0.1", metrics_port=port)
        server = start_ops_server(settings, instrument(stack.services))
    assert server is None
    assert f"127.0.0.1:{port} is unavailable" in caplog.text
    assert "COUNTERSIGN_METRICS_PORT" in caplog.text


def test_metrics_port_zero_serves_nothing(tmp_path):
    with running_stack(tmp_path) as stack:
        off = ObservabilitySettings(metrics_port=0)
        assert start_ops_server(off, instrument(stack.services)) is None


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
