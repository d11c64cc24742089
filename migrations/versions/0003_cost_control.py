"""cost control

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Daily roll-ups of the ledger (backfilled from the rows already there), budgets, the
PostgreSQL fallback's reservations, once-only claims (digests, budget alerts), each org's
plan and each ledger row's cache savings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_reservation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("cost_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["org.id"],
            name=op.f("fk_budget_reservation_org_id_org"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservation")),
    )
    with op.batch_alter_table("budget_reservation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_reservation_org_id"), ["org_id"], unique=False)

    op.create_table(
        "once_claim",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_once_claim_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_once_claim")),
        sa.UniqueConstraint("org_id", "kind", "key", name=op.f("uq_once_claim_org_id_kind_key")),
    )
    op.create_table(
        "usage_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("request_type", sa.String(length=40), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("cached_hits", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_5m_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_1h_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("response_cache_saved_micro_usd", sa.BigInteger(), nullable=False),
        sa.Column("prompt_cache_saved_micro_usd", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_usage_daily_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily")),
        sa.UniqueConstraint(
            "org_id",
            "day",
            "user_id",
            "customer_id",
            "agent",
            "model",
            "request_type",
            name=op.f("uq_usage_daily_org_id_day_user_id_customer_id_agent_model_request_type"),
        ),
    )
    op.create_table(
        "budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "org",
                "user",
                "customer",
                "request_type",
                name="budgetscope",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column(
            "period",
            sa.Enum("day", "week", "month", name="budgetperiod", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "metric",
            sa.Enum("cost", "requests", name="budgetmetric", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("limit_value", sa.BigInteger(), nullable=False),
        sa.Column("soft_pct", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_budget_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["app_user.id"],
            name=op.f("fk_budget_updated_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget")),
        sa.UniqueConstraint(
            "org_id",
            "scope",
            "target",
            "period",
            "metric",
            name=op.f("uq_budget_org_id_scope_target_period_metric"),
        ),
    )
    with op.batch_alter_table("llm_call", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("saved_micro_usd", sa.BigInteger(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("plan", sa.String(length=20), nullable=False, server_default="team")
        )

    _backfill_rollups()


def _backfill_rollups() -> None:
    """Sum the existing ledger into usage_daily (org-local days on PostgreSQL; SQLite has no
    time zones, so UTC days there)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    day = (
        "CAST((c.created_at AT TIME ZONE o.timezone) AS DATE)"
        if postgres
        else "SUBSTR(c.created_at, 1, 10)"  # SQLite keeps naive UTC text: its first 10 chars
    )
    live = "CASE WHEN c.status = 'cached' THEN 0 ELSE 1 END"
    op.execute(
        f"""
        INSERT INTO usage_daily (org_id, day, user_id, customer_id, agent, model, request_type,
            requests, errors, cached_hits, input_tokens, output_tokens, cache_write_5m_tokens,
            cache_write_1h_tokens, cache_read_tokens, cost_micro_usd,
            response_cache_saved_micro_usd, prompt_cache_saved_micro_usd)
        SELECT c.org_id, {day}, COALESCE(c.user_id, 0), COALESCE(c.customer_id, 0), c.agent,
            c.model, c.request_type, COUNT(*),
            SUM(CASE WHEN c.status = 'error' THEN 1 ELSE 0 END),
            SUM(1 - {live}),
            SUM({live} * c.input_tokens), SUM({live} * c.output_tokens),
            SUM({live} * c.cache_write_5m_tokens), SUM({live} * c.cache_write_1h_tokens),
            SUM({live} * c.cache_read_tokens), SUM(c.cost_micro_usd),
            SUM((1 - {live}) * c.saved_micro_usd), SUM({live} * c.saved_micro_usd)
        FROM llm_call c JOIN org o ON o.id = c.org_id
        GROUP BY c.org_id, {day}, COALESCE(c.user_id, 0), COALESCE(c.customer_id, 0), c.agent,
            c.model, c.request_type
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.drop_column("plan")

    with op.batch_alter_table("llm_call", schema=None) as batch_op:
        batch_op.drop_column("saved_micro_usd")

    op.drop_table("budget")
    op.drop_table("usage_daily")
    op.drop_table("once_claim")
    with op.batch_alter_table("budget_reservation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_reservation_org_id"))

    op.drop_table("budget_reservation")
