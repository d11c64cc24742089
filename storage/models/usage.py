"""Cost control: daily roll-ups of the ledger, budgets, in-flight reservations, once-only claims."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, Timestamped
from storage.models.columns import BIG_ID, str_enum
from storage.models.enums import BudgetMetric, BudgetPeriod, BudgetScope
from storage.types import utcnow

ORG_FK = "org.id"
NOBODY = 0  # roll-up key for "no user" / "no customer": NULLs never collide in a unique key

ROLLUP_MEASURES = (
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


class _DailyUsage:
    """The ledger summed per org-local day and one slice of the reporting dimensions.

    Three narrow roll-ups instead of one wide one: a key of day × user × customer × agent ×
    model × type is nearly as fine as the ledger itself (1.7 calls per row at 10 M calls), so
    a month report aggregated hundreds of thousands of rows; each report reads the narrowest
    table that has its dimension (bench/cost_report.py). Each is upserted in the same
    transaction as its ledger row, so its totals always equal the ledger's. The unique key
    doubles as the (org_id, day) index every report uses.
    """

    KEY: tuple[str, ...] = ()

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_hits: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    response_cache_saved_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_cache_saved_micro_usd: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageDailyOrg(_DailyUsage, Base):
    """Org-wide per day × agent × model × request type: totals, those breakdowns, the chart."""

    __tablename__ = "usage_daily_org"
    KEY = ("org_id", "day", "agent", "model", "request_type")
    __table_args__ = (UniqueConstraint(*KEY),)

    agent: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(100))
    request_type: Mapped[str] = mapped_column(String(40))


class UsageDailyUser(_DailyUsage, Base):
    """Per day × acting user (NOBODY for calls without one)."""

    __tablename__ = "usage_daily_user"
    KEY = ("org_id", "day", "user_id")
    __table_args__ = (UniqueConstraint(*KEY),)

    user_id: Mapped[int] = mapped_column(Integer, default=NOBODY)


class UsageDailyCustomer(_DailyUsage, Base):
    """Per day × customer in context (NOBODY for calls about no customer)."""

    __tablename__ = "usage_daily_customer"
    KEY = ("org_id", "day", "customer_id")
    __table_args__ = (UniqueConstraint(*KEY),)

    customer_id: Mapped[int] = mapped_column(Integer, default=NOBODY)


ROLLUPS = (UsageDailyOrg, UsageDailyUser, UsageDailyCustomer)


class Budget(Timestamped, Base):
    """An admin's budget (or an override of a built-in default) for one scope and period.

    `target` is "" for the org, "*" for "each user" / "each customer", or one id / request type.
    `limit_value` is micro-USD (cost) or a count (requests); -1 means unlimited.
    """

    __tablename__ = "budget"
    __table_args__ = (UniqueConstraint("org_id", "scope", "target", "period", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    scope: Mapped[BudgetScope] = mapped_column(str_enum(BudgetScope))
    target: Mapped[str] = mapped_column(String(64), default="")
    period: Mapped[BudgetPeriod] = mapped_column(str_enum(BudgetPeriod))
    metric: Mapped[BudgetMetric] = mapped_column(str_enum(BudgetMetric))
    limit_value: Mapped[int] = mapped_column(BigInteger)
    soft_pct: Mapped[int] = mapped_column(Integer, default=80)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )


class BudgetReservation(Base):
    """A call's estimate held against every budget it touches while it runs (the PostgreSQL
    fallback's counter; the Redis path keeps reservations in its counters). Rows past
    `expires_at` belong to a crashed process and stop counting."""

    __tablename__ = "budget_reservation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, default=NOBODY)
    customer_id: Mapped[int] = mapped_column(Integer, default=NOBODY)
    request_type: Mapped[str] = mapped_column(String(40))
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class OnceClaim(Base):
    """'This happened already': one row per digest per org-day, per budget alert per period.

    Whoever inserts the row first does the work; every other scheduler sees the conflict."""

    __tablename__ = "once_claim"
    __table_args__ = (UniqueConstraint("org_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(String(200))
