"""The specialists on duty. Each is data; triage chooses, application code runs the choice."""

from __future__ import annotations

from agents.specs import AgentSpec
from agents.tools.analytics import ANALYTICS_TOOLS
from agents.tools.context import get_customer_context
from agents.tools.customers import CUSTOMER_TOOLS, search_customers
from agents.tools.drafts import GATED_TOOLS, create_order_draft, send_email_draft
from agents.tools.orders import ORDER_TOOLS
from agents.tools.quotes import QUOTE_TOOLS

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

ORDERS = AgentSpec(
    name="orders",
    description=(
        "A customer's orders and invoices: what they ordered and when, order status, invoices "
        "paid, due or overdue, amounts owed; proposing an order draft for approval. "
        "'last orders of X', 'is X's invoice paid?', 'what does X owe?', 'reorder for X'."
    ),
    prompt_template="orders.j2",
    prompt_version="orders@1",
    tools=(search_customers, *ORDER_TOOLS, create_order_draft),
)

ANALYTICS = AgentSpec(
    name="analytics",
    description=(
        "Numbers across the book of business, not one account: pipeline by stage, revenue by "
        "month or quarter, win rate, top customers, stale deals, team metrics. "
        "'how's the pipeline?', 'revenue this quarter', 'win rate', 'top 10 customers'."
    ),
    prompt_template="analytics.j2",
    prompt_version="analytics@1",
    tools=ANALYTICS_TOOLS,
)

QUOTES = AgentSpec(
    name="quotes",
    description=(
        "Products and prices: the product catalog, configuring a system from stated "
        "requirements, pricing with quantity and discount rules, preparing a quote for a "
        "customer. 'price for 20 units of…', 'quote X for…', 'what do we sell for…'."
    ),
    prompt_template="quotes.j2",
    prompt_version="quotes@1",
    tools=(search_customers, *QUOTE_TOOLS, send_email_draft, create_order_draft),
)

HELP = AgentSpec(
    name="help",
    description="Greetings, thanks, and questions about what Countersign can do or how to use it.",
    prompt_template="help.j2",
    prompt_version="help@1",
    tools=(),
)

SPECIALISTS: dict[str, AgentSpec] = {
    spec.name: spec for spec in (CUSTOMER, ORDERS, ANALYTICS, QUOTES, DRAFTING, HELP)
}
DEFAULT_SPECIALIST = CUSTOMER.name
