"""The ledger writer's pool has no pre-ping: a connection the server dropped must cost a
retry, never a lost ledger row or a failed answer."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agents.metering import Meter, PriceCatalog
from storage.db import make_engine, session_factory
from tests.agents.metering_fixtures import (
    NOW,
    InstantModel,
    attribution,
    ledger_spend,
    make_world,
    request,
)


@pytest.mark.postgres
def test_a_dropped_ledger_connection_is_retried_and_the_row_kept(pg_url, pg_factory):
    world = make_world(pg_factory)
    ledger_engine = make_engine(pg_url, pre_ping=False)
    meter = Meter(
        factory=world.factory,
        ledger_factory=session_factory(ledger_engine),
        catalog=PriceCatalog.load(),
        clock=lambda: NOW,
    )
    llm = meter.bind(InstantModel(), attribution(world))
    try:
        llm.create(request())  # the pool now holds one idle connection
        with ledger_engine.connect() as conn:
            pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar_one()]
        with world.factory() as session:  # the server drops it, as on a restart
            for pid in pids:
                session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        llm.create(request())
    finally:
        ledger_engine.dispose()
    assert ledger_spend(world) == (2, 2 * (500 * 2 + 100 * 10))
