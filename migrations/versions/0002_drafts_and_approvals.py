"""drafts and approvals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Drafts grow their approval lifecycle: provenance, card location, decision, execution,
and the approved diff; plus one row per content version and an execution claim per version.
NOT NULL columns get server defaults so existing rows (if any) migrate.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draft_execution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["draft.id"],
            name=op.f("fk_draft_execution_draft_id_draft"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_execution")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_draft_execution_idempotency_key")),
    )
    with op.batch_alter_table("draft_execution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_execution_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "draft_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["app_user.id"],
            name=op.f("fk_draft_version_created_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["draft.id"],
            name=op.f("fk_draft_version_draft_id_draft"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_version")),
        sa.UniqueConstraint("draft_id", "version", name=op.f("uq_draft_version_draft_id_version")),
    )
    op.execute("UPDATE draft SET expires_at = created_at WHERE expires_at IS NULL")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agent", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("prompt_version", sa.String(length=60), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("model", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("tokens", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "cost_micro_usd",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=False,
                server_default="0",
            )
        )
        batch_op.add_column(sa.Column("channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("thread_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("card_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("decided_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reject_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("executed_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("execution_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("execution_result", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("approved_diff", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "updated_at",
                storage.types.UTCDateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.alter_column(
            "kind",
            existing_type=sa.VARCHAR(length=40),
            type_=sa.Enum(
                "email",
                "note",
                "task",
                "order",
                "customer_notes",
                name="draftkind",
                native_enum=False,
                length=20,
            ),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "expires_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "ix_draft_requested_by_status", ["requested_by_id", "status"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_draft_decided_by_id_app_user"),
            "app_user",
            ["decided_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_draft_decided_by_id_app_user"), type_="foreignkey")
        batch_op.drop_index("ix_draft_requested_by_status")
        batch_op.alter_column(
            "expires_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=True
        )
        batch_op.alter_column(
            "kind",
            existing_type=sa.Enum(
                "email",
                "note",
                "task",
                "order",
                "customer_notes",
                name="draftkind",
                native_enum=False,
                length=20,
            ),
            type_=sa.VARCHAR(length=40),
            existing_nullable=False,
        )
        batch_op.drop_column("updated_at")
        batch_op.drop_column("approved_diff")
        batch_op.drop_column("attempts")
        batch_op.drop_column("execution_result")
        batch_op.drop_column("execution_error")
        batch_op.drop_column("executed_at")
        batch_op.drop_column("reject_reason")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by_id")
        batch_op.drop_column("card_ts")
        batch_op.drop_column("thread_ts")
        batch_op.drop_column("channel_id")
        batch_op.drop_column("cost_micro_usd")
        batch_op.drop_column("tokens")
        batch_op.drop_column("model")
        batch_op.drop_column("prompt_version")
        batch_op.drop_column("agent")

    op.drop_table("draft_version")
    with op.batch_alter_table("draft_execution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_execution_draft_id"))

    op.drop_table("draft_execution")
