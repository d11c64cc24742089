"""Offline drafting: find the customer, read its context, fill a template, propose the draft
through the same gated tool a model would call. A Regenerate hint ("shorter", "mention the
inspection") changes the template's choices, not the facts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from agents.drafts.intent import draft_kind, email_purpose
from agents.llm.port import LLMRequest
from agents.llm.transcript import (
    clear_winner,
    latest_question,
    steps_since_question,
    text_block,
    tool_use,
)
from agents.specs import prompts
from storage.models.enums import DraftKind

# The assistant's revision request names the customer by id, so no search is needed.
_REVISION_CUSTOMER = re.compile(r"\bcustomer id (\d+)\b")
_HINT = re.compile(r"Hint from the rep: (.*)$", re.MULTILINE)
_CURRENT_SUBJECT = re.compile(r"^Current subject: (.*)$", re.MULTILINE)
_SHORT = re.compile(r"\b(short|shorter|brief|briefer|concise|tighter)\b", re.IGNORECASE)
_MENTION = re.compile(r"\bmention (.+?)(?:[.;,]|$)", re.IGNORECASE)
_SUBJECTS = {
    "follow_up": "Following up",
    "check_in": "Checking in",
    "deal_update": "Update",
}
_TOOLS = {
    DraftKind.EMAIL: "send_email_draft",
    DraftKind.NOTE: "add_crm_note",
    DraftKind.TASK: "create_task",
    DraftKind.ORDER: "create_order_draft",
    DraftKind.CUSTOMER_NOTES: "update_customer_notes",
}


def plan_drafting(request: LLMRequest) -> dict[str, Any]:
    """search → context → the gated tool, or a plain answer when it cannot draft."""
    question = latest_question(request.messages)
    steps = steps_since_question(request.messages)
    if not steps:
        revising = _REVISION_CUSTOMER.search(question)
        if revising:
            return tool_use("get_customer_context", {"customer_id": int(revising.group(1))})
        return tool_use("search_customers", {"query": question, "limit": 5})
    name, result = steps[-1]
    if "error" in result:
        return text_block(f"I could not draft that: {result['error']}")
    if name == "search_customers":
        return _pick_customer(result)
    if name == "get_customer_context":
        return _draft(question, result, hints=request.hints)
    return text_block("Drafted for approval.")


def _pick_customer(result: dict[str, Any]) -> dict[str, Any]:
    hits = result.get("customers", [])
    winner = clear_winner(result)
    if winner:
        return tool_use("get_customer_context", {"customer_id": winner["id"]})
    if hits:
        return text_block(prompts().get_template("offline_ambiguous.j2").render(hits=hits))
    return text_block("I could not tell which customer you mean. Name the customer, please.")


def _draft(question: str, context: dict[str, Any], *, hints: dict[str, str]) -> dict[str, Any]:
    # The request's first line says what to draft; later lines may quote a draft's text.
    kind = draft_kind(question.strip().splitlines()[0] if question.strip() else "")
    today = date.fromisoformat(hints["today"]) if "today" in hints else date.today()
    customer = context["customer"]
    facts = {
        "customer": customer,
        "deal": (context.get("open_deals") or [None])[0],
        "last": (context.get("activities_last_30_days") or [None])[0],
        "request": _request_line(question),
    }
    if kind == DraftKind.EMAIL:
        return _email(question, context, facts, rep_name=hints.get("user_name", "the team"))
    if kind == DraftKind.ORDER:
        return text_block(
            "Offline mode cannot configure an order from a description. Ask with SKUs and "
            "quantities, or set ANTHROPIC_API_KEY to use Claude."
        )
    note = prompts().get_template("offline_draft_note.j2").render(**facts).strip()
    args: dict[str, Any] = {"customer_id": customer["id"]}
    if kind == DraftKind.TASK:
        args |= {"title": f"{customer['name']}: {facts['request']}"[:300], "details": note}
        args["due_date"] = (today + timedelta(days=2)).isoformat()
    elif kind == DraftKind.NOTE:
        args |= {"headline": facts["request"][:200], "text": note}
    else:
        args |= {"notes": note}
    return tool_use(_TOOLS[kind], args)


def _email(
    question: str, context: dict[str, Any], facts: dict[str, Any], *, rep_name: str
) -> dict[str, Any]:
    contact = next((c for c in context.get("contacts", []) if c.get("email")), None)
    if contact is None:
        return text_block(
            f"{facts['customer']['name']} has no contact with an email address in the CRM, "
            "so there is nobody to write to."
        )
    hint = _hint(question)
    purpose = email_purpose(question)
    mention = _MENTION.search(hint)
    body = (
        prompts()
        .get_template("offline_draft_email.j2")
        .render(
            **facts,
            contact=contact,
            purpose=purpose,
            short=bool(_SHORT.search(hint)),
            mention=mention.group(1).strip() if mention else None,
            rep_name=rep_name,
        )
        .strip()
    )
    topic = facts["deal"]["title"] if facts["deal"] else facts["customer"]["name"]
    return tool_use(
        "send_email_draft",
        {
            "customer_id": facts["customer"]["id"],
            "to": contact["email"],
            "subject": f"{_SUBJECTS[purpose]}: {topic}",
            "body": body,
        },
    )


def _hint(question: str) -> str:
    found = _HINT.search(question)
    return found.group(1) if found else ""


def _request_line(question: str) -> str:
    """The rep's request (or, when revising, the current subject), tidied into a headline."""
    current = _CURRENT_SUBJECT.search(question)
    if current:
        return current.group(1).strip()[:200]
    first = question.strip().splitlines()[0] if question.strip() else "Follow up"
    return first[:1].upper() + first[1:200]
