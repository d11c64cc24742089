"""query indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

Indexes the benches and query plans pointed to: revenue by period and a customer's orders
(sales_order), collected revenue and a customer's unpaid invoices (invoice, the second one
partial: only unpaid rows), stale and per-customer deals (deal), and the retention purge's
scan by age (message).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPAID = sa.text("paid_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_sales_order_org_placed", "sales_order", ["org_id", "placed_at"])
    op.create_index("ix_sales_order_customer_placed", "sales_order", ["customer_id", "placed_at"])
    op.create_index("ix_invoice_org_paid", "invoice", ["org_id", "paid_at"])
    op.create_index(
        "ix_invoice_customer_unpaid_due",
        "invoice",
        ["customer_id", "due_at"],
        postgresql_where=UNPAID,
        sqlite_where=UNPAID,
    )
    op.create_index("ix_deal_org_status_changed", "deal", ["org_id", "status", "stage_changed_at"])
    op.create_index("ix_deal_customer_status", "deal", ["customer_id", "status"])
    op.create_index("ix_message_created", "message", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_message_created", table_name="message")
    op.drop_index("ix_deal_customer_status", table_name="deal")
    op.drop_index("ix_deal_org_status_changed", table_name="deal")
    op.drop_index("ix_invoice_customer_unpaid_due", table_name="invoice")
    op.drop_index("ix_invoice_org_paid", table_name="invoice")
    op.drop_index("ix_sales_order_customer_placed", table_name="sales_order")
    op.drop_index("ix_sales_order_org_placed", table_name="sales_order")
