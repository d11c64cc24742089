"""Who may approve which kind of draft. Default: an email to a customer needs a manager (not
its own requester); an internal note, task or account note may be self-approved by its owner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from storage.models import Role, User
from storage.models.enums import DraftKind


class Approvers(StrEnum):
    """Whose click counts (an admin's always does)."""

    OWNER_MANAGER = "owner_manager"  # the requester's manager in the CRM (any manager if unset)
    ANY_MANAGER = "any_manager"
    ADMIN = "admin"


class KindPolicy(BaseModel):
    """The rule for one draft kind."""

    approvers: Approvers = Approvers.ANY_MANAGER
    self_approve: bool = False


DEFAULT_POLICY: dict[DraftKind, KindPolicy] = {
    DraftKind.EMAIL: KindPolicy(approvers=Approvers.ANY_MANAGER, self_approve=False),
    DraftKind.ORDER: KindPolicy(approvers=Approvers.ANY_MANAGER, self_approve=False),
    DraftKind.NOTE: KindPolicy(approvers=Approvers.ANY_MANAGER, self_approve=True),
    DraftKind.TASK: KindPolicy(approvers=Approvers.ANY_MANAGER, self_approve=True),
    DraftKind.CUSTOMER_NOTES: KindPolicy(approvers=Approvers.ANY_MANAGER, self_approve=True),
}


@dataclass(frozen=True)
class Verdict:
    """Whether a click counts, and in words why not."""

    allowed: bool
    reason: str = ""


class ApprovalPolicy:
    """The per-kind rules, defaults overridden by settings."""

    def __init__(self, overrides: dict[DraftKind, KindPolicy] | None = None) -> None:
        self.rules = {**DEFAULT_POLICY, **(overrides or {})}

    def may_approve(self, kind: DraftKind, actor: User, owner: User | None) -> Verdict:
        """Whether `actor` may approve (or retry) a draft of `kind` that `owner` asked for."""
        rule = self.rules[kind]
        own = owner is not None and actor.id == owner.id
        if own and not rule.self_approve:
            return Verdict(
                False,
                f"you asked for this {kind.value} draft, so someone else "
                f"must approve it: {self.describe(kind, owner)}",
            )
        if own or _qualifies(rule.approvers, actor, owner):
            return Verdict(True)
        return Verdict(
            False, f"this {kind.value} draft needs approval from {self.describe(kind, owner)}"
        )

    def may_edit(self, actor: User, owner: User | None) -> Verdict:
        """The requester may edit and regenerate their draft; so may managers and admins."""
        if (owner is not None and actor.id == owner.id) or actor.role != Role.REP:
            return Verdict(True)
        return Verdict(False, "only the person who asked for it or a manager can change it")

    def may_reject(self, kind: DraftKind, actor: User, owner: User | None) -> Verdict:
        """The requester may withdraw their own draft; otherwise as for approval."""
        if owner is not None and actor.id == owner.id:
            return Verdict(True)
        rule = self.rules[kind]
        if _qualifies(rule.approvers, actor, owner):
            return Verdict(True)
        return Verdict(False, f"only {self.describe(kind, owner)} can reject it")

    def describe(self, kind: DraftKind, owner: User | None) -> str:
        """Who may approve, in words: 'a manager', 'Maya Chen or a manager', 'an admin'."""
        rule = self.rules[kind]
        who = {
            Approvers.ANY_MANAGER: "a manager",
            Approvers.ADMIN: "an admin",
            Approvers.OWNER_MANAGER: f"{_first_name(owner)}'s manager" if owner else "a manager",
        }[rule.approvers]
        if rule.self_approve and owner is not None:
            return f"{owner.name} or {who}"
        return who


def _qualifies(approvers: Approvers, actor: User, owner: User | None) -> bool:
    if actor.role == Role.ADMIN:
        return True
    if approvers == Approvers.ADMIN or actor.role != Role.MANAGER:
        return False
    if approvers == Approvers.OWNER_MANAGER and owner is not None and owner.manager_id:
        return actor.id == owner.manager_id
    return True


def _first_name(user: User | None) -> str:
    return user.name.split()[0] if user and user.name else "the requester"
