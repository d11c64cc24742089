"""The production job engine: jobs wait in PostgreSQL until a procrastinate worker runs them,
commit or vanish with the transaction they were deferred in, and the engine follows the
database. The worker runs with wait=False: it works until the queue is empty, then returns.
Periodic behaviour across processes is in test_worker_crash.py."""

from __future__ import annotations

import threading
from importlib.metadata import version

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.procrastinate_runner import ProcrastinateRunner, cron_for
from bot.settings import JobSettings, SettingsError
from storage.db import make_engine, session_factory
from storage.migrate import apply_job_schema, job_schema_version
from storage.uow import UnitOfWork
from tests.bot.job_fixtures import empty_job_tables, job_database


@pytest.fixture(scope="module")
def jobs_url(pg_url):
    with job_database() as url:
        yield url


@pytest.fixture
def engine(jobs_url):
    engine = make_engine(jobs_url)
    yield engine
    empty_job_tables(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE org RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def runner(engine, jobs_url):
    return ProcrastinateRunner(engine=engine, database_url=jobs_url, settings=JobSettings())


def _work(runner):
    runner.run_worker(concurrency=2, name="test", wait=False)


def _statuses(engine, task):
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status FROM procrastinate_jobs WHERE task_name = :t"), {"t": task}
        )
        return sorted(str(status) for (status,) in rows)


@pytest.mark.postgres
def test_a_deferred_job_waits_in_postgres_until_a_worker_runs_it(runner, engine):
    seen = []
    runner.register("record", seen.append)
    runner.defer("record", {"team": "T1", "text": "50% off?"})
    assert not runner.idle() and seen == []
    _work(runner)
    assert seen == [{"team": "T1", "text": "50% off?"}]
    assert _statuses(engine, "record") == []  # done, and deleted


@pytest.mark.postgres
def test_a_job_deferred_in_a_transaction_commits_with_its_rows(runner, engine):
    factory = session_factory(engine)
    found = []

    def look_up(payload):
        with UnitOfWork(factory) as uow:
            found.append(uow.orgs.by_team(payload["team"]) is not None)

    runner.register("look_up", look_up)
    with UnitOfWork(factory) as uow:
        uow.orgs.ensure(slack_team_id="T_TX")
        runner.defer_in(uow.session, "look_up", {"team": "T_TX"})
        assert runner.idle()  # other connections see neither the row nor the job yet
        uow.commit()
    _work(runner)
    assert found == [True]


@pytest.mark.postgres
def test_a_job_deferred_in_a_rolled_back_transaction_never_exists(runner, engine):
    seen = []
    runner.register("record", seen.append)
    with UnitOfWork(session_factory(engine)) as uow:
        uow.orgs.ensure(slack_team_id="T_GONE")
        runner.defer_in(uow.session, "record", {"team": "T_GONE"})
    _work(runner)
    with engine.connect() as conn:
        orgs = conn.execute(text("SELECT count(*) FROM org")).scalar_one()
    assert (seen, orgs, _statuses(engine, "record")) == ([], 0, [])


@pytest.mark.postgres
def test_a_failing_job_is_kept_as_failed_and_the_worker_goes_on(runner, engine):
    seen = []
    runner.register("boom", lambda _p: 1 / 0)
    runner.register("record", seen.append)
    runner.defer("boom", {})
    runner.defer("record", {"n": 1})
    _work(runner)
    assert seen == [{"n": 1}]
    # Successful jobs are deleted (their payloads hold what people wrote); failed ones stay.
    assert (_statuses(engine, "boom"), _statuses(engine, "record")) == (["failed"], [])


@pytest.mark.postgres
def test_a_worker_runs_as_many_jobs_at_once_as_its_concurrency(runner, engine):
    together = threading.Barrier(12, timeout=20)  # every job waits until all twelve run
    runner.register("meet", lambda _p: together.wait())
    for n in range(12):
        runner.defer("meet", {"n": n})
    runner.run_worker(concurrency=12, name="test", wait=False)
    assert _statuses(engine, "meet") == []  # all succeeded: none was left waiting for a thread


@pytest.mark.postgres
def test_an_unknown_task_is_refused_before_anything_is_queued(runner):
    with pytest.raises(KeyError, match="nope"):
        runner.defer("nope", {})
    assert runner.idle()


@pytest.mark.postgres
def test_the_job_schema_is_applied_once_and_stamped_with_its_version(jobs_url, engine):
    assert apply_job_schema(jobs_url) is False  # job_database() applied it
    with engine.connect() as conn:
        assert job_schema_version(conn) == version("procrastinate")


def test_there_is_no_job_schema_on_sqlite(tmp_path):
    assert apply_job_schema(f"sqlite:///{tmp_path / 'x.db'}") is False


@pytest.mark.postgres
def test_countersign_migrate_applies_the_job_schema(pg_url, monkeypatch, tmp_path, capsys):
    with job_database(job_schema=False) as url:
        engine = make_engine(url)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["migrate"]) == 0
        assert main(["migrate"]) == 0
        with engine.connect() as conn:
            applied = job_schema_version(conn)
        engine.dispose()
    assert capsys.readouterr().out.count("job engine schema applied") == 1
    assert applied == version("procrastinate")


def test_the_engine_follows_the_database():
    postgres, sqlite = "postgresql+psycopg://u@h/db", "sqlite:///x.db"
    assert JobSettings().engine_for(postgres) == "procrastinate"
    assert JobSettings().engine_for(sqlite) == "inprocess"
    assert JobSettings(engine="inprocess").engine_for(postgres) == "inprocess"
    with pytest.raises(SettingsError, match="COUNTERSIGN_JOBS=procrastinate needs"):
        JobSettings(engine="procrastinate").engine_for(sqlite)


def test_a_worker_may_not_be_taken_for_dead_between_two_heartbeats(monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_JOBS_HEARTBEAT_SECONDS", "10")
    monkeypatch.setenv("COUNTERSIGN_JOBS_STALLED_SECONDS", "20")
    with pytest.raises(ValueError, match="COUNTERSIGN_JOBS_STALLED_SECONDS"):
        JobSettings()


def test_countersign_worker_refuses_embedded_mode(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    assert main(["worker"]) == 2
    assert "set DATABASE_URL to PostgreSQL" in capsys.readouterr().err


@pytest.mark.postgres
def test_countersign_worker_needs_the_job_schema(pg_url, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", pg_url)  # migrated by Alembic, no job schema
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    assert main(["worker"]) == 2
    assert "run `countersign migrate`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seconds", "cron"),
    [
        (2, "* * * * * */2"),
        (60, "*/1 * * * *"),
        (300, "*/5 * * * *"),
        (300.0, "*/5 * * * *"),
        (3600, "0 */1 * * *"),
        (86400, "0 */24 * * *"),
    ],
)
def test_periods_follow_the_clock(seconds, cron):
    assert cron_for(seconds) == cron


@pytest.mark.parametrize("seconds", [0, 7, 90, 1.5, 5000, 2 * 86400])
def test_a_period_that_does_not_divide_the_clock_is_refused(seconds):
    with pytest.raises(ValueError, match="must divide a minute, an hour or a day"):
        cron_for(seconds)
