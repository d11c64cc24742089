"""The in-process WSGI front, shared by the fuzz and the front's regression tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.failure.wsgi_front import Front, served_front


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    with served_front(tmp_path_factory.mktemp("front")) as front:
        yield front


@pytest.fixture
def front(served: Front) -> Front:
    """The module's front, with nothing queued and no errors or statuses recorded yet."""
    return served.reset()
