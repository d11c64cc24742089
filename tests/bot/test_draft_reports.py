"""Audit trail and acceptance per prompt version, through the library and the CLI."""

from __future__ import annotations

from agents.drafts.reports import acceptance_by_prompt, audit_trail
from bot.actions import ActionId
from bot.cli import main
from tests.bot.test_draft_scenarios import _ask, _click
from tests.stack import running_stack


def test_acceptance_counts_approved_and_rejected_drafts_per_prompt_version(tmp_path):
    with running_stack(tmp_path) as stack:
        _root, first = _ask(stack)
        _click(stack, "U_MGR1", first, ActionId.DRAFT_APPROVE)
        _ask(stack, "draft a check-in email to Atlantic Ferries")
        rows = acceptance_by_prompt(stack.services.factory, stack.org_id)
    assert [(r.prompt_version, r.accepted, r.declined, r.pending) for r in rows] == [
        ("drafting@1", 1, 0, 1)
    ]
    assert rows[0].rate == 1.0


def test_audit_cli_prints_a_drafts_history_and_a_managers_decisions(tmp_path, monkeypatch, capsys):
    with running_stack(tmp_path) as stack:
        _root, card = _ask(stack)
        _click(stack, "U_REP1", card, ActionId.DRAFT_APPROVE)
        _click(stack, "U_MGR1", card, ActionId.DRAFT_APPROVE)
        trail = audit_trail(stack.services.factory, stack.org_id, draft_id=1)
        monkeypatch.setenv("DATABASE_URL", stack.settings.storage.resolved_database_url())
        capsys.readouterr()
        assert main(["audit", "--draft", "1"]) == 0
        by_draft = capsys.readouterr().out
        assert main(["audit", "--user", "U_MGR1"]) == 0
        by_manager = capsys.readouterr().out
    assert [line.action for line in trail] == [
        "draft.proposed",
        "draft.approve_denied",
        "draft.approved",
        "draft.executed",
    ]
    assert [line.actor for line in trail][1:3] == ["Maya Chen", "Jordan Blake"]
    assert by_draft.index("draft.proposed") < by_draft.index("draft.executed")
    assert "draft.approved" in by_manager and "draft.approve_denied" not in by_manager
