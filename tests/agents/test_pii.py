"""PII redaction: what is found and what is left alone, the vault's round trip through the LLM
port (a recording fake, then the real SDK against the scripted Anthropic fake inside a real
Assistant run), and the log filter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import pytest
from anthropic.types import Message
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from agents.assistant import Assistant
from agents.llm.anthropic_llm import AnthropicLLM
from agents.llm.port import LLMRequest
from agents.metering import Meter, PriceCatalog
from agents.privacy import (
    PatternError,
    PrivacySettings,
    RedactingLLM,
    Redactor,
    Vault,
    install_log_redaction,
)
from agents.settings import AgentSettings
from bot.emulator.mailbox import Mailbox
from storage.models import Customer, Draft
from storage.uow import UnitOfWork
from tests.agents.injection_helpers import INGRID, TEAM, World, ask, draft_service, seed_org
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply

REDACTOR = Redactor()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ingrid@halvorsen-marine.no", "EMAIL"),
        ("Fiona.Reid+sales@kestrel-offshore.co.uk", "EMAIL"),
        ("+47 55 21 40 10", "PHONE"),
        ("+1 (555) 123-4567", "PHONE"),
        ("+4791234567", "PHONE"),
        ("(555) 123-4567", "PHONE"),
        ("555-123-4567", "PHONE"),
        ("020 7946 0958", "PHONE"),
        ("06 12 34 56 78", "PHONE"),
        ("030 12345678", "PHONE"),
        ("0047 912 34 567", "PHONE"),
        ("4111 1111 1111 1111", "CARD"),
        ("5500-0000-0000-0004", "CARD"),
        ("378282246310005", "CARD"),  # Amex, 15 digits
    ],
)
def test_each_kind_is_replaced_by_its_placeholder(text: str, kind: str) -> None:
    redacted = REDACTOR.redact(f"Reach them at {text}, thanks.", Vault())
    assert redacted == f"Reach them at <{kind}_1>, thanks."


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112",  # 16 digits, fails Luhn: an order number, not a card
        "ref 1234 5678 1234 5678",
        "2024-03-15",
        "2024-03-15T10:30:00Z",
        "15.03.2024 10:30",
        "01.02.2024",
        "03-15-2024",
        "15/03/2024",
        "$1,234.56",
        "1.234,00 EUR",
        "14.5k per unit, 4 x 12",
        "INV-24040",
        "ORD-2024-0001",
        "version 1.2.3",
        "thread 1712345678.123456",
        "@ midnight",
        "customer id 12345678",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert REDACTOR.redact(text, Vault()) == text


def test_one_value_keeps_one_placeholder_and_restores_to_the_first_spelling() -> None:
    vault = Vault()
    first = REDACTOR.redact("Mail ingrid@halvorsen-marine.no or call +47 55 21 40 10", vault)
    second = REDACTOR.redact("Ingrid@Halvorsen-Marine.no again, tomas@halvorsen-marine.no", vault)
    assert first == "Mail <EMAIL_1> or call <PHONE_1>"
    assert second == "<EMAIL_1> again, <EMAIL_2>"
    assert vault.restore("to <EMAIL_1>, cc <EMAIL_2>, <PHONE_1>, <EMAIL_9>") == (
        "to ingrid@halvorsen-marine.no, cc tomas@halvorsen-marine.no, +47 55 21 40 10, <EMAIL_9>"
    )


def test_placeholders_already_in_the_text_are_not_redacted_again() -> None:
    redactor = Redactor.with_patterns({"number": r"\d+"})
    vault = Vault()
    assert redactor.redact("<EMAIL_1> and 42", vault) == "<EMAIL_1> and <NUMBER_1>"


def test_configured_patterns_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "COUNTERSIGN_PII_PATTERNS", json.dumps({"employee_id": r"EMP-\d{6}", "iban": r"NO\d{13}"})
    )
    redactor = PrivacySettings().redactor()
    assert (
        redactor.scrub("EMP-123456 paid from NO9386011117947")
        == "<EMPLOYEE_ID_1> paid from <IBAN_1>"
    )


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({"broken": "EMP-(\\d"}, "'broken' is not a valid regex"),
        ({"email": "x"}, "'email' is built in already"),
        ({"1st": "x"}, "must start with a letter"),
        ({"anything": ".*"}, "matches the empty string"),
    ],
)
def test_a_bad_configured_pattern_is_named(patterns: dict[str, str], message: str) -> None:
    with pytest.raises(PatternError, match=message):
        Redactor.with_patterns(patterns)
    with pytest.raises(ValidationError, match=message):
        PrivacySettings(patterns=patterns)


def test_switched_off_there_is_no_model_redactor() -> None:
    assert PrivacySettings(redaction=False).model_redactor() is None
    assert PrivacySettings().model_redactor() is not None


# --- the LLM port ---------------------------------------------------------------------------


class RecordingLLM:
    """A port implementation that keeps each request and answers with a scripted message."""

    def __init__(self, *replies: list[dict[str, Any]], offline: bool = False) -> None:
        self.replies = list(replies)
        self.requests: list[LLMRequest] = []
        self.offline = offline

    def create(self, request: LLMRequest) -> Message:
        self.requests.append(request)
        content = self.replies.pop(0)
        return Message.model_validate(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": request.model,
                "content": content,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )


def _request(messages: list[dict[str, Any]], system: str = "You help Maya.") -> LLMRequest:
    return LLMRequest(agent="drafting", model="m", system=system, messages=messages, max_tokens=9)


def _wire(request: LLMRequest) -> str:
    return json.dumps({"system": request.system, "messages": request.messages})


TRANSCRIPT: list[dict[str, Any]] = [
    {"role": "user", "content": "Write to ingrid@halvorsen-marine.no, card 4111 1111 1111 1111"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking up ingrid@halvorsen-marine.no"},
            {
                "type": "tool_use",
                "id": "t1",
                "name": "lookup",
                "input": {"to": ["+47 55 21 40 10"]},
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": '{"phone": "+47 55 21 40 10"}'},
            {
                "type": "tool_result",
                "tool_use_id": "t2",
                "content": [{"type": "text", "text": "tomas.berg@halvorsen-marine.no"}],
            },
        ],
    },
]


def test_the_model_sees_placeholders_everywhere_and_the_caller_gets_real_values_back() -> None:
    reply = [
        {"type": "text", "text": "Drafting for <EMAIL_1>, cc <EMAIL_2>."},
        {
            "type": "tool_use",
            "id": "t3",
            "name": "send_email_draft",
            "input": {"to": "<EMAIL_1>", "lines": [{"body": "call <PHONE_1>"}]},
        },
    ]
    inner = RecordingLLM(reply)
    llm = RedactingLLM(inner, REDACTOR)
    message = llm.create(_request(TRANSCRIPT, system="Rep phone: 020 7946 0958"))
    sent = _wire(inner.requests[0])
    for value in ("ingrid@", "tomas.berg@", "55 21 40 10", "4111", "7946"):
        assert value not in sent
    assert inner.requests[0].system == "Rep phone: <PHONE_1>"
    assert inner.requests[0].messages[0]["content"] == "Write to <EMAIL_1>, card <CARD_1>"
    assert message.content[0].text == (  # type: ignore[union-attr]
        "Drafting for ingrid@halvorsen-marine.no, cc tomas.berg@halvorsen-marine.no."
    )
    assert message.content[1].input == {  # type: ignore[union-attr]
        "to": "ingrid@halvorsen-marine.no",
        "lines": [{"body": "call 020 7946 0958"}],
    }
    assert TRANSCRIPT[0]["content"].startswith("Write to ingrid@")  # the caller's copy is untouched


def test_the_next_call_of_the_run_uses_the_same_placeholders() -> None:
    inner = RecordingLLM([{"type": "text", "text": "ok"}], [{"type": "text", "text": "ok"}])
    llm = RedactingLLM(inner, REDACTOR)
    llm.create(_request([{"role": "user", "content": "tomas.berg@halvorsen-marine.no"}]))
    llm.create(_request(TRANSCRIPT))
    assert inner.requests[1].messages[0]["content"].startswith("Write to <EMAIL_2>")
    assert inner.requests[1].messages[2]["content"][1]["content"][0]["text"] == "<EMAIL_1>"


def test_an_offline_adapter_reads_the_real_text_and_the_flag_passes_through() -> None:
    inner = RecordingLLM([{"type": "text", "text": "ok"}], offline=True)
    llm = RedactingLLM(inner, REDACTOR)
    assert llm.offline is True
    llm.create(_request(TRANSCRIPT))
    assert inner.requests[0].messages is TRANSCRIPT


# --- a real run: SDK → scripted Anthropic fake; the gated tool gets the real address --------

NOW = datetime(2030, 4, 2, 9, 0, tzinfo=UTC)
QUESTION = (
    "Draft an email to ingrid@halvorsen-marine.no at Halvorsen Marine about the pump service; "
    "tell her I am on +1 (555) 123-4567"
)
PII = ("ingrid@", "tomas.berg@", "halvorsen-marine.no", "55 21 40", "123-4567")


def _no_pii(body: dict[str, Any]) -> None:
    wire = json.dumps({"system": body.get("system"), "messages": body["messages"]})
    leaked = [value for value in PII if value in wire]
    assert not leaked, f"the model was sent {leaked}"


@pytest.fixture
def world(sqlite_factory: Any) -> World:
    seed_org(sqlite_factory, now=NOW)
    with UnitOfWork(sqlite_factory) as uow:
        org = uow.orgs.by_team(TEAM)
        assert org is not None
        halvorsen = uow.session.scalars(
            select(Customer).where(Customer.org_id == org.id, Customer.name == "Halvorsen Marine")
        ).one()
        return World(sqlite_factory, org.id, halvorsen.id, 0, NOW)


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as fake:
        yield fake


def _redacting_assistant(world: World, api: FakeAnthropicAPI, mailbox: Mailbox) -> Assistant:
    client = anthropic.Anthropic(api_key="test-key", base_url=api.base_url, max_retries=0)
    settings = AgentSettings(anthropic_api_key=SecretStr("test-key"), max_retries=0)
    return Assistant(
        factory=world.factory,
        llm=AnthropicLLM(client),
        redactor=REDACTOR,  # the Assistant puts each run's model behind RedactingLLM
        meter=Meter(factory=world.factory, catalog=PriceCatalog.load(), clock=lambda: NOW),
        settings=settings,
        drafts=draft_service(world, mailbox),
        clock=lambda: NOW + timedelta(seconds=1),
    )


def test_a_drafting_run_never_shows_the_model_pii_and_the_draft_holds_the_real_address(
    world: World, api: FakeAnthropicAPI
) -> None:
    email = {
        "customer_id": world.customer_id,
        "to": "<EMAIL_1>",
        "subject": "Pump service",
        "body": "Hi Ingrid, reach me on <PHONE_1>. Best, Maya",
    }
    api.script(
        Reply(
            [
                {
                    "type": "tool_use",
                    "name": "get_customer_context",
                    "input": {"customer_id": world.customer_id},
                }
            ],
            expect=_no_pii,
        ),
        Reply([{"type": "tool_use", "name": "send_email_draft", "input": email}], expect=_no_pii),
    )
    with Mailbox() as mailbox:
        answer = ask(_redacting_assistant(world, api, mailbox), QUESTION)
    assert len(answer.draft_ids) == 1
    contact_results = json.dumps(api.message_requests[1]["messages"][-1])
    assert "<EMAIL_1>" in contact_results and "<EMAIL_2>" in contact_results  # contacts, hidden
    with UnitOfWork(world.factory) as uow:
        draft = uow.session.get(Draft, answer.draft_ids[0])
        assert draft is not None
        assert draft.payload["to_address"] == INGRID
        assert draft.payload["body"] == "Hi Ingrid, reach me on +1 (555) 123-4567. Best, Maya"


# --- logs -----------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    parent = logging.getLogger("test_pii_parent")
    parent.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    yield parent, stream
    parent.removeHandler(handler)


def test_log_records_from_child_loggers_are_redacted_on_the_handler(captured: Any) -> None:
    parent, stream = captured
    install_log_redaction(REDACTOR, parent)
    install_log_redaction(REDACTOR, parent)  # installing twice adds one filter
    assert len(parent.handlers[0].filters) == 1
    child = parent.getChild("jobs")
    child.info("sent to %s (%s)", "ingrid@halvorsen-marine.no", {"phone": "+47 55 21 40 10"})
    try:
        raise ValueError("refused recipient tomas.berg@halvorsen-marine.no")
    except ValueError:
        child.exception("sending failed for card %d", 4111111111111111)
    child.info("bad args %s %s", "only one")
    output = stream.getvalue()
    assert "sent to <EMAIL_1> ({'phone': '<PHONE_1>'})" in output
    assert "ValueError: refused recipient <EMAIL_1>" in output
    assert "sending failed for card <CARD_1>" in output
    assert "bad args %s %s ('only one',)" in output
    for value in PII + ("4111",):
        assert value not in output
