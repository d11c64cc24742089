"""`countersign export-training FILE.jsonl`: approved drafts with the model's first and the
approved version, one JSON object per line, PII replaced by placeholders."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.drafts.service import Result
from bot.cli import main
from bot.emulator.mailbox import Mailbox
from bot.retention_jobs import purge
from storage.models import DraftKind
from tests.agents.drafts_fixtures import MANAGER, TEAM, Desk, email_payload, make_desk

ANY_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
FIRST_BODY = (
    "Hi Ingrid,\n\nCall me on +47 912 34 567 or write to maya@demo.countersign.dev.\n\nMaya"
)
EDITED_BODY = (
    "Hi Ingrid,\n\nCall me on +47 912 34 567 (mobile) or write to maya@demo.countersign.dev."
    "\nCard on file: 4111 1111 1111 1111.\n\nMaya"
)


@pytest.fixture
def desk(sqlite_factory: Any, sqlite_url: str, tmp_path: Path, monkeypatch: Any) -> Iterator[Desk]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COUNTERSIGN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COUNTERSIGN_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("COUNTERSIGN_PII_PATTERNS", raising=False)
    with Mailbox() as outbox:
        yield make_desk(sqlite_factory, outbox)


def _approved_edited_email(desk: Desk) -> int:
    draft_id = desk.propose_email(body=FIRST_BODY)
    edited = desk.service.edit(TEAM, MANAGER, draft_id, 1, subject=None, body=EDITED_BODY)
    assert edited.result == Result.DONE
    assert desk.service.approve(TEAM, MANAGER, draft_id, 2).result == Result.DONE
    return draft_id


def _decided_others(desk: Desk) -> tuple[int, int, int]:
    note = desk.propose(DraftKind.NOTE)
    assert desk.service.approve(TEAM, MANAGER, note, 1).result == Result.DONE
    rejected = desk.propose_email(body="Reach me at +1 (555) 123-4567")
    assert desk.service.reject(TEAM, MANAGER, rejected, 1, "no").result == Result.DONE
    pending = desk.propose_email()
    return note, rejected, pending


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_writes_approved_drafts_with_first_and_final_version_and_no_pii(
    desk: Desk, tmp_path: Path, capsys: Any
) -> None:
    email_id = _approved_edited_email(desk)
    note_id, _rejected, _pending = _decided_others(desk)
    out = tmp_path / "training.jsonl"

    assert main(["export-training", str(out)]) == 0

    assert "wrote 2 approved draft(s)" in capsys.readouterr().out
    email, note = _lines(out)
    assert (email["draft_id"], note["draft_id"]) == (email_id, note_id)
    assert email | {"first": None, "final": None, "created_at": None, "approved_at": None} == {
        "draft_id": email_id,
        "kind": "email",
        "agent": "outreach",
        "prompt_version": "v1",
        "model": "claude-test",
        "status": "executed",
        "created_at": None,
        "approved_at": None,
        "versions": 2,
        "edited": True,
        "first": None,
        "final": None,
    }
    assert email["first"] == {
        "to_address": "<EMAIL_1>",
        "subject": email_payload()["subject"],
        "body": "Hi Ingrid,\n\nCall me on <PHONE_1> or write to <EMAIL_2>.\n\nMaya",
    }
    assert email["final"]["to_address"] == "<EMAIL_1>"
    assert email["final"]["body"] == (
        "Hi Ingrid,\n\nCall me on <PHONE_1> (mobile) or write to <EMAIL_2>."
        "\nCard on file: <CARD_1>.\n\nMaya"
    )
    assert note["edited"] is False and note["first"] == note["final"]
    written = out.read_text(encoding="utf-8")
    assert not ANY_EMAIL.search(written)
    for value in ("912 34 567", "4111", "Ingrid Halvorsen", "555"):
        assert value not in written


def test_since_and_team_narrow_the_export(desk: Desk, tmp_path: Path, capsys: Any) -> None:
    created = desk.draft(_approved_edited_email(desk)).created_at.date()
    out = tmp_path / "later.jsonl"
    next_day = str(created + timedelta(days=1))
    assert main(["export-training", str(out), "--team", TEAM, "--since", next_day]) == 0
    assert out.read_text(encoding="utf-8") == ""
    assert main(["export-training", str(out), "--since", str(created)]) == 0
    assert len(_lines(out)) == 1
    assert "wrote 1 approved draft(s)" in capsys.readouterr().out


def test_bad_input_gets_a_clear_answer_and_no_file(desk: Desk, tmp_path: Path, capsys: Any) -> None:
    _approved_edited_email(desk)
    with pytest.raises(SystemExit) as exited:
        main(["export-training", str(tmp_path / "x.jsonl"), "--since", "last week"])
    assert exited.value.code == 2
    assert "expected a date as YYYY-MM-DD, got 'last week'" in capsys.readouterr().err
    assert main(["export-training", str(tmp_path / "missing" / "x.jsonl")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert main(["export-training", str(tmp_path / "x.jsonl"), "--team", "T_NOPE"]) == 2
    assert "pass --team TEAM_ID: found 0 matching orgs" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir() if "x.jsonl" in p.name) == []


def test_drafts_anonymised_by_retention_are_not_exported(desk: Desk, tmp_path: Path) -> None:
    _approved_edited_email(desk)
    far_future = desk.draft(desk.propose(DraftKind.NOTE)).created_at + timedelta(days=400)
    assert purge(desk.factory, now=far_future, days=90, batch=100).drafts == 1
    out = tmp_path / "after.jsonl"
    assert main(["export-training", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == ""


def test_the_cli_keeps_pii_out_of_the_logs_it_configures(
    desk: Desk, tmp_path: Path, caplog: Any
) -> None:
    assert main(["export-training", str(tmp_path / "x.jsonl")]) == 0
    logging.getLogger("bot.jobs").warning("sending to %s failed", "ingrid@halvorsen-marine.no")
    assert "sending to <EMAIL_1> failed" in caplog.text
    assert "ingrid@" not in caplog.text
