"""What an approved draft does. CRM kinds write inside the approving transaction (so they run
exactly once with it); email goes out over SMTP after the execution claim is committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from agents.drafts.email import EmailError, OutgoingEmail, SmtpSettings, send_email
from storage.models import Activity, Order, Task
from storage.models.enums import DraftKind
from storage.uow import UnitOfWork


class ExecutionError(Exception):
    """The action could not be carried out; the message is shown on the card."""


@dataclass(frozen=True, kw_only=True)
class Execution:
    """One approved version, as the executor needs it."""

    draft_id: int
    version: int
    org_id: int
    kind: DraftKind
    customer_id: int | None
    requested_by_id: int | None
    payload: dict[str, Any]
    now: datetime
    reply_to: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Unique per draft version: the same approval never acts twice."""
        return f"draft:{self.draft_id}:v{self.version}"


def runs_outside_transaction(kind: DraftKind) -> bool:
    """Email leaves our database: it is sent after the claim is committed."""
    return kind == DraftKind.EMAIL


def execute_in_db(uow: UnitOfWork, job: Execution) -> str:
    """Write the CRM record of an approved note, task, order draft or account note."""
    customer_id = _customer(job)
    payload = job.payload
    if job.kind == DraftKind.NOTE:
        text = f"{payload['subject']}\n\n{payload['body']}".strip()
        uow.crm.add(
            Activity(
                org_id=job.org_id,
                customer_id=customer_id,
                kind="note",
                summary=text,
                occurred_at=job.now,
                user_id=job.requested_by_id,
            )
        )
        # The account is no longer silent: its "gone quiet" suggestion ends now, not at the
        # next scan.
        uow.suggestions.resolve_silent_account(
            job.org_id, customer_id, activity_at=job.now, now=job.now
        )
        return "note added to the CRM"
    if job.kind == DraftKind.TASK:
        uow.crm.add(
            Task(
                org_id=job.org_id,
                customer_id=customer_id,
                title=payload["subject"][:300],
                due_at=_due(payload.get("due_date")),
                assignee_id=job.requested_by_id,
            )
        )
        return f"task created (due {payload.get('due_date') or 'no date'})"
    if job.kind == DraftKind.ORDER:
        number = f"DRAFT-{job.draft_id}-{job.version}"
        uow.crm.add(
            Order(
                org_id=job.org_id,
                external_id=job.idempotency_key,
                customer_id=customer_id,
                number=number,
                status="draft",
                total=Decimal(str(payload.get("total", "0"))),
                placed_at=None,
            )
        )
        return f"order {number} created as a draft"
    if job.kind == DraftKind.CUSTOMER_NOTES:
        customer = uow.crm.customer(job.org_id, customer_id)
        if customer is None:
            raise ExecutionError("the customer no longer exists")
        customer.notes = payload["body"]
        uow.flush()
        return "account notes updated"
    raise ExecutionError(f"{job.kind.value} drafts are not executed in the database")


def send_approved_email(settings: SmtpSettings, job: Execution) -> str:
    """Send an approved email; SMTP problems become ExecutionError with the server's words."""
    payload = job.payload
    try:
        sent = send_email(
            settings,
            OutgoingEmail(
                to_address=payload["to_address"],
                to_name=payload.get("to_name"),
                subject=payload["subject"],
                body=payload["body"],
                reply_to=job.reply_to,
                idempotency_key=job.idempotency_key,
            ),
        )
    except EmailError as exc:
        raise ExecutionError(str(exc)) from exc
    except (ValueError, KeyError) as exc:  # content the mail library refuses: fail, don't hang
        raise ExecutionError(f"the email could not be built: {exc}") from exc
    return f"sent to {', '.join(sent.recipients)}"


def _customer(job: Execution) -> int:
    if job.customer_id is None:
        raise ExecutionError("the draft has no customer (it may have been deleted)")
    return job.customer_id


def _due(value: str | None) -> datetime | None:
    if not value:
        return None
    # A due date means the end of that day's working hours, in UTC for now.
    return datetime.combine(datetime.fromisoformat(value).date(), time(17, 0), tzinfo=UTC)
