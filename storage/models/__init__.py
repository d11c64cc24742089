"""All models, imported here so Base.metadata is complete for Alembic and create_all."""

from storage.models.ai import AuditEvent, Conversation, LLMCall, Message
from storage.models.base import Base
from storage.models.crm import (
    Activity,
    Contact,
    Customer,
    Deal,
    Invoice,
    Order,
    Org,
    Product,
    Task,
    User,
)
from storage.models.drafts import Draft, DraftExecution, DraftVersion
from storage.models.enums import (
    CallStatus,
    CustomerStatus,
    DealStage,
    DealStatus,
    DraftKind,
    DraftStatus,
    MessageRole,
    Role,
    TaskStatus,
)

__all__ = [
    "Activity",
    "AuditEvent",
    "Base",
    "CallStatus",
    "Contact",
    "Conversation",
    "Customer",
    "CustomerStatus",
    "Deal",
    "DealStage",
    "DealStatus",
    "Draft",
    "DraftExecution",
    "DraftKind",
    "DraftStatus",
    "DraftVersion",
    "Invoice",
    "LLMCall",
    "Message",
    "MessageRole",
    "Order",
    "Org",
    "Product",
    "Role",
    "Task",
    "TaskStatus",
    "User",
]
