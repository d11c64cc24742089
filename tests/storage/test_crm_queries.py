"""CRM read queries behave the same on SQLite and PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

from storage.models import Customer, Deal, DealStage
from storage.types import utcnow
from storage.uow import UnitOfWork


def _customer(uow, org_id):
    customer = Customer(org_id=org_id, external_id="C1", name="Halvorsen Marine", tags=["fleet"])
    uow.session.add(customer)
    uow.session.flush()
    return customer


def test_open_deals_are_biggest_first_by_amount_not_by_text(any_factory):
    with UnitOfWork(any_factory) as uow:
        org = uow.orgs.ensure(slack_team_id="T1")
        customer = _customer(uow, org.id)
        for n, amount in enumerate(["37900", "144000", "9500.50"]):
            uow.session.add(
                Deal(
                    org_id=org.id,
                    external_id=f"D{n}",
                    customer_id=customer.id,
                    title=f"deal {n}",
                    stage=DealStage.PROPOSAL,
                    amount=Decimal(amount),
                    stage_changed_at=utcnow() - timedelta(days=n),
                )
            )
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        amounts = [d.amount for d in uow.crm.open_deals(org.id, customer.id)]
    assert amounts == [Decimal("144000"), Decimal("37900"), Decimal("9500.50")]


def test_in_place_tag_edits_are_saved(any_factory):
    with UnitOfWork(any_factory) as uow:
        org = uow.orgs.ensure(slack_team_id="T1")
        customer_id = _customer(uow, org.id).id
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        customer = uow.crm.customer(org.id, customer_id)
        customer.tags.append("renewal")
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        assert uow.crm.customer(org.id, customer_id).tags == ["fleet", "renewal"]


def test_search_never_crosses_orgs(any_factory):
    with UnitOfWork(any_factory) as uow:
        first = uow.orgs.ensure(slack_team_id="T1")
        second = uow.orgs.ensure(slack_team_id="T2")
        _customer(uow, first.id)
        uow.commit()
    with UnitOfWork(any_factory) as uow:
        assert [c.name for c in uow.crm.search_customers(first.id, "halvorsen")] == [
            "Halvorsen Marine"
        ]
        assert uow.crm.search_customers(second.id, "halvorsen") == []
