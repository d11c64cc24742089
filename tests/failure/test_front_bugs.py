"""What the fuzz found at the HTTP front, one request each. Each is a strict xfail until its fix
lands in code another engineer owns right now (bot/signing.py, bot/http.py, bot/listeners/);
the reason names the fix. A request "raising" here means waitress answers 500 with a traceback
in its log; a 500 from the app's error handler makes Slack retry (and shows the user an error).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.failure.fuzz_payloads import form, interaction_form
from tests.failure.wsgi_front import FORM, JSON, Front

SIGNATURE_FIX = (
    "bot/signing.py SigningSecrets.valid hands slack_sdk's SignatureVerifier headers and "
    "bytes it does not guard: int('') on a missing timestamp, body.decode('utf-8') on a "
    "non-UTF-8 body. Return False unless the timestamp header is all digits and the body "
    "decodes as UTF-8 (Slack signs only UTF-8), so these are 401s."
)
SHAPE_FIX = (
    "bot/http.py malformed() checks that a body parses, not that it has Slack's shape; "
    "Bolt's own middleware and our listeners then index fields that are missing or of "
    "another type. Validate the envelope, slash-command form and interactivity payload "
    "(the fields Slack always sends, with their types) there and answer 400."
)
STALE_VALUE_FIX = (
    "bot/listeners/drafts.py (also feedback.py, suggestions.py) parse a button's value with "
    "model_validate_json and let ValidationError become a 500 (Slack retries it, the click "
    "shows an error). A card from an older release carries an older value: ack() and tell "
    "the clicker the card is out of date."
)


def _envelope(event: Any, **fields: Any) -> bytes:
    body = {
        "type": "event_callback",
        "team_id": "T_DEMO",
        "api_app_id": "A_COUNTERSIGN",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event": event,
    }
    return json.dumps(body | fields).encode()


def _click(**fields: Any) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": "T_DEMO"},
        "user": {"id": "U_REP1", "team_id": "T_DEMO"},
        "trigger_id": f"1.2.{time.monotonic_ns()}",
        "container": {"type": "message"},
        "channel": {"id": "C_SALES"},
    }
    return interaction_form(payload | fields)


MENTION = {"type": "app_mention", "user": "U_REP1", "channel": "C_SALES", "text": "hi"}


@pytest.mark.xfail(strict=True, raises=ValueError, reason=SIGNATURE_FIX)
def test_a_request_without_signature_headers_is_401(front: Front) -> None:
    assert front.post(b'{"type": "event_callback"}', JSON, {}) == 401


@pytest.mark.xfail(strict=True, raises=UnicodeDecodeError, reason=SIGNATURE_FIX)
def test_a_non_utf8_body_is_401(front: Front) -> None:
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"}
    assert front.post(b"\x80", JSON, headers) == 401


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SHAPE_FIX)
def test_an_event_that_is_not_an_object_is_400(front: Front) -> None:
    assert front.signed(_envelope([]), JSON) == 400  # today: 500 (Bolt: list has no .get)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SHAPE_FIX)
def test_a_mention_without_its_ts_is_400(front: Front) -> None:
    assert front.signed(_envelope(MENTION), JSON) == 400  # today: 500 (KeyError 'ts')


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SHAPE_FIX)
def test_app_home_opened_without_a_user_is_400(front: Front) -> None:
    event = {"type": "app_home_opened", "tab": "home", "channel": "D1"}
    assert front.signed(_envelope(event), JSON) == 400  # today: 500 (KeyError 'user')


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SHAPE_FIX)
def test_a_team_id_that_is_not_a_string_is_400_and_reaches_no_job(front: Front) -> None:
    status = front.signed(_envelope(MENTION | {"ts": "1.1"}, team_id={}), JSON)
    front.stack.wait_idle()
    assert (status, front.errors.seen) == (400, [])  # today: 200, then the job's SQL fails


@pytest.mark.xfail(strict=True, raises=IndexError, reason=SHAPE_FIX)
def test_block_actions_without_actions_is_400(front: Front) -> None:
    assert front.signed(_click(actions=[]), FORM) == 400


@pytest.mark.xfail(strict=True, raises=KeyError, reason=SHAPE_FIX)
def test_a_view_submission_without_the_view_type_is_400(front: Front) -> None:
    payload = {
        "type": "view_submission",
        "team": {"id": "T_DEMO"},
        "user": {"id": "U_REP1"},
        "view": {"id": "V1", "callback_id": "draft_edit_modal"},
    }
    assert front.signed(interaction_form(payload), FORM) == 400


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=SHAPE_FIX)
def test_a_slash_command_without_its_ids_is_400(front: Front) -> None:
    assert front.signed(form({"command": "/ai", "text": "hi"}), FORM) == 400  # today: 500


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=STALE_VALUE_FIX)
def test_a_draft_button_from_an_older_card_is_answered_not_a_500(front: Front) -> None:
    button = {"action_id": "draft_approve", "block_id": "b", "type": "button", "value": "42"}
    assert front.signed(_click(actions=[button]), FORM) == 200
