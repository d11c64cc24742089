"""The session-wide log check (tests/conftest.py) really fails a test that logs a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).parents[1] / "conftest.py"

LEAKY_TESTS = """
import logging

from pydantic import SecretStr

log = logging.getLogger("leaky")


def test_logs_a_revealed_secret_at_debug():
    key = SecretStr("signing-secret-0123456789")
    log.debug("verifying with %s", key.get_secret_value())


def test_logs_a_token_shaped_string_inside_a_traceback():
    try:
        raise RuntimeError("auth failed for xoxb-1234-5678-abcdef")
    except RuntimeError:
        log.exception("call failed")


def test_logs_only_the_secret_str_object():
    log.warning("settings: %s", SecretStr("signing-secret-0123456789"))
"""


def test_a_logged_secret_fails_the_test_that_logged_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    # In a subprocess: the leaks are logged there, not in this test's own records.
    # -rN: no short summary (its lines are cut to the terminal locally, but not under CI=true)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rN")
    result.assert_outcomes(passed=3, errors=2)
    output = result.stdout.str()
    assert "teardown of test_logs_a_revealed_secret_at_debug" in output
    assert "teardown of test_logs_a_token_shaped_string_inside_a_traceback" in output
    assert output.count("a log record holds a secret") == 2
    assert "test_logs_only_the_secret_str_object" not in output  # "**********" is fine
