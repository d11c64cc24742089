"""The specialists on duty. Each is data; triage chooses, application code runs the choice."""

from __future__ import annotations

from agents.specs import AgentSpec
from agents.tools.customers import CUSTOMER_TOOLS

CUSTOMER = AgentSpec(
    name="customer",
    description=(
        "Questions about one customer account: status, health, contacts, open deals, recent "
        "activity, overdue invoices or tasks, 'what's going on with X', 'tell me about X'."
    ),
    prompt_template="customer.j2",
    prompt_version="customer@1",
    tools=CUSTOMER_TOOLS,
)

HELP = AgentSpec(
    name="help",
    description="Greetings, thanks, and questions about what Countersign can do or how to use it.",
    prompt_template="help.j2",
    prompt_version="help@1",
    tools=(),
)

SPECIALISTS: dict[str, AgentSpec] = {spec.name: spec for spec in (CUSTOMER, HELP)}
DEFAULT_SPECIALIST = CUSTOMER.name
