"""A customer health score a rep can reason about: simple, explainable, 0–100."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HealthInputs:
    """The facts the score is made of."""

    days_since_last_activity: int | None
    overdue_invoice_count: int
    overdue_task_count: int
    days_since_last_order: int | None
    churned: bool


def health_score(facts: HealthInputs) -> tuple[int, list[str]]:
    """Start at 100 and subtract for silence, overdue money and work, and no recent orders."""
    if facts.churned:
        return 0, ["customer has churned"]
    score, reasons = 100, list[str]()
    silence = facts.days_since_last_activity
    if silence is None or silence > 30:
        score, reasons = score - 30, [*reasons, "no activity in over 30 days"]
    elif silence > 14:
        score, reasons = score - 15, [*reasons, f"quiet for {silence} days"]
    elif silence > 7:
        score, reasons = score - 5, [*reasons, f"quiet for {silence} days"]
    if facts.overdue_invoice_count:
        score -= min(30, 15 * facts.overdue_invoice_count)
        reasons.append(f"{facts.overdue_invoice_count} overdue invoice(s)")
    if facts.overdue_task_count:
        score -= min(15, 5 * facts.overdue_task_count)
        reasons.append(f"{facts.overdue_task_count} overdue task(s)")
    last_order = facts.days_since_last_order
    if last_order is None or last_order > 180:
        score -= 10
        reasons.append("no order in 6 months")
    return max(0, score), reasons
