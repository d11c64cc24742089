"""11,000 generated requests at the real WSGI front, in-process: never an exception out of
it, never a 5xx; a bad signature is a 401 and a body that cannot be parsed, or has not Slack's
shape, a 400. The jobs they queue run on the in-process runner against the Slack emulator, and
none may fail. Examples are derandomized: every run sends the same requests.

Slack-shaped payloads (every field Slack always sends, of its type; random values) reach the
listeners and jobs; mangled ones (any field missing or of another type) must stop at the
front. What the fuzz found is in tests/failure/test_fuzz_findings.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.failure.fuzz_payloads import Shapes, form, interaction_form
from tests.failure.wsgi_front import FORM, JSON, Front, sign_request

content_types = st.sampled_from([JSON, FORM, "text/plain", "", "application/json; charset=x"])


def fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def test_any_body_is_401_400_or_handled_never_a_crash(front: Front) -> None:
    @fuzz(1_500)
    @given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), kind=content_types)
    def one(body: bytes, kind: str) -> None:
        status = front.signed(body, kind)
        assert status < 500
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            assert status == 401  # Slack signs only UTF-8: this one cannot be from Slack
            return
        if kind.startswith(JSON) and not text.lstrip().startswith("{"):
            assert status == 400

    one()
    front.settle(sent=1_500)


def test_random_form_fields_are_400_or_handled(front: Front) -> None:
    @fuzz(1_000)
    @given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=5))
    def one(fields: dict[str, str]) -> None:
        assert front.signed(form(fields), FORM) < 500

    one()
    front.settle(sent=1_000)


BAD_SIGNATURES: dict[str, Callable[[bytes, str], dict[str, str]]] = {
    "none": lambda _body, _secret: {},
    "garbage": lambda _body, _secret: {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "other secret": lambda body, _secret: sign_request(body, "not-the-signing-secret"),
    "stale": lambda body, secret: sign_request(body, secret, timestamp=int(time.time()) - 600),
    "other body": lambda body, secret: sign_request(body + b" ", secret),
}


def test_a_bad_signature_is_always_401(front: Front) -> None:
    shapes = Shapes(front.response_url, mangle=True)

    @fuzz(1_000)
    @given(
        body=shapes.envelopes().map(lambda e: json.dumps(e).encode())
        | st.text(max_size=200).map(str.encode),
        kind=content_types,
        how=st.sampled_from(list(BAD_SIGNATURES)),
    )
    def one(body: bytes, kind: str, how: str) -> None:
        assert front.post(body, kind, BAD_SIGNATURES[how](body, front.secret)) == 401

    one()
    front.settle(sent=1_000)


def test_slack_shaped_events_never_fail(front: Front) -> None:
    @fuzz(2_500)
    @given(Shapes(front.response_url, mangle=False).envelopes())
    def one(envelope: dict[str, Any]) -> None:
        status = front.signed(json.dumps(envelope).encode(), JSON)
        assert status < 500
        if envelope["type"] == "url_verification":
            assert status == 200

    one()
    front.settle(sent=2_500)


def test_slack_shaped_slash_commands_never_fail(front: Front) -> None:
    @fuzz(1_500)
    @given(Shapes(front.response_url, mangle=False).commands())
    def one(command: dict[str, str]) -> None:
        assert front.signed(form(command), FORM) < 500

    one()
    front.settle(sent=1_500)


def test_slack_shaped_interactivity_never_fails(front: Front) -> None:
    @fuzz(2_500)
    @given(Shapes(front.response_url, mangle=False).interactions())
    def one(payload: dict[str, Any]) -> None:
        assert front.signed(interaction_form(payload), FORM) < 500

    one()
    front.settle(sent=2_500)


def test_unsigned_non_utf8_and_mangled_requests_are_refused_cleanly(front: Front) -> None:
    shapes = Shapes(front.response_url, mangle=True)
    signed = (
        shapes.envelopes().map(lambda e: (json.dumps(e).encode(), JSON))
        | shapes.commands().map(lambda c: (form(c), FORM))
        | shapes.interactions().map(lambda p: (interaction_form(p), FORM))
        | st.tuples(st.binary(max_size=100), content_types)
    )

    @fuzz(1_000)
    @given(body=signed, sign=st.booleans())
    def one(body: tuple[bytes, str], sign: bool) -> None:
        if sign:
            assert front.signed(*body) < 500
        else:
            assert front.post(*body, {}) == 401

    one()
    front.settle(sent=1_000)
