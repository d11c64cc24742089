"""The specialists on duty. Each is data; triage chooses, application code runs the choice."""

from __future__ import annotations

from agents.specs import AgentSpec
from agents.tools.context import get_customer_context
from agents.tools.customers import CUSTOMER_TOOLS, search_customers
from agents.tools.drafts import GATED_TOOLS

CUSTOMER = AgentSpec(
    name="customer",
    description=(
        "Questions about one customer account: status, health, contacts, open deals, recent "
        "activity, overdue invoices or tasks, 'what's going on with X', 'tell me about X'."
    ),
    prompt_template="customer.j2",
    prompt_version="customer@1",
    tools=(*CUSTOMER_TOOLS, *GATED_TOOLS),
)

DRAFTING = AgentSpec(
    name="drafting",
    description=(
        "Write something for the rep to approve: an email to a customer (follow-up, check-in, "
        "deal update), a CRM note, a task or reminder, an order draft, account notes. "
        "'draft a follow-up to X', 'write to X about…', 'remind me to…', 'log a note on X'."
    ),
    prompt_template="drafting.j2",
    prompt_version="drafting@1",
    tools=(search_customers, get_customer_context, *GATED_TOOLS),
)

HELP = AgentSpec(
    name="help",
    description="Greetings, thanks, and questions about what Countersign can do or how to use it.",
    prompt_template="help.j2",
    prompt_version="help@1",
    tools=(),
)

SPECIALISTS: dict[str, AgentSpec] = {spec.name: spec for spec in (CUSTOMER, DRAFTING, HELP)}
DEFAULT_SPECIALIST = CUSTOMER.name
