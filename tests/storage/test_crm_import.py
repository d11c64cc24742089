import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from storage.crm_import import CrmImportError, import_crm_document, import_crm_file
from storage.models import (
    Activity,
    Contact,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    DealStatus,
    Invoice,
    Order,
    Product,
    Role,
    Task,
    TaskStatus,
    User,
)
from storage.uow import UnitOfWork

CRM_MODELS = (User, Customer, Contact, Deal, Activity, Task, Order, Invoice, Product)
MAYA = "maya@example.com"
JORDAN = "jordan@example.com"


def make_org(factory, team="T1"):
    with UnitOfWork(factory) as uow:
        org = uow.orgs.ensure(slack_team_id=team)
        uow.commit()
        return org.id


def row_counts(factory, org_id=None):
    with UnitOfWork(factory) as uow:
        counts = {}
        for model in CRM_MODELS:
            stmt = select(func.count()).select_from(model)
            if org_id is not None:
                stmt = stmt.where(model.org_id == org_id)
            counts[model.__tablename__] = uow.session.scalar(stmt)
        return counts


def one(factory, stmt):
    with UnitOfWork(factory) as uow:
        return uow.session.scalars(stmt).one()


def full_document():
    return {
        "users": [
            {
                "email": " Maya@Example.com ",
                "name": "Maya Chen",
                "slack_user_id": "U1",
                "role": "Rep",
                "manager_email": JORDAN,
            },
            {"email": JORDAN, "name": "Jordan Blake", "role": "MANAGER"},
        ],
        "products": [
            {"sku": "ANO-1", "name": "Zinc anode", "unit_price": 19.99, "category": "Spares"},
            {"sku": "WCH-10", "name": "Winch", "unit_price": "1234.5678"},
        ],
        "customers": [
            {
                "external_id": "C1",
                "name": "Halvorsen Marine",
                "company": "Halvorsen Marine AS",
                "status": " Prospect ",
                "tags": ["norway", "fleet"],
                "owner_email": MAYA,
                "contacts": [
                    {"name": "Ingrid Halvorsen", "email": "ingrid@halvorsen.no", "title": "Ops"},
                    {"name": "Tomas Berg", "phone": "+47 5521"},
                ],
            },
            {"external_id": "C2", "name": "Baltic Tug"},
        ],
        "deals": [
            {
                "external_id": "D1",
                "customer": "C1",
                "title": "Renewal 2027",
                "stage": "negotiation",
                "amount": 19.99,
                "owner_email": MAYA,
                "stage_changed_at": "2026-10-22T14:10:00Z",
                "expected_close_at": "2026-11-28T17:00:00+01:00",
            },
            {
                "external_id": "D2",
                "customer": "C2",
                "title": "Winches",
                "stage": "closed_won",
                "amount": "85000.00",
                "stage_changed_at": "2026-09-01T10:00:00+00:00",
            },
        ],
        "activities": [
            {
                "customer": "C1",
                "deal": "D1",
                "kind": "Meeting",
                "summary": "Hull inspection on MV Nordkapp.",
                "occurred_at": "2026-10-30T14:30:00+02:00",
                "user_email": MAYA,
            }
        ],
        "tasks": [
            {
                "customer": "C1",
                "title": "Send quote v3",
                "due_at": "2026-11-04T17:00:00Z",
                "assignee_email": MAYA,
            },
            {"title": "Review pipeline", "status": "done"},
        ],
        "orders": [
            {
                "external_id": "O1",
                "customer": "C2",
                "number": "SO-1",
                "status": "shipped",
                "total": "1935.00",
                "placed_at": "2026-10-21T15:10:00+00:00",
            }
        ],
        "invoices": [
            {
                "external_id": "I1",
                "customer": "C2",
                "order": "O1",
                "amount": "1935.00",
                "due_at": "2026-11-20T00:00:00+00:00",
                "paid_at": None,
            }
        ],
    }


