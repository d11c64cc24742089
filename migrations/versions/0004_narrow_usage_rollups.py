"""narrow usage roll-ups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

`usage_daily` (day × user × customer × agent × model × request type) held 1.7 ledger rows per
row at 10 M calls, so a month report aggregated hundreds of thousands of rows. It becomes
three narrow roll-ups, each summed from it: org-wide by agent, model and request type; per
user; per customer (bench/cost_report.py measured the report at p95 121 ms instead of 2.4 s).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = (
    "requests",
    "errors",
    "cached_hits",
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "cost_micro_usd",
    "response_cache_saved_micro_usd",
    "prompt_cache_saved_micro_usd",
)
NARROW = {
    "usage_daily_org": ("agent", "model", "request_type"),
    "usage_daily_user": ("user_id",),
    "usage_daily_customer": ("customer_id",),
}
WIDE_KEY = ("org_id", "day", "user_id", "customer_id", "agent", "model", "request_type")


def _key_column(name: str) -> sa.Column[object]:
    if name.endswith("_id"):
        return sa.Column(name, sa.Integer(), nullable=False)
    length = 100 if name == "model" else 40
    return sa.Column(name, sa.String(length=length), nullable=False)


def _create(table: str, key: Sequence[str]) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(_key_column(name) for name in key if name not in ("org_id", "day")),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in MEASURES),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f(f"fk_{table}_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(*key, name=op.f(f"uq_{table}_{'_'.join(key)}")),
    )


def _sum_into(target: str, key: Sequence[str], source: str) -> None:
    columns = ", ".join(key)
    measures = ", ".join(MEASURES)
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    op.execute(
        f"INSERT INTO {target} ({columns}, {measures}) "
        f"SELECT {columns}, {sums} FROM {source} GROUP BY {columns}"
    )


def upgrade() -> None:
    for table, dimensions in NARROW.items():
        key = ("org_id", "day", *dimensions)
        _create(table, key)
        _sum_into(table, key, "usage_daily")
    op.drop_table("usage_daily")


def downgrade() -> None:
    # The wide roll-up cannot be rebuilt from the narrow ones (they dropped the pairing of
    # user and customer); it is summed from the ledger, as migration 0003 did.
    _create("usage_daily", WIDE_KEY)
    postgres = op.get_bind().dialect.name == "postgresql"
    day = (
        "CAST((c.created_at AT TIME ZONE o.timezone) AS DATE)"
        if postgres
        else "SUBSTR(c.created_at, 1, 10)"  # SQLite keeps naive UTC text: its first 10 chars
    )
    live = "CASE WHEN c.status = 'cached' THEN 0 ELSE 1 END"
    people = "COALESCE(c.user_id, 0), COALESCE(c.customer_id, 0)"
    key = f"c.org_id, {day}, {people}, c.agent, c.model, c.request_type"
    op.execute(
        f"""
        INSERT INTO usage_daily ({", ".join(WIDE_KEY)}, {", ".join(MEASURES)})
        SELECT {key}, COUNT(*), SUM(CASE WHEN c.status = 'error' THEN 1 ELSE 0 END),
            SUM(1 - {live}), SUM({live} * c.input_tokens), SUM({live} * c.output_tokens),
            SUM({live} * c.cache_write_5m_tokens), SUM({live} * c.cache_write_1h_tokens),
            SUM({live} * c.cache_read_tokens), SUM(c.cost_micro_usd),
            SUM((1 - {live}) * c.saved_micro_usd), SUM({live} * c.saved_micro_usd)
        FROM llm_call c JOIN org o ON o.id = c.org_id
        GROUP BY {key}
        """
    )
    for table in NARROW:
        op.drop_table(table)
