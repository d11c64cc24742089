"""ledger call key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

`llm_call.call_key`: one key per model call, made by the meter, unique, so the write-behind
ledger drain (bot/ledger_drain.py) can insert a redelivered batch again and keep each call
once (`ON CONFLICT (call_key) DO NOTHING`). Rows written before it keep NULL, which a unique
index never counts as a clash.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("llm_call", sa.Column("call_key", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_llm_call_call_key"), "llm_call", ["call_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_llm_call_call_key"), table_name="llm_call")
    with op.batch_alter_table("llm_call") as batch_op:
        batch_op.drop_column("call_key")
