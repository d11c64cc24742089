from collections.abc import Iterator

import pytest

from bot.emulator.mailbox import Mailbox
from tests.agents.drafts_fixtures import Desk, make_desk


@pytest.fixture
def outbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that keeps what it accepts."""
    with Mailbox() as box:
        yield box


@pytest.fixture
def desk(any_factory, outbox) -> Desk:
    """The seeded demo org and its DraftService, on SQLite and on PostgreSQL."""
    return make_desk(any_factory, outbox)
