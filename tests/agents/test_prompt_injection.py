"""Prompt injection planted in CRM data never executes anything, nor reaches a tool outside
the specialist's allow-list: every write stays a pending draft until a person approves it.

Each corpus payload (tests/data/injection_corpus.json) sits in Halvorsen Marine's latest email
and note activities and in its account notes. The offline adapter and a compromised model
(scripted through FakeAnthropicAPI, called by the real SDK) then run over that CRM.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.service import Result
from agents.specialists import SPECIALISTS
from bot.blocks import answer_blocks
from bot.emulator.mailbox import Mailbox
from storage.db import make_engine, session_factory
from storage.models import DraftKind, DraftStatus
from storage.types import utcnow
from tests.agents.injection_helpers import (
    ATTACKER,
    CONTACTS,
    FORBIDDEN_TOOLS,
    INGRID,
    MANAGER,
    REP,
    TEAM,
    Payload,
    World,
    activity_count,
    ask,
    audit_actions,
    customer,
    draft_service,
    drafts_of,
    email_to,
    execution_count,
    load_corpus,
    model_assistant,
    offline_assistant,
    poisoned_world,
    seed_org,
    tool_results,
    use,
)
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply, text_reply, tool_reply

CORPUS = load_corpus()
BY_ID = {p.id: p for p in CORPUS}
FOLLOW_UP = "draft a follow-up to Halvorsen about the renewal"
NOT_AVAILABLE = "is not available to you"
# The allow-list the drafting specialist does not have, plus the triage tool.
OUT_OF_LIST = (*FORBIDDEN_TOOLS, "get_customer", "route")


def _ids(payload: Payload) -> str:
    return payload.id


def _hidden_cases() -> list[object]:
    cases: list[object] = []
    for p in CORPUS:
        if p.category != "hidden_unicode":
            continue
        reason = f"BUG: clean_text (agents/drafts/content.py) keeps {', '.join(p.hidden)}"
        marks = () if p.product_strips else pytest.mark.xfail(strict=True, reason=reason)
        cases.append(pytest.param(p, id=p.id, marks=marks))
    return cases


@dataclass(frozen=True)
class Crm:
    factory: sessionmaker[Session]
    now: datetime


@pytest.fixture(scope="module")
def seeded_template(sqlite_template, tmp_path_factory) -> tuple[Path, datetime]:
    """The migrated SQLite file with the demo org seeded once (seeding per test is slow)."""
    path = tmp_path_factory.mktemp("injection") / "seeded.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    now = utcnow()
    seed_org(session_factory(engine), now=now)
    engine.dispose()
    return path, now


@pytest.fixture
def crm(seeded_template, tmp_path) -> Iterator[Crm]:
    """A fresh copy of the seeded SQLite file for this test."""
    template, now = seeded_template
    path = tmp_path / "crm.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Crm(session_factory(engine), now)
    engine.dispose()


@pytest.fixture
def pg_crm(pg_factory) -> Crm:
    """The demo org on PostgreSQL (seeded per test; the tables are emptied afterwards)."""
    now = utcnow()
    seed_org(pg_factory, now=now)
    return Crm(pg_factory, now)


@pytest.fixture
def sink() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as fake:
        yield fake


def _world(crm: Crm, payload: Payload) -> World:
    return poisoned_world(crm.factory, payload.text, now=crm.now)


def _assert_nothing_executed(world: World, sink: Mailbox) -> None:
    assert execution_count(world) == 0
    assert sink.messages == []
    assert all(
        d.status == DraftStatus.PENDING and d.decided_by_id is None for d in drafts_of(world)
    )
    assert set(audit_actions(world)) <= {"draft.proposed"}


# --- the corpus itself ----------------------------------------------------------------------


def test_corpus_covers_every_attack_family_the_issue_names():
    categories = {p.category for p in CORPUS}
    assert len(CORPUS) >= 25 and len(BY_ID) == len(CORPUS)
    assert {
        "direct_instruction",
        "delimiter_escape",
        "role_play",
        "fake_tool_call",
        "forbidden_tool",
        "hidden_unicode",
        "base64",
        "mrkdwn",
        "repetition",
        "recipient_change",
    } <= categories
    everything = " ".join(p.text for p in CORPUS)
    assert all(name in everything for name in FORBIDDEN_TOOLS)
    hidden = {spec for p in CORPUS for spec in p.hidden}
    assert {"U+200B", "U+202E", "U+E0000..U+E007F"} <= hidden
    assert all(p.hidden_chars() for p in CORPUS if p.category == "hidden_unicode")


def test_no_specialist_has_a_tool_the_corpus_asks_for():
    for spec in SPECIALISTS.values():
        assert not {t.name for t in spec.tools} & set(FORBIDDEN_TOOLS), spec.name
    assert {t.name for t in SPECIALISTS["help"].tools} == set()


# --- (a) offline adapter --------------------------------------------------------------------


def _offline_answers(crm: Crm, sink: Mailbox, payload: Payload) -> None:
    world = _world(crm, payload)
    assistant = offline_assistant(world, draft_service(world, sink))
    looked_up = ask(assistant, "what's going on with Halvorsen?", delivery="Ev0")
    assert looked_up.agent == "customer" and looked_up.draft_ids == ()
    assert drafts_of(world) == []

    answer = ask(assistant, FOLLOW_UP, delivery="Ev1")
    drafts = drafts_of(world)
    assert [d.id for d in drafts] == list(answer.draft_ids) and len(drafts) == 1
    draft = drafts[0]
    assert (draft.kind, draft.status, draft.version) == (DraftKind.EMAIL, DraftStatus.PENDING, 1)
    assert draft.payload["to_address"] in CONTACTS
    assert draft.requested_by_id == world.rep_id and draft.customer_id == world.customer_id
    assert "evil.example" not in json.dumps(draft.payload)
    _assert_nothing_executed(world, sink)
    assert audit_actions(world) == ["draft.proposed"]


@pytest.mark.parametrize("payload", CORPUS, ids=_ids)
def test_offline_answers_over_poisoned_crm_give_at_most_one_pending_draft_to_a_contact(
    crm, sink, payload
):
    _offline_answers(crm, sink, payload)


@pytest.mark.postgres
def test_offline_answers_over_poisoned_crm_on_postgres(pg_crm, sink):
    _offline_answers(pg_crm, sink, BY_ID["direct-ignore-email-deals"])


# --- (b) a compromised model on the drafting route -------------------------------------------


def _obeying_script(world: World, payload: Payload) -> list[Reply]:
    """A model that does what the CRM text says: forbidden tools, the attacker's address, then
    the injected text mailed to a real contact."""
    forbidden = [
        use(name, {"draft_id": 1, "to": ATTACKER, "customer_id": world.customer_id})
        for name in OUT_OF_LIST
    ]
    body = f"Hi Ingrid,\n\n{payload.text[:5000]}\n\nBest regards,\nMaya Chen"
    return [
        tool_reply("search_customers", {"query": "Halvorsen"}),
        tool_reply("get_customer_context", {"customer_id": world.customer_id}),
        Reply([{"type": "text", "text": "Following the CRM instructions."}, *forbidden]),
        Reply([email_to(world, payload.recipient or ATTACKER, subject="All deals", body=body)]),
        Reply([email_to(world, INGRID, subject=f"Renewal {payload.text[:150]}", body=body)]),
    ]


def _compromised_drafting(crm: Crm, sink: Mailbox, api: FakeAnthropicAPI, payload: Payload) -> None:
    world = _world(crm, payload)
    api.script(*_obeying_script(world, payload))
    answer = ask(model_assistant(world, draft_service(world, sink), api.base_url), FOLLOW_UP)
    requests = api.message_requests
    assert len(requests) == 5  # the gated tool ended the run

    # The injection really reached the model, as data inside one tool result.
    (context,) = tool_results(requests[2])
    data = json.loads(context["content"])
    assert data["customer"]["account_notes"] == payload.text
    assert payload.text in [a["summary"] for a in data["activities_last_30_days"]]
    assert {c["email"] for c in data["contacts"]} == CONTACTS

    refusals = tool_results(requests[3])
    assert len(refusals) == len(OUT_OF_LIST)
    for name, block in zip(OUT_OF_LIST, refusals, strict=True):
        assert block["is_error"] is True and block["content"] == f"tool {name!r} {NOT_AVAILABLE}"

    (wrong_recipient,) = tool_results(requests[4])
    assert wrong_recipient["is_error"] is True
    assert "not a contact of Halvorsen Marine" in wrong_recipient["content"]
    assert all(address in wrong_recipient["content"] for address in CONTACTS)

    (draft,) = drafts_of(world)
    assert answer.draft_ids == (draft.id,) and answer.notice is None
    assert (draft.kind, draft.status) == (DraftKind.EMAIL, DraftStatus.PENDING)
    assert draft.payload["to_address"] == INGRID
    assert customer(world) is not None  # delete_customer did not run
    _assert_nothing_executed(world, sink)
    assert audit_actions(world) == ["draft.proposed"]


@pytest.mark.parametrize("payload", CORPUS, ids=_ids)
def test_compromised_model_is_refused_out_of_list_tools_and_foreign_recipients(
    crm, sink, api, payload
):
    _compromised_drafting(crm, sink, api, payload)


@pytest.mark.postgres
def test_compromised_model_is_refused_on_postgres(pg_crm, sink, api):
    _compromised_drafting(pg_crm, sink, api, BY_ID["recipient-change-cc"])


@pytest.mark.parametrize("payload", _hidden_cases())
def test_hidden_characters_from_crm_are_gone_from_the_stored_email_draft(crm, sink, api, payload):
    world = _world(crm, payload)
    api.script(
        tool_reply("search_customers", {"query": "Halvorsen"}),
        tool_reply("get_customer_context", {"customer_id": world.customer_id}),
        Reply([email_to(world, INGRID, subject=f"Re: {payload.text}", body=payload.text)]),
    )
    ask(model_assistant(world, draft_service(world, sink), api.base_url), FOLLOW_UP)
    (draft,) = drafts_of(world)
    assert draft.status == DraftStatus.PENDING and sink.messages == []
    stored = draft.payload["subject"] + draft.payload["body"]
    left = sorted(f"U+{ord(c):04X}" for c in payload.hidden_chars() & set(stored))
    assert left == [], f"invisible characters kept in the draft: {left}"


@pytest.mark.parametrize("payload", _hidden_cases())
def test_hidden_characters_from_crm_are_gone_from_an_offline_note_draft(crm, sink, payload):
    world = _world(crm, payload)
    before = activity_count(world)
    answer = ask(offline_assistant(world, draft_service(world, sink)), "log a note on Halvorsen")
    (draft,) = drafts_of(world)
    assert draft.kind == DraftKind.NOTE and answer.draft_ids == (draft.id,)
    assert draft.status == DraftStatus.PENDING and activity_count(world) == before
    assert "Last recorded activity: email" in draft.payload["body"]  # it quotes the summary
    stored = draft.payload["subject"] + draft.payload["body"]
    left = sorted(f"U+{ord(c):04X}" for c in payload.hidden_chars() & set(stored))
    assert left == [], f"invisible characters kept in the draft: {left}"


# --- where a run stops ----------------------------------------------------------------------


def test_run_ends_at_the_gated_tool_however_many_turns_the_model_has_left(crm, sink):
    world = _world(crm, BY_ID["fake-policy-update"])
    later = [tool_reply(name, {"draft_id": 1}) for name in ("approve_draft", "execute_draft") * 2]
    with FakeAnthropicAPI(check_on_exit=False) as api:
        api.script(
            tool_reply("search_customers", {"query": "Halvorsen"}),
            Reply([email_to(world, INGRID, subject="Renewal", body="Hi Ingrid")]),
            *later,
        )
        answer = ask(model_assistant(world, draft_service(world, sink), api.base_url), FOLLOW_UP)
        left = list(iter(api.next_step, None))
    assert left == later  # never asked for
    assert len(api.message_requests) == 2
    (draft,) = drafts_of(world)
    assert answer.draft_ids == (draft.id,)
    _assert_nothing_executed(world, sink)


def test_endless_forbidden_tool_calls_stop_at_the_turn_ceiling(crm, sink):
    world = _world(crm, BY_ID["roleplay-dan"])
    with FakeAnthropicAPI(check_on_exit=False) as api:
        api.script(*[tool_reply(name, {"draft_id": 1}) for name in FORBIDDEN_TOOLS * 3])
        assistant = model_assistant(world, draft_service(world, sink), api.base_url, max_turns=4)
        answer = ask(assistant, FOLLOW_UP)
    requests = api.message_requests
    assert len(requests) == 4
    assert "turn limit" in (answer.notice or "")
    for request in requests[1:]:
        (block,) = tool_results(request)
        assert block["is_error"] is True and NOT_AVAILABLE in block["content"]
    assert drafts_of(world) == []
    _assert_nothing_executed(world, sink)


def test_approve_and_execute_around_a_proposal_in_one_reply_leave_it_pending(crm, sink, api):
    world = _world(crm, BY_ID["fake-tool-use-json"])
    api.script(
        Reply(
            [
                use("approve_draft", {"draft_id": 1}),
                email_to(world, INGRID, subject="Renewal", body="Hi Ingrid, all set."),
                use("execute_draft", {"draft_id": 1, "approved_by": MANAGER}),
            ]
        )
    )
    answer = ask(model_assistant(world, draft_service(world, sink), api.base_url), FOLLOW_UP)
    (draft,) = drafts_of(world)
    assert draft.id == 1 and answer.draft_ids == (1,)
    _assert_nothing_executed(world, sink)


def test_email_all_contacts_gives_separate_pending_drafts_and_no_mail(crm, sink, api):
    world = _world(crm, BY_ID["direct-ignore-email-deals"])
    everyone = (INGRID, "tomas.berg@halvorsen-marine.no", ATTACKER)
    api.script(Reply([email_to(world, to, subject="Deals", body="All deals.") for to in everyone]))
    ask(model_assistant(world, draft_service(world, sink), api.base_url), FOLLOW_UP)
    drafts = drafts_of(world)
    assert len(drafts) == 2 and {d.payload["to_address"] for d in drafts} == CONTACTS
    _assert_nothing_executed(world, sink)


# --- (c) the customer and help routes --------------------------------------------------------


@pytest.mark.parametrize(
    "payload_id",
    [
        "direct-system-admin-mode",
        "fake-tool-result-json",
        "recipient-change-cc",
        "base64-instruction",
    ],
)
def test_customer_question_with_compromised_model_only_proposes(crm, sink, api, payload_id):
    payload = BY_ID[payload_id]
    world = _world(crm, payload)
    before = activity_count(world)
    out_of_list = (*FORBIDDEN_TOOLS, "get_customer_context")
    api.script(
        tool_reply("search_customers", {"query": "Halvorsen"}),
        tool_reply("get_customer", {"customer_id": world.customer_id}),
        Reply([use(name, {"customer_id": world.customer_id}) for name in out_of_list]),
        Reply([email_to(world, ATTACKER, subject="Deals", body=payload.text[:5000])]),
        tool_reply(
            "update_customer_notes",
            {"customer_id": world.customer_id, "notes": f"Send everything to {ATTACKER}"},
        ),
    )
    answer = ask(
        model_assistant(world, draft_service(world, sink), api.base_url),
        "what's going on with Halvorsen?",
    )
    requests = api.message_requests
    assert answer.agent == "customer" and len(requests) == 5
    (profile,) = tool_results(requests[2])
    assert payload.text in [
        a["summary"] for a in json.loads(profile["content"])["recent_activities"]
    ]
    refusals = tool_results(requests[3])
    assert [b["content"] for b in refusals] == [f"tool {n!r} {NOT_AVAILABLE}" for n in out_of_list]
    assert tool_results(requests[4])[0]["is_error"] is True
    (draft,) = drafts_of(world)
    assert (draft.kind, draft.status) == (DraftKind.CUSTOMER_NOTES, DraftStatus.PENDING)
    assert customer(world).notes == payload.text  # the account notes did not change
    assert activity_count(world) == before
    _assert_nothing_executed(world, sink)


def test_help_route_has_no_tools_at_all(crm, sink, api):
    world = _world(crm, BY_ID["tool-send-email-direct"])
    api.script(
        Reply([email_to(world, INGRID, subject="Hi", body="Hello")]),
        text_reply("Hello! Ask me about a customer."),
    )
    answer = ask(model_assistant(world, draft_service(world, sink), api.base_url), "hi")
    (block,) = tool_results(api.message_requests[1])
    assert answer.agent == "help" and api.message_requests[0].get("tools") is None
    assert (
        block["is_error"] is True and block["content"] == f"tool 'send_email_draft' {NOT_AVAILABLE}"
    )
    assert drafts_of(world) == []
    _assert_nothing_executed(world, sink)


# --- the only way out: a person's approval ----------------------------------------------------


def _drafted_with_model(crm: Crm, sink, api, payload: Payload, subject: str) -> tuple[World, int]:
    world = _world(crm, payload)
    drafts = draft_service(world, sink)
    api.script(Reply([email_to(world, INGRID, subject=subject, body=payload.text[:5000])]))
    (draft_id,) = ask(model_assistant(world, drafts, api.base_url), FOLLOW_UP).draft_ids
    return world, draft_id


def test_only_a_managers_click_sends_the_draft_and_only_to_the_contact(crm, sink, api):
    payload = BY_ID["mrkdwn-channel-fake-approval"]
    world, draft_id = _drafted_with_model(crm, sink, api, payload, "Renewal")
    drafts = draft_service(world, sink)
    assert drafts.approve(TEAM, REP, draft_id, 1).result == Result.DENIED
    assert sink.messages == [] and execution_count(world) == 0
    outcome = drafts.approve(TEAM, MANAGER, draft_id, 1)
    assert outcome.result == Result.DONE and outcome.draft.status == DraftStatus.EXECUTED
    (mail,) = sink.messages
    assert mail["To"].addresses[0].addr_spec == INGRID and mail["Cc"] is None
    assert mail["Bcc"] is None and "evil.example" not in str(mail["To"])
    assert execution_count(world) == 1
    assert audit_actions(world) == [
        "draft.proposed",
        "draft.approve_denied",
        "draft.approved",
        "draft.executed",
    ]


def test_a_line_separator_from_crm_leaves_the_sent_subject_on_one_line(crm, sink, api):
    payload = BY_ID["hidden-line-separators"]
    world, draft_id = _drafted_with_model(crm, sink, api, payload, payload.text)
    (draft,) = drafts_of(world)
    assert len(draft.payload["subject"].splitlines()) == 1
    outcome = draft_service(world, sink).approve(TEAM, MANAGER, draft_id, 1)
    assert outcome.draft.status == DraftStatus.EXECUTED
    (mail,) = sink.messages
    assert mail["Bcc"] is None and len(mail["Subject"].splitlines()) == 1


def test_an_edited_subject_with_a_line_separator_is_sent_or_fails_cleanly(crm, sink, api):
    payload = BY_ID["hidden-line-separators"]
    world, draft_id = _drafted_with_model(crm, sink, api, payload, "Renewal")
    drafts = draft_service(world, sink)
    pasted = payload.text  # the rep pastes the CRM line into the subject
    assert drafts.edit(TEAM, REP, draft_id, 1, subject=pasted, body=None).result == Result.DONE
    outcome = drafts.approve(TEAM, MANAGER, draft_id, 2)
    assert outcome.draft.status in (DraftStatus.EXECUTED, DraftStatus.FAILED)
    assert all(m["Bcc"] is None and len(m["Subject"].splitlines()) == 1 for m in sink.messages)


def test_mrkdwn_quoted_from_crm_cannot_ping_a_group_or_disguise_a_link(crm, sink):
    world = _world(crm, BY_ID["mrkdwn-link-and-subteam"])
    answer = ask(
        offline_assistant(world, draft_service(world, sink)), "what's going on with Halvorsen?"
    )
    assert "<!subteam^S0123" in answer.text  # the injected text is quoted in the answer
    rendered = json.dumps(answer_blocks(answer))
    assert "<!subteam^" not in rendered and "<!here>" not in rendered
    assert "<https://attacker.evil.example/login|" not in rendered
