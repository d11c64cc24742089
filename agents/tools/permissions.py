"""Who may use which tool: the org's feature flags and each tool's role requirement.

Write tools never act (they are gated: a person approves the draft), so roles matter for
reads an admin wants to keep from reps, such as the whole book's overdue invoices. Both are
settings (COUNTERSIGN_TOOLS_OFF, COUNTERSIGN_TOOL_ROLES) so a deployment decides; an org is
named by its Slack team id, and "*" applies to every org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.tools.base import ToolSpec
from storage.models import Role

_RANK = {Role.REP: 0, Role.MANAGER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class ToolAccess:
    """The tools one person may use in one org, and why not when they may not."""

    role: Role
    switched_off: frozenset[str] = frozenset()
    required_roles: tuple[tuple[str, Role], ...] = ()

    @classmethod
    def of(
        cls,
        role: Role,
        *,
        team_id: str,
        tools_off: dict[str, list[str]],
        tool_roles: dict[str, Role],
    ) -> ToolAccess:
        """From the settings: flags for every org ("*") and for this one."""
        off = {*tools_off.get("*", []), *tools_off.get(team_id, [])}
        return cls(role, frozenset(off), tuple(sorted(tool_roles.items())))

    def refusal(self, tool: ToolSpec[Any]) -> str | None:
        """Why this person may not use `tool` here; None when they may."""
        if tool.name in self.switched_off:
            return f"{tool.name} is switched off for this workspace"
        needed = dict(self.required_roles).get(tool.name, Role.REP)
        if _RANK[self.role] < _RANK[needed]:
            return f"{tool.name} needs the {needed.value} role"
        return None

    def allowed(self, tools: tuple[ToolSpec[Any], ...]) -> tuple[ToolSpec[Any], ...]:
        """The subset of `tools` this person may use (the only ones the model is shown)."""
        return tuple(t for t in tools if self.refusal(t) is None)
