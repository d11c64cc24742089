"""suggestions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

The suggestion engine's rows: one per fingerprint (customer + rule + subject) and org, kept
up to date by set-based scans, and the log of people's decisions on them (acceptance rates).
`suggestion.org_id` and `owner_id` carry no foreign key and pages are half full: see
storage/models/suggestions.py and bench/suggestions.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column(
            "rule",
            sa.Enum(
                "silent_account",
                "stale_deal",
                "overdue_task",
                "overdue_invoice",
                "upsell",
                name="suggestionrule",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("priority_score", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column(
            "proposed_action",
            sa.Enum(
                "email",
                "note",
                "task",
                "order",
                "customer_notes",
                name="draftkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "accepted",
                "dismissed",
                "snoozed",
                "resolved",
                name="suggestionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("snoozed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("nudged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_suggestion_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_suggestion_decided_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["draft.id"],
            name=op.f("fk_suggestion_draft_id_draft"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
        sa.UniqueConstraint("org_id", "fingerprint", name=op.f("uq_suggestion_org_id_fingerprint")),
        # Every scan rewrites each open row: half-full pages keep those updates HOT.
        postgresql_with={"fillfactor": 50},
    )
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_suggestion_org_status_owner",
            ["org_id", "status", "owner_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_suggestion_org_status_rule", ["org_id", "status", "rule"], unique=False
        )

    op.create_table(
        "suggestion_decision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column(
            "suggestion_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "rule",
            sa.Enum(
                "silent_account",
                "stale_deal",
                "overdue_task",
                "overdue_invoice",
                "upsell",
                name="suggestionrule",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "open",
                "accepted",
                "dismissed",
                "snoozed",
                "resolved",
                name="suggestionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("snoozed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_suggestion_decision_decided_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["org.id"],
            name=op.f("fk_suggestion_decision_org_id_org"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestion.id"],
            name=op.f("fk_suggestion_decision_suggestion_id_suggestion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_decision")),
    )
    with op.batch_alter_table("suggestion_decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestion_decision_org_decided", ["org_id", "decided_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_suggestion_decision_suggestion_id"), ["suggestion_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestion_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suggestion_decision_suggestion_id"))
        batch_op.drop_index("ix_suggestion_decision_org_decided")

    op.drop_table("suggestion_decision")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestion_org_status_rule")
        batch_op.drop_index("ix_suggestion_org_status_owner")
        batch_op.drop_index(batch_op.f("ix_suggestion_customer_id"))

    op.drop_table("suggestion")
