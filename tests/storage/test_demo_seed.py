from datetime import UTC, datetime, timedelta
from importlib.resources import files

from sqlalchemy import func, select

from storage.demo import load_demo_document, seed_demo, shift_to
from storage.models import (
    Activity,
    Contact,
    Customer,
    Deal,
    DealStage,
    DealStatus,
    Invoice,
    Role,
    Task,
    TaskStatus,
    User,
)
from storage.uow import UnitOfWork

# Deliberately far from the file's as_of, so only shifted dates can pass "recent" checks.
NOW = datetime(2031, 3, 5, 12, 0, tzinfo=UTC)


def seeded(factory, now=NOW):
    with UnitOfWork(factory) as uow:
        org_id = uow.orgs.ensure(slack_team_id="T1").id
        uow.commit()
    seed_demo(factory, org_id=org_id, now=now)
    return org_id


def rows(factory, stmt):
    with UnitOfWork(factory) as uow:
        return uow.session.execute(stmt).all()


def test_demo_file_is_small_and_in_the_import_format():
    raw = (files("storage") / "data" / "demo_crm.json").read_bytes()
    document = load_demo_document()

    assert len(raw) < 40_000
    assert document["as_of"] == "2026-11-01T09:00:00+00:00"
    assert len(document["customers"]) == 12
    assert 8 <= len(document["products"]) <= 14


def test_shifting_moves_every_timestamp_by_the_same_delta_and_drops_as_of():
    document = load_demo_document()
    shifted = shift_to(document, now=NOW)
    delta = NOW - datetime.fromisoformat(document["as_of"])

    assert "as_of" not in shifted
    for before, after in zip(document["deals"], shifted["deals"], strict=True):
        moved = datetime.fromisoformat(after["stage_changed_at"])
        assert moved - datetime.fromisoformat(before["stage_changed_at"]) == delta


def test_demo_users_have_the_emulator_slack_ids_roles_and_managers(sqlite_factory):
    seeded(sqlite_factory)

    users = {u.slack_user_id: u for (u,) in rows(sqlite_factory, select(User))}

    assert {sid: (u.name, u.email, u.role) for sid, u in users.items()} == {
        "U_REP1": ("Maya Chen", "maya@demo.countersign.dev", Role.REP),
        "U_REP2": ("Leo Okafor", "leo@demo.countersign.dev", Role.REP),
        "U_MGR1": ("Jordan Blake", "jordan@demo.countersign.dev", Role.MANAGER),
        "U_ADMIN1": ("Priya Natarajan", "priya@demo.countersign.dev", Role.ADMIN),
    }
    jordan = users["U_MGR1"].id
    assert (users["U_REP1"].manager_id, users["U_REP2"].manager_id) == (jordan, jordan)


def test_demo_has_a_deal_in_every_stage(sqlite_factory):
    seeded(sqlite_factory)

    stages = {stage for (stage,) in rows(sqlite_factory, select(Deal.stage).distinct())}

    assert stages == set(DealStage)


def test_halvorsen_has_a_renewal_in_negotiation_and_a_recent_inspection(sqlite_factory):
    seeded(sqlite_factory)

    ((halvorsen, owner_email),) = rows(
        sqlite_factory,
        select(Customer, User.email)
        .join(User, Customer.owner_id == User.id)
        .where(Customer.external_id == "CUST-HALV"),
    )
    contacts = dict(
        rows(
            sqlite_factory,
            select(Contact.name, Contact.title).where(Contact.customer_id == halvorsen.id),
        )
    )
    deals = [
        d for (d,) in rows(sqlite_factory, select(Deal).where(Deal.customer_id == halvorsen.id))
    ]
    meetings = rows(
        sqlite_factory,
        select(Activity.summary).where(
            Activity.customer_id == halvorsen.id,
            Activity.kind == "meeting",
            Activity.occurred_at > NOW - timedelta(days=7),
        ),
    )

    assert (halvorsen.name, owner_email) == ("Halvorsen Marine", "maya@demo.countersign.dev")
    assert contacts["Ingrid Halvorsen"] == "Operations Director"
    assert len(contacts) >= 2
    assert any(d.stage is DealStage.NEGOTIATION and "renewal" in d.title.lower() for d in deals)
    assert any("hull inspection" in summary.lower() for (summary,) in meetings)


def test_demo_has_overdue_invoice_and_overdue_task_relative_to_now(sqlite_factory):
    org_id = seeded(sqlite_factory)

    overdue_invoices = rows(
        sqlite_factory,
        select(Invoice.external_id).where(
            Invoice.org_id == org_id, Invoice.paid_at.is_(None), Invoice.due_at < NOW
        ),
    )
    paid_invoices = rows(sqlite_factory, select(Invoice.id).where(Invoice.paid_at.is_not(None)))
    overdue_tasks = rows(
        sqlite_factory,
        select(Task.title).where(Task.status == TaskStatus.OPEN, Task.due_at < NOW),
    )

    assert overdue_invoices and paid_invoices and overdue_tasks


def test_demo_mixes_recently_active_and_stale_customers(sqlite_factory):
    seeded(sqlite_factory)

    last_activity = dict(
        rows(
            sqlite_factory,
            select(Activity.customer_id, func.max(Activity.occurred_at)).group_by(
                Activity.customer_id
            ),
        )
    )
    ages = [NOW - at for at in last_activity.values()]

    assert len(last_activity) == 12
    assert sum(age <= timedelta(days=7) for age in ages) >= 7
    assert sum(age > timedelta(days=14) for age in ages) >= 3
    assert sum(age > timedelta(days=30) for age in ages) >= 2


def test_demo_has_an_open_deal_stuck_in_its_stage_for_over_two_weeks(sqlite_factory):
    seeded(sqlite_factory)

    stuck = rows(
        sqlite_factory,
        select(Deal.external_id).where(
            Deal.status == DealStatus.OPEN, Deal.stage_changed_at < NOW - timedelta(days=14)
        ),
    )

    assert stuck


def test_seeding_twice_with_the_same_now_changes_nothing(any_factory):
    org_id = seeded(any_factory)

    again = seed_demo(any_factory, org_id=org_id, now=NOW)

    assert not again.changed
    assert again.customers.unchanged == 12
    assert again.activities.unchanged == again.activities.total > 0