def write_json(tmp_path, document, name="crm.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_full_document_round_trips_every_section(any_factory):
    org_id = make_org(any_factory)

    report = import_crm_document(any_factory, org_id=org_id, document=full_document())

    assert {name: c.created for name, c in report.sections().items()} == {
        "users": 2,
        "products": 2,
        "customers": 2,
        "contacts": 2,
        "deals": 2,
        "orders": 1,
        "invoices": 1,
        "activities": 1,
        "tasks": 2,
    }
    maya = one(any_factory, select(User).where(User.email == MAYA))
    jordan = one(any_factory, select(User).where(User.email == JORDAN))
    assert (maya.name, maya.slack_user_id, maya.role, maya.manager_id) == (
        "Maya Chen",
        "U1",
        Role.REP,
        jordan.id,
    )
    assert jordan.role is Role.MANAGER
    anode = one(any_factory, select(Product).where(Product.sku == "ANO-1"))
    winch = one(any_factory, select(Product).where(Product.sku == "WCH-10"))
    assert anode.unit_price == Decimal("19.99")
    assert (anode.category, winch.unit_price, winch.category) == (
        "Spares",
        Decimal("1234.5678"),
        None,
    )
    c1 = one(any_factory, select(Customer).where(Customer.external_id == "C1"))
    assert (c1.name, c1.company, c1.status, c1.tags, c1.owner_id) == (
        "Halvorsen Marine",
        "Halvorsen Marine AS",
        CustomerStatus.PROSPECT,
        ["norway", "fleet"],
        maya.id,
    )
    with UnitOfWork(any_factory) as uow:
        contacts = uow.session.scalars(select(Contact).order_by(Contact.name)).all()
        assert [(c.customer_id, c.name, c.email, c.phone, c.title) for c in contacts] == [
            (c1.id, "Ingrid Halvorsen", "ingrid@halvorsen.no", None, "Ops"),
            (c1.id, "Tomas Berg", None, "+47 5521", None),
        ]
    d1 = one(any_factory, select(Deal).where(Deal.external_id == "D1"))
    assert d1.amount == Decimal("19.99")
    assert (d1.customer_id, d1.stage, d1.status, d1.owner_id) == (
        c1.id,
        DealStage.NEGOTIATION,
        DealStatus.OPEN,
        maya.id,
    )
    assert d1.stage_changed_at == datetime(2026, 10, 22, 14, 10, tzinfo=UTC)
    assert d1.expected_close_at == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert d1.expected_close_at.utcoffset() == timedelta(0)
    d2 = one(any_factory, select(Deal).where(Deal.external_id == "D2"))
    assert (d2.amount, d2.status, d2.owner_id) == (Decimal("85000"), DealStatus.WON, None)
    activity = one(any_factory, select(Activity))
    assert (activity.customer_id, activity.deal_id, activity.kind, activity.user_id) == (
        c1.id,
        d1.id,
        "meeting",
        maya.id,
    )
    assert activity.summary == "Hull inspection on MV Nordkapp."
    assert activity.occurred_at == datetime(2026, 10, 30, 12, 30, tzinfo=UTC)
    assert activity.occurred_at.tzinfo is not None
    assert len(activity.import_key) == 64
    quote = one(any_factory, select(Task).where(Task.title == "Send quote v3"))
    review = one(any_factory, select(Task).where(Task.title == "Review pipeline"))
    assert (quote.customer_id, quote.status, quote.assignee_id) == (c1.id, TaskStatus.OPEN, maya.id)
    assert quote.due_at == datetime(2026, 11, 4, 17, tzinfo=UTC)
    assert (review.customer_id, review.due_at, review.status) == (None, None, TaskStatus.DONE)
    order = one(any_factory, select(Order))
    invoice = one(any_factory, select(Invoice))
    assert (order.number, order.status, order.total) == ("SO-1", "shipped", Decimal("1935.00"))
    assert order.placed_at == datetime(2026, 10, 21, 15, 10, tzinfo=UTC)
    assert (invoice.order_id, invoice.amount, invoice.paid_at) == (order.id, Decimal("1935"), None)
    assert invoice.due_at == datetime(2026, 11, 20, tzinfo=UTC)


def test_second_import_of_same_document_changes_nothing(any_factory):
    org_id = make_org(any_factory)
    first = import_crm_document(any_factory, org_id=org_id, document=full_document())
    before = row_counts(any_factory)

    again = import_crm_document(any_factory, org_id=org_id, document=full_document())

    assert row_counts(any_factory) == before
    assert not again.changed
    assert {name: c.unchanged for name, c in again.sections().items()} == {
        name: c.created for name, c in first.sections().items()
    }


def test_reimport_with_changed_fields_updates_rows_in_place(sqlite_factory):
    org_id = make_org(sqlite_factory)
    import_crm_document(sqlite_factory, org_id=org_id, document=full_document())
    changed = full_document()
    changed["deals"][0].update(stage="closed_lost", amount="21000.50")
    changed["customers"][0]["tags"] = ["norway"]
    changed["customers"][0]["contacts"][0]["title"] = "Operations Director"
    changed["tasks"][0]["status"] = "done"
    changed["users"][0]["manager_email"] = None
    before = row_counts(sqlite_factory)

    report = import_crm_document(sqlite_factory, org_id=org_id, document=changed)

    assert row_counts(sqlite_factory) == before
    assert (report.deals.updated, report.deals.unchanged) == (1, 1)
    assert (report.customers.updated, report.contacts.updated, report.tasks.updated) == (1, 1, 1)
    assert report.users.updated == 1
    d1 = one(sqlite_factory, select(Deal).where(Deal.external_id == "D1"))
    assert (d1.stage, d1.status, d1.amount) == (
        DealStage.CLOSED_LOST,
        DealStatus.LOST,
        Decimal("21000.50"),
    )
    assert one(sqlite_factory, select(Customer).where(Customer.external_id == "C1")).tags == [
        "norway"
    ]
    ingrid = one(sqlite_factory, select(Contact).where(Contact.email == "ingrid@halvorsen.no"))
    assert ingrid.title == "Operations Director"
    task = one(sqlite_factory, select(Task).where(Task.title == "Send quote v3"))
    assert task.status is TaskStatus.DONE
    assert one(sqlite_factory, select(User).where(User.email == MAYA)).manager_id is None


def test_omitted_optional_field_keeps_stored_value_and_null_clears_it(sqlite_factory):
    org_id = make_org(sqlite_factory)
    import_crm_document(sqlite_factory, org_id=org_id, document=full_document())
    maya_only = {"users": [{"email": MAYA, "name": "Maya Chen"}]}

    import_crm_document(sqlite_factory, org_id=org_id, document=maya_only)
    kept = one(sqlite_factory, select(User).where(User.email == MAYA))
    maya_only["users"][0]["slack_user_id"] = None
    import_crm_document(sqlite_factory, org_id=org_id, document=maya_only)
    cleared = one(sqlite_factory, select(User).where(User.email == MAYA))

    assert (kept.slack_user_id, kept.manager_id is not None) == ("U1", True)
    assert (cleared.slack_user_id, cleared.manager_id is not None) == (None, True)


def test_deal_status_follows_closed_stage_when_omitted(sqlite_factory):
    org_id = make_org(sqlite_factory)
    document = full_document()
    document["deals"][0]["stage"] = "closed_lost"

    import_crm_document(sqlite_factory, org_id=org_id, document=document)

    statuses = {
        d.external_id: d.status for d in row_list(sqlite_factory, select(Deal).order_by(Deal.id))
    }
    assert statuses == {"D1": DealStatus.LOST, "D2": DealStatus.WON}


def row_list(factory, stmt):
    with UnitOfWork(factory) as uow:
        return uow.session.scalars(stmt).all()


def test_references_resolve_to_records_already_in_the_database(sqlite_factory, tmp_path):
    org_id = make_org(sqlite_factory)
    document = full_document()
    first = {key: document[key] for key in ("users", "customers", "orders")}
    second = {key: document[key] for key in ("deals", "activities", "tasks", "invoices")}
    import_crm_file(sqlite_factory, org_id=org_id, path=write_json(tmp_path, first, "a.json"))

    report = import_crm_file(
        sqlite_factory, org_id=org_id, path=write_json(tmp_path, second, "b.json")
    )

    assert (report.deals.created, report.invoices.created, report.activities.created) == (2, 1, 1)
    c1 = one(sqlite_factory, select(Customer).where(Customer.external_id == "C1"))
    maya = one(sqlite_factory, select(User).where(User.email == MAYA))
    d1 = one(sqlite_factory, select(Deal).where(Deal.external_id == "D1"))
    assert (d1.customer_id, d1.owner_id) == (c1.id, maya.id)
    order = one(sqlite_factory, select(Order))
    assert one(sqlite_factory, select(Invoice)).order_id == order.id
    assert one(sqlite_factory, select(Activity)).deal_id == d1.id


def test_same_external_ids_in_two_orgs_stay_separate(sqlite_factory):
    first_org = make_org(sqlite_factory, "T1")
    second_org = make_org(sqlite_factory, "T2")
    import_crm_document(sqlite_factory, org_id=first_org, document=full_document())
    renamed = full_document()
    renamed["customers"][0]["name"] = "Someone Else Entirely"

    report = import_crm_document(sqlite_factory, org_id=second_org, document=renamed)

    assert report.customers.created == 2 and not report.customers.updated
    assert row_counts(sqlite_factory, first_org) == row_counts(sqlite_factory, second_org)
    names = {
        c.org_id: c.name
        for c in row_list(sqlite_factory, select(Customer).where(Customer.external_id == "C1"))
    }
    assert names == {first_org: "Halvorsen Marine", second_org: "Someone Else Entirely"}


def _set(path, value):
    def mutate(document):
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _duplicate_first_deal(document):
    document["deals"].append(copy.deepcopy(document["deals"][0]))


BAD_DOCUMENTS = {
    "bad_enum": (
        _set(("deals", 1, "stage"), "won"),
        "crm.json: deals[1].stage: must be one of lead, qualified, proposal, negotiation, "
        "closed_won, closed_lost, got 'won'",
    ),
    "naive_timestamp": (
        _set(("activities", 0, "occurred_at"), "2026-10-30T14:30:00"),
        "crm.json: activities[0].occurred_at: must include a UTC offset such as +00:00 or Z, "
        "got '2026-10-30T14:30:00'",
    ),
    "bad_amount": (
        _set(("deals", 0, "amount"), "abc"),
        "crm.json: deals[0].amount: must be a decimal amount, got 'abc'",
    ),
    "negative_amount": (
        _set(("invoices", 0, "amount"), "-5"),
        "crm.json: invoices[0].amount: must not be negative, got '-5'",
    ),
    "nan_amount": (
        _set(("products", 1, "unit_price"), "NaN"),
        "crm.json: products[1].unit_price: must be a decimal amount, got 'NaN'",
    ),
    "too_many_decimal_places": (
        _set(("orders", 0, "total"), "1.23456"),
        "crm.json: orders[0].total: must have at most 4 decimal places, got '1.23456'",
    ),
    "unknown_customer": (
        _set(("orders", 0, "customer"), "C-NOPE"),
        "crm.json: orders[0].customer: unknown customer 'C-NOPE' "
        "(not in this file or the database)",
    ),
    "unknown_owner_email": (
        _set(("customers", 1, "owner_email"), "ghost@example.com"),
        "crm.json: customers[1].owner_email: unknown user 'ghost@example.com' "
        "(not in this file or the database)",
    ),
    "extra_field": (
        _set(("tasks", 1, "priority"), "high"),
        "crm.json: tasks[1].priority: unknown field",
    ),
    "extra_nested_field": (
        _set(("customers", 0, "contacts", 1, "linkedin"), "x"),
        "crm.json: customers[0].contacts[1].linkedin: unknown field",
    ),
    "unknown_section": (
        _set(("widgets",), []),
        "crm.json: widgets: unknown section (expected: users, products, customers, deals, "
        "orders, invoices, activities, tasks)",
    ),
    "missing_required_field": (
        lambda document: document["deals"][0].pop("title"),
        "crm.json: deals[0].title: is required",
    ),
    "duplicate_external_id": (
        _duplicate_first_deal,
        "crm.json: deals[2].external_id: duplicate external_id 'D1', first at deals[0]",
    ),
    "closed_stage_with_contradicting_status": (
        _set(("deals", 1, "status"), "lost"),
        "crm.json: deals[1]: stage closed_won needs status won, got 'lost'",
    ),
}


@pytest.mark.parametrize("mutate, expected", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_file_is_rejected_with_location_and_writes_nothing(
    sqlite_factory, tmp_path, mutate, expected
):
    org_id = make_org(sqlite_factory)
    import_crm_document(
        sqlite_factory, org_id=org_id, document={"users": [{"email": MAYA, "name": "Maya"}]}
    )
    before = row_counts(sqlite_factory)
    document = full_document()
    mutate(document)

    with pytest.raises(CrmImportError) as caught:
        import_crm_file(sqlite_factory, org_id=org_id, path=write_json(tmp_path, document))

    assert [str(problem) for problem in caught.value.problems] == [expected]
    assert str(caught.value) == expected
    assert row_counts(sqlite_factory) == before
    assert one(sqlite_factory, select(User).where(User.email == MAYA)).name == "Maya"


def test_invalid_json_is_reported_with_line_and_column(sqlite_factory, tmp_path):
    org_id = make_org(sqlite_factory)
    path = tmp_path / "crm.json"
    path.write_text('{\n  "users": [\n    {"email": "a@b.co",}\n  ]\n}\n')

    with pytest.raises(CrmImportError) as caught:
        import_crm_file(sqlite_factory, org_id=org_id, path=path)

    (problem,) = caught.value.problems
    assert (problem.file, problem.section, problem.index) == ("crm.json", "", None)
    assert str(problem) == (
        "crm.json: invalid JSON at line 3, column 24: "
        "Expecting property name enclosed in double quotes"
    )
    assert row_counts(sqlite_factory) == dict.fromkeys(row_counts(sqlite_factory), 0)


def test_every_problem_is_reported_at_once_in_file_order(sqlite_factory):
    org_id = make_org(sqlite_factory)
    document = full_document()
    document["tasks"][0]["due_at"] = "tomorrow"
    document["deals"][0]["amount"] = "lots"
    document["deals"][1]["customer"] = "C-NOPE"
    document["users"][0]["role"] = "boss"

    with pytest.raises(CrmImportError) as caught:
        import_crm_document(sqlite_factory, org_id=org_id, document=document, source="x.json")

    located = [(p.section, p.index, p.field) for p in caught.value.problems]
    assert located == [
        ("users", 0, "role"),
        ("deals", 0, "amount"),
        ("deals", 1, "customer"),
        ("tasks", 0, "due_at"),
    ]
    assert str(caught.value).count("\n") == 3
    assert row_counts(sqlite_factory)["customer"] == 0


def test_invalid_record_does_not_also_flag_its_referrers_as_unknown(sqlite_factory):
    org_id = make_org(sqlite_factory)
    document = full_document()
    document["customers"][0]["status"] = "vip"

    with pytest.raises(CrmImportError) as caught:
        import_crm_document(sqlite_factory, org_id=org_id, document=document)

    assert [(p.section, p.field) for p in caught.value.problems] == [("customers", "status")]


def test_slack_id_held_by_another_user_is_a_problem_not_a_database_error(sqlite_factory):
    org_id = make_org(sqlite_factory)
    import_crm_document(sqlite_factory, org_id=org_id, document=full_document())
    taken = {"users": [{"email": "new@example.com", "name": "New", "slack_user_id": "U1"}]}

    with pytest.raises(CrmImportError) as caught:
        import_crm_document(sqlite_factory, org_id=org_id, document=taken)

    assert str(caught.value) == (
        f"<document>: users[0].slack_user_id: 'U1' already belongs to {MAYA}"
    )


def test_problem_in_last_record_leaves_earlier_sections_unwritten(any_factory):
    org_id = make_org(any_factory)
    document = full_document()
    document["tasks"][-1]["status"] = "someday"

    with pytest.raises(CrmImportError):
        import_crm_document(any_factory, org_id=org_id, document=document)

    assert row_counts(any_factory) == dict.fromkeys(row_counts(any_factory), 0)


@pytest.fixture
def task_inserts_fail(any_factory):
    """A real database error in the last section written, after every other section."""
    dialect = any_factory.kw["bind"].dialect.name
    if dialect == "postgresql":
        create = [
            "CREATE FUNCTION cs_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'task inserts are broken'; END $$",
            "CREATE TRIGGER cs_test_fail BEFORE INSERT ON task "
            "FOR EACH ROW EXECUTE FUNCTION cs_test_fail()",
        ]
        drop = ["DROP TRIGGER cs_test_fail ON task", "DROP FUNCTION cs_test_fail()"]
    else:
        create = [
            "CREATE TRIGGER cs_test_fail BEFORE INSERT ON task "
            "BEGIN SELECT RAISE(ABORT, 'task inserts are broken'); END"
        ]
        drop = ["DROP TRIGGER cs_test_fail"]
    _execute(any_factory, create)
    yield any_factory
    _execute(any_factory, drop)


def _execute(factory, statements):
    with factory() as session:
        for statement in statements:
            session.execute(text(statement))
        session.commit()


def test_database_error_mid_write_rolls_back_the_whole_file(task_inserts_fail):
    factory = task_inserts_fail
    org_id = make_org(factory)

    with pytest.raises(DBAPIError, match="task inserts are broken"):
        import_crm_document(factory, org_id=org_id, document=full_document())

    assert row_counts(factory) == dict.fromkeys(row_counts(factory), 0)


def _many_customers(count):
    return {
        "customers": [{"external_id": f"C{n}", "name": f"Customer {n}"} for n in range(count)],
        "deals": [
            {
                "external_id": f"D{n}",
                "customer": f"C{n}",
                "title": "Spares",
                "stage": "lead",
                "amount": n,
                "stage_changed_at": "2026-10-01T00:00:00Z",
            }
            for n in range(count)
        ],
        "activities": [
            {
                "customer": f"C{n}",
                "kind": "call",
                "summary": "Checked in.",
                "occurred_at": "2026-10-02T00:00:00Z",
            }
            for n in range(count)
        ],
    }


def _selects_during_import(factory, org_id, document):
    engine = factory.kw["bind"]
    selects = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        import_crm_document(factory, org_id=org_id, document=document)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(selects)


def test_lookups_are_batched_not_one_query_per_record(sqlite_factory):
    small_org, big_org = make_org(sqlite_factory, "T1"), make_org(sqlite_factory, "T2")

    small = [_selects_during_import(sqlite_factory, small_org, _many_customers(5)) for _ in "12"]
    big = [_selects_during_import(sqlite_factory, big_org, _many_customers(400)) for _ in "12"]

    assert big == small
    assert max(big) < 20
    assert row_counts(sqlite_factory, big_org)["deal"] == 400
