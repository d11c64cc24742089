"""The CRM: orgs, people, customers and everything sold to them. Every row belongs to one org."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, Timestamped, json_list
from storage.models.columns import str_enum
from storage.models.enums import CustomerStatus, DealStage, DealStatus, Role, TaskStatus
from storage.types import Money

ORG_FK = "org.id"
CUSTOMER_FK = "customer.id"
USER_FK = "app_user.id"


class Org(Timestamped, Base):
    """A company using Countersign: one per Slack workspace (team)."""

    __tablename__ = "org"

    id: Mapped[int] = mapped_column(primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    plan: Mapped[str] = mapped_column(
        String(20), default="team"
    )  # tier limits: agents/data/plans.json
    # Set when the workspace uninstalls the app; its data stays until retention or a reinstall.
    uninstalled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Where cost digests and budget alerts go (`/ai-channel admin`).
    admin_channel: Mapped[str | None] = mapped_column(String(32), default=None)


class User(Timestamped, Base):
    """A person at the org, known by email and (once seen) by Slack user id."""

    __tablename__ = "app_user"
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        UniqueConstraint("org_id", "slack_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(str_enum(Role), default=Role.REP)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class Customer(Timestamped, Base):
    """An account the team sells to."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("org_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), index=True)
    company: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[CustomerStatus] = mapped_column(
        str_enum(CustomerStatus), default=CustomerStatus.ACTIVE
    )
    tags: Mapped[list[str]] = mapped_column(json_list(), default=list)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Contact.id"
    )
    owner: Mapped[User | None] = relationship()


class Contact(Base):
    """A person at a customer."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey(CUSTOMER_FK, ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Deal(Timestamped, Base):
    """An opportunity moving through the pipeline."""

    __tablename__ = "deal"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        Index("ix_deal_org_status_stage", "org_id", "status", "stage"),
        # stale deals (suggestions, analytics) and a customer's open deals (customer 360)
        Index("ix_deal_org_status_changed", "org_id", "status", "stage_changed_at"),
        Index("ix_deal_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(CUSTOMER_FK, ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    stage: Mapped[DealStage] = mapped_column(str_enum(DealStage))
    amount: Mapped[Decimal] = mapped_column(Money())
    owner_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    stage_changed_at: Mapped[datetime]
    expected_close_at: Mapped[datetime | None]
    status: Mapped[DealStatus] = mapped_column(str_enum(DealStatus), default=DealStatus.OPEN)


class Activity(Base):
    """Something that happened with a customer: a call, a meeting, an email, a note."""

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("org_id", "import_key"),
        Index("ix_activity_customer_occurred", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey(CUSTOMER_FK, ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    # Activities have no external id in the import format; a hash of their content stands in.
    import_key: Mapped[str | None] = mapped_column(String(64))


class Task(Timestamped, Base):
    """A to-do for someone, usually about a customer."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("org_id", "import_key"),
        Index("ix_task_org_status_due", "org_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey(CUSTOMER_FK, ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime | None]
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    import_key: Mapped[str | None] = mapped_column(String(64))


class Order(Base):
    """A placed (or, from an approved draft, drafted) order."""

    __tablename__ = "sales_order"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # revenue by period (analytics) and a customer's recent orders (orders tools, 360)
        Index("ix_sales_order_org_placed", "org_id", "placed_at"),
        Index("ix_sales_order_customer_placed", "customer_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(CUSTOMER_FK, ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30))
    total: Mapped[Decimal] = mapped_column(Money())
    placed_at: Mapped[datetime | None]


class Invoice(Base):
    """What a customer owes; overdue when past due_at and not paid."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # collected revenue by period, and a customer's unpaid invoices (overdue checks)
        Index("ix_invoice_org_paid", "org_id", "paid_at"),
        Index(
            "ix_invoice_customer_unpaid_due",
            "customer_id",
            "due_at",
            postgresql_where=text("paid_at IS NULL"),
            sqlite_where=text("paid_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey(CUSTOMER_FK, ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money())
    due_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class Product(Base):
    """An item in the catalog."""

    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("org_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    unit_price: Mapped[Decimal] = mapped_column(Money())
    category: Mapped[str | None] = mapped_column(String(100))
