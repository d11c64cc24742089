"""Quote tools over the demo catalog on SQLite and PostgreSQL: exact golden prices (quantity
breaks, rounding, the discount limits), configuration from requirements, the offline planner.

Rules under test (agents/data/pricing.json): Pumps 5% from 5, 8% from 10; Spares 5% from 10,
10% from 25; reps may give 10%, managers 20%."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.drafts.email import SmtpSettings
from agents.drafts.policy import ApprovalPolicy
from agents.drafts.service import DraftService
from agents.loop import Stop
from agents.specialists import QUOTES
from agents.tools.base import ToolInputError
from agents.tools.pricing import price_quote
from agents.tools.quotes import calculate_price, configure_system, search_products
from storage.models import Draft, Product
from storage.models.enums import DraftKind
from storage.uow import UnitOfWork
from tests.agents.drafts_fixtures import NOW, TTL, Clock
from tests.agents.orders_quotes_fixtures import Crm, other_org_customer, seeded_crm

BILGE, ANODE, GOLD = "PMP-BLG-200", "ANO-ZN-10", "SVC-CARE-GOLD"


@pytest.fixture
def crm(any_factory) -> Crm:
    return seeded_crm(any_factory)


def _price(crm: Crm, *lines: tuple[str, int], discount: str = "0", **extra):
    return crm.run(
        calculate_price,
        lines=[{"sku": sku, "quantity": n} for sku, n in lines],
        discount_percent=discount,
        **extra,
    )


def _line_prices(result) -> list[tuple[str, int, str, str, str]]:
    return [
        (ln["sku"], ln["quantity"], ln["break_percent"], ln["unit_price"], ln["line_total"])
        for ln in result["lines"]
    ]


def test_four_bilge_pumps_are_list_price_and_the_next_break_is_named(crm):
    result = _price(crm, (BILGE, 4))
    assert _line_prices(result) == [(BILGE, 4, "0", "1480.00", "5920.00")]
    assert (result["subtotal"], result["total"], result["approval"]) == (
        "5920.00",
        "5920.00",
        "rep",
    )
    assert result["_meta"]["next_breaks"] == [
        {"sku": BILGE, "at_quantity": 5, "percent": "5", "add_units": 1}
    ]


@pytest.mark.parametrize(
    ("quantity", "percent", "unit", "total"),
    [
        (5, "5", "1406.00", "7030.00"),
        (9, "5", "1406.00", "12654.00"),
        (10, "8", "1361.60", "13616.00"),
    ],
)
def test_pump_quantity_breaks(crm, quantity, percent, unit, total):
    assert _line_prices(_price(crm, (BILGE, quantity))) == [(BILGE, quantity, percent, unit, total)]


def test_a_broken_unit_price_rounds_half_up_to_the_cent_before_the_quantity(crm):
    # 96.75 x 0.95 = 91.9125 -> 91.91; x 12 = 1102.92 (not 12 x 91.9125 = 1102.95)
    assert _line_prices(_price(crm, (ANODE, 12))) == [(ANODE, 12, "5", "91.91", "1102.92")]


def test_a_split_line_is_merged_so_it_still_reaches_its_break(crm):
    assert _line_prices(_price(crm, (BILGE, 3), (BILGE, 2))) == [
        (BILGE, 5, "5", "1406.00", "7030.00")
    ]


def test_negotiated_discount_on_the_subtotal_golden(crm):
    result = _price(crm, (ANODE, 12), (GOLD, 2), discount="12.5")
    # 1102.92 + 48000.00 = 49102.92; 12.5% = 6137.865 -> 6137.87
    assert (result["list_total"], result["subtotal"]) == ("49161.00", "49102.92")
    assert result["discount"] == {"percent": "12.5", "amount": "6137.87"}
    assert result["total"] == "42965.05"
    assert result["_meta"]["savings_vs_list"] == "6195.95"


@pytest.mark.parametrize(
    ("discount", "approval"), [("0", "rep"), ("10", "rep"), ("10.01", "manager"), ("20", "manager")]
)
def test_a_rep_may_give_ten_percent_and_a_manager_twenty(crm, discount, approval):
    result = _price(crm, (BILGE, 4), discount=discount)
    assert result["approval"] == approval
    assert result["_meta"]["needs_manager_approval"] is (approval == "manager")


def test_a_discount_above_the_managers_limit_is_refused_with_the_limits(crm):
    with pytest.raises(ToolInputError, match=r"20.01% discount is above the 20%.*reps up to 10%"):
        _price(crm, (BILGE, 4), discount="20.01")


def test_unknown_skus_and_other_orgs_customers_are_refused(crm):
    with pytest.raises(ToolInputError, match="unknown SKU.*PMP-NOPE"):
        _price(crm, (BILGE, 1), ("PMP-NOPE", 1))
    foreign = other_org_customer(crm, "Halvorsen Marine")
    with pytest.raises(ToolInputError, match="no customer with id"):
        _price(crm, (BILGE, 1), customer_id=foreign)


def test_a_quote_for_a_customer_lists_its_contacts_to_send_it_to(crm):
    result = _price(crm, (BILGE, 4), customer_id=crm.ids["Halvorsen Marine"])
    emails = [c["email"] for c in result["customer"]["contacts"]]
    assert emails == ["ingrid@halvorsen-marine.no", "tomas.berg@halvorsen-marine.no"]


def test_search_ranks_the_best_match_first_and_reads_capacities(crm):
    result = crm.run(search_products, query="bilge pumps")
    assert result["products"][0] == {
        "sku": BILGE,
        "name": "Bilge pump, 200 L/min, bronze",
        "category": "Pumps",
        "list_price": "1480.00",
        "capacity": "200 L/min",
    }
    assert result["_meta"]["quantity_breaks"] == {
        "Pumps": [{"min_quantity": 5, "percent": "5"}, {"min_quantity": 10, "percent": "8"}]
    }
    spares = crm.run(search_products, category="Spares")
    assert sorted(p["sku"] for p in spares["products"]) == [ANODE, "FLT-LUB-12"]
    assert crm.run(search_products, query="")["_meta"]["count"] == 10  # the default limit


def test_configure_sizes_each_need_and_says_why(crm):
    result = crm.run(
        configure_system,
        requirements=[
            {"need": "bilge pumps", "min_capacity": 350, "capacity_unit": "L/min", "count": 2},
            {"need": "ballast pump", "min_capacity": "400", "capacity_unit": "m3/h"},
            {"need": "oily water separator"},
            {"need": "hovercraft"},
        ],
    )
    assert [(ln["sku"], ln["quantity"]) for ln in result["lines"]] == [
        (BILGE, 4),
        ("PMP-BAL-450", 1),
        ("SEP-OWS-5", 1),
    ]
    assert result["lines"][0]["why"] == "2 of the largest cover 350 l/min; × 2 installations"
    assert result["unmet"] == [
        {"need": "hovercraft", "reason": "nothing in the catalog matches 'hovercraft'"}
    ]


@pytest.mark.parametrize(
    ("need", "unit", "pumps"),
    [("12", "m3/h", 1), ("12.01", "m3/h", 2), ("12000", "L/h", 1), ("12001", "L/h", 2)],
)
def test_capacity_units_convert_exactly(crm, need, unit, pumps):
    # A 200 L/min pump is exactly 12 m3/h and 12000 L/h: one is enough, a hair more needs two.
    requirement = {"need": "bilge pump", "min_capacity": need, "capacity_unit": unit}
    result = crm.run(configure_system, requirements=[requirement])
    assert result["lines"][0]["quantity"] == pumps


def test_configure_input_problems_are_named(crm):
    with pytest.raises(ToolInputError, match="min_capacity needs a capacity_unit"):
        crm.run(configure_system, requirements=[{"need": "bilge pump", "min_capacity": 10}])
    with pytest.raises(ToolInputError, match="capacity_unit"):
        crm.run(
            configure_system,
            requirements=[{"need": "bilge pump", "min_capacity": 10, "capacity_unit": "gallons"}],
        )


def _product(price: str, category: str) -> Product:
    return Product(sku=f"X-{category}", name="x", unit_price=Decimal(price), category=category)


@given(
    price=st.decimals(min_value="0.01", max_value="99999.99", places=2),
    quantity=st.integers(min_value=1, max_value=500),
    category=st.sampled_from(["Pumps", "Spares", "Deck machinery"]),
    discount=st.decimals(min_value=0, max_value=20, places=2),
)
def test_any_quote_adds_up_to_the_cent_and_never_exceeds_list(price, quantity, category, discount):
    quote = price_quote([(_product(str(price), category), quantity)], discount)
    amounts = [quote["subtotal"], quote["total"], quote["discount"]["amount"]]
    assert all(Decimal(a) == Decimal(a).quantize(Decimal("0.01")) for a in amounts)
    assert Decimal(quote["total"]) == Decimal(quote["subtotal"]) - Decimal(amounts[2])
    assert Decimal(quote["total"]) <= Decimal(quote["list_total"])


def test_offline_price_request_is_answered_from_calculate_price(crm):
    result, ctx = crm.ask_offline(QUOTES, "price 4 bilge pumps for Halvorsen")
    assert result.tools_called == ["search_products", "search_customers", "calculate_price"]
    assert "*Quote for Halvorsen Marine: $5,920*" in result.text
    assert "4 × Bilge pump, 200 L/min, bronze (PMP-BLG-200) @ $1,480 = $5,920" in result.text
    assert "1 more PMP-BLG-200 would reach the 5% break" in result.text
    assert ctx.state.customer_id == crm.ids["Halvorsen Marine"]


def test_offline_asks_which_product_when_the_words_fit_several(crm):
    result, _ = crm.ask_offline(QUOTES, "price 3 pumps")
    assert result.tools_called == ["search_products"]
    assert 'Which product do you mean by "pumps"?' in result.text and BILGE in result.text


def test_offline_send_the_quote_proposes_an_email_to_a_contact(crm):
    smtp = SmtpSettings(host=None)  # proposing sends nothing
    drafts = DraftService(
        factory=crm.factory, policy=ApprovalPolicy(), ttl=TTL, smtp=smtp, clock=Clock(NOW)
    )
    ask = "send a quote for 12 zinc anodes to Atlantic Ferries with 5% off"
    result, ctx = crm.ask_offline(QUOTES, ask, drafts=drafts)
    assert result.stop == Stop.DRAFTED
    with UnitOfWork(crm.factory) as uow:
        draft = uow.session.get(Draft, ctx.state.draft_ids[0])
        assert draft is not None
        assert draft.kind == DraftKind.EMAIL
        assert draft.payload["to_address"] == "niamh.gallagher@atlanticferries.ie"
        # 12 x 91.91 = 1102.92; 5% = 55.146 -> 55.15; total 1047.77
        assert "12 x Zinc hull anode, 10 kg (ANO-ZN-10) at $91.91 each" in draft.payload["body"]
        assert "Total: $1,047.77" in draft.payload["body"]
