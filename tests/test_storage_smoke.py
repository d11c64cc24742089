from storage.models import Org
from storage.uow import UnitOfWork


def test_org_is_created_once_per_team(any_factory):
    with UnitOfWork(any_factory) as uow:
        first = uow.orgs.ensure(slack_team_id="T1", name="Acme")
        again = uow.orgs.ensure(slack_team_id="T1")
        uow.commit()
    assert first.id == again.id
    with UnitOfWork(any_factory) as uow:
        assert uow.session.query(Org).count() == 1


def test_redis_claim_is_exclusive(redis_store):
    assert redis_store.claim("k", "a", ttl_seconds=5)
    assert not redis_store.claim("k", "b", ttl_seconds=5)
    assert redis_store.get("k") == "a"
