"""The orders tools and the offline orders planner over the demo CRM, on SQLite and PostgreSQL.

The demo clock (drafts_fixtures.NOW) stands where the demo file's `as_of` was: Seabright's
invoice is 30 days overdue, Atlantic Ferries' 32, Nordic's falls due in 11 days."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.drafts.email import SmtpSettings
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.service import DraftService
from agents.loop import Stop
from agents.specialists import ORDERS
from agents.tools.base import ToolInputError
from agents.tools.orders import get_order, list_invoices, list_orders, list_overdue_invoices
from storage.models import Draft
from storage.models.enums import DraftKind
from storage.uow import UnitOfWork
from tests.agents.drafts_fixtures import NOW, TTL, Clock
from tests.agents.orders_quotes_fixtures import Crm, other_org_customer, seeded_crm

SMTP_UNSET = SmtpSettings(host=None)  # proposing a draft sends nothing


@pytest.fixture
def crm(any_factory) -> Crm:
    return seeded_crm(any_factory)


def test_open_invoices_show_what_is_owed_and_how_late(crm):
    result = crm.run(list_invoices, customer_id=crm.ids["Seabright Shipyard"], state="open")
    assert result["invoices"] == [
        {
            "invoice": "INV-24040",
            "order": "SO-24040",
            "amount": "46800.00",
            "due": "2030-03-03",
            "state": "overdue",
            "days_overdue": 30,
        }
    ]
    meta = result["_meta"]
    assert meta["owed"] == {"count": 1, "amount": "46800.00"}
    assert meta["overdue"] == {"count": 1, "amount": "46800.00", "oldest_days": 30}
    assert result["_display"] == {
        "title": "Invoices — Seabright Shipyard",
        "subtitle": "$46,800 owed",
        "badge": "overdue",
    }


def test_a_customer_who_paid_everything_owes_nothing_and_the_paid_ones_say_when(crm):
    halvorsen = crm.ids["Halvorsen Marine"]
    assert crm.run(list_invoices, customer_id=halvorsen, state="open")["invoices"] == []
    everything = crm.run(list_invoices, customer_id=halvorsen)
    assert [(i["invoice"], i["state"], i["paid_days_late"]) for i in everything["invoices"]] == [
        ("INV-24017", "paid", 0),
        ("INV-24001", "paid", 0),
    ]
    assert everything["_meta"]["owed"] == {"count": 0, "amount": "0.00"}
    assert everything["_meta"]["paid_count"] == 2


def test_an_invoice_not_due_yet_counts_days_until_due(crm):
    result = crm.run(list_invoices, customer_id=crm.ids["Nordic Aquafarms"], state="open")
    assert [(i["invoice"], i["state"], i["days_until_due"]) for i in result["invoices"]] == [
        ("INV-24052", "due", 11)
    ]
    assert result["_meta"]["next_due_date"] == "2030-04-14"
    assert result["_meta"]["overdue"]["count"] == 0


def test_orders_come_newest_first_with_lifetime_value_and_invoice_state(crm):
    result = crm.run(list_orders, customer_id=crm.ids["Nordic Aquafarms"])
    assert [(o["number"], o["status"], o["total"], o["invoice"]) for o in result["orders"]] == [
        ("SO-24052", "shipped", "1558.00", {"invoice": "INV-24052", "state": "due"}),
        ("SO-24031", "delivered", "31800.00", {"invoice": "INV-24031", "state": "paid"}),
    ]
    meta = result["_meta"]
    assert (meta["order_count"], meta["lifetime_value"]) == (2, "33358.00")
    assert (meta["last_order_date"], meta["days_since_last_order"]) == ("2030-03-15", 17)
    assert meta["in_flight"] == ["SO-24052"]
    shipped = crm.run(list_orders, customer_id=crm.ids["Nordic Aquafarms"], status="Shipped")
    assert [o["number"] for o in shipped["orders"]] == ["SO-24052"]


def test_an_order_is_found_by_number_whatever_the_case(crm):
    result = crm.run(get_order, number="so-24040")
    assert result["customer"]["name"] == "Seabright Shipyard"
    assert result["_meta"] == {
        "invoiced": "46800.00",
        "paid": "0.00",
        "outstanding": "46800.00",
        "not_invoiced": "0.00",
        "overdue": True,
    }
    with pytest.raises(ToolInputError, match="no order numbered 'SO-99999'"):
        crm.run(get_order, number="SO-99999")


def test_overdue_invoices_across_the_book_oldest_first_and_only_this_orgs(crm):
    result = crm.run(list_overdue_invoices)
    assert [
        (i["customer"]["name"], i["invoice"], i["order"], i["amount"], i["days_overdue"])
        for i in result["invoices"]
    ] == [
        ("Atlantic Ferries", "INV-24029", "SO-24044", "6800.00", 32),
        ("Seabright Shipyard", "INV-24040", "SO-24040", "46800.00", 30),
    ]
    # The second org holds the same CRM: seeing it would double every number here.
    assert result["_meta"] == {
        "count": 2,
        "amount": "53600.00",
        "customers": 2,
        "shown": 2,
        "oldest_days_overdue": 32,
    }
    assert crm.run(list_overdue_invoices, limit=1)["_meta"]["shown"] == 1


def test_another_orgs_customer_is_refused(crm):
    foreign = other_org_customer(crm, "Seabright Shipyard")
    with pytest.raises(ToolInputError, match="no customer with id"):
        crm.run(list_invoices, customer_id=foreign)
    with pytest.raises(ToolInputError, match="no customer with id"):
        crm.run(list_orders, customer_id=foreign)


def test_a_bad_invoice_state_is_an_input_error_naming_the_field(crm):
    with pytest.raises(ToolInputError, match="state"):
        crm.run(list_invoices, customer_id=crm.ids["Halvorsen Marine"], state="late-ish")


def test_offline_open_invoices_answer_comes_from_the_tools(crm):
    result, ctx = crm.ask_offline(ORDERS, "what are Halvorsen's open invoices?")
    assert result.tools_called == ["search_customers", "list_invoices"]
    assert "*Halvorsen Marine* owes nothing" in result.text and "No open invoices" in result.text
    assert ctx.state.customer_id == crm.ids["Halvorsen Marine"]


def test_offline_overdue_question_without_a_customer_reads_the_whole_book(crm):
    result, _ = crm.ask_offline(ORDERS, "which invoices are overdue?")
    assert result.tools_called == ["list_overdue_invoices"]
    assert "*2 overdue invoices, $53,600*" in result.text
    assert "Atlantic Ferries: INV-24029 $6,800, 32 days overdue" in result.text


def test_offline_order_by_number_and_order_history(crm):
    by_number, _ = crm.ask_offline(ORDERS, "status of so-24052?")
    assert by_number.tools_called == ["get_order"]
    assert "*SO-24052* for Nordic Aquafarms: $1,558, shipped" in by_number.text
    history, _ = crm.ask_offline(ORDERS, "last orders of Nordic Aquafarms")
    assert history.tools_called == ["search_customers", "list_orders"]
    assert "2 orders, $33,358 in total" in history.text


def test_offline_order_with_skus_proposes_an_order_draft(crm):
    drafts = DraftService(
        factory=crm.factory, policy=ApprovalPolicy(), ttl=TTL, smtp=SMTP_UNSET, clock=Clock(NOW)
    )
    result, ctx = crm.ask_offline(ORDERS, "order 2 PMP-BLG-200 for Halvorsen", drafts=drafts)
    assert result.stop == Stop.DRAFTED
    with UnitOfWork(crm.factory) as uow:
        draft = uow.session.get(Draft, ctx.state.draft_ids[0])
        assert draft is not None
        assert draft.kind == DraftKind.ORDER
        assert Decimal(draft.payload["total"]) == Decimal("2960")  # PostgreSQL keeps 4 places
