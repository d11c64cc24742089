"""Orgs and their people."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Org, Role, User
from storage.repositories.upsert import insert_ignoring_conflict


class OrgRepository:
    """Orgs keyed by Slack team, and users keyed by Slack user id or email."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[Org]:
        """Every org, oldest first."""
        return list(self.session.scalars(select(Org).order_by(Org.id)))

    def installed(self) -> list[Org]:
        """Orgs whose workspace still has the app (periodic work skips the others)."""
        return list(
            self.session.scalars(select(Org).where(Org.uninstalled_at.is_(None)).order_by(Org.id))
        )

    def get(self, org_id: int) -> Org | None:
        """One org by id."""
        return self.session.get(Org, org_id)

    def users(self, org_id: int) -> list[User]:
        """Every person of the org, by name."""
        return list(
            self.session.scalars(select(User).where(User.org_id == org_id).order_by(User.name))
        )

    def by_team(self, slack_team_id: str) -> Org | None:
        """The org of a Slack workspace, if it has one."""
        return self.session.scalar(select(Org).where(Org.slack_team_id == slack_team_id))

    def ensure(self, *, slack_team_id: str, name: str | None = None) -> Org:
        """The org of a Slack workspace, created on first sight (safe under concurrency)."""
        org = self.by_team(slack_team_id)
        if org is not None:
            return org
        insert_ignoring_conflict(
            self.session,
            Org,
            {"slack_team_id": slack_team_id, "name": name or slack_team_id},
            conflict_columns=["slack_team_id"],
        )
        org = self.by_team(slack_team_id)
        assert org is not None  # inserted by us or by the racer we lost to
        return org

    def user_by_slack_id(self, org_id: int, slack_user_id: str) -> User | None:
        """The CRM user behind a Slack user id."""
        return self.session.scalar(
            select(User).where(User.org_id == org_id, User.slack_user_id == slack_user_id)
        )

    def user_by_email(self, org_id: int, email: str) -> User | None:
        """The CRM user with this email (case-insensitive)."""
        return self.session.scalar(
            select(User).where(User.org_id == org_id, User.email == email.strip().lower())
        )

    def user(self, org_id: int, user_id: int) -> User | None:
        """A user by id, only within its org."""
        return self.session.scalar(select(User).where(User.org_id == org_id, User.id == user_id))

    def ensure_user(
        self, *, org_id: int, slack_user_id: str, email: str | None, name: str, timezone: str
    ) -> User:
        """The user behind a Slack id: linked by email if the CRM knows them, else created."""
        if email:
            known = self.user_by_email(org_id, email)
            if known is not None:
                known.slack_user_id = known.slack_user_id or slack_user_id
                return known
        try:
            with self.session.begin_nested():  # a concurrent first sight may win the insert
                return self.add_user(
                    org_id=org_id,
                    email=email or f"{slack_user_id.lower()}@slack.invalid",
                    name=name,
                    slack_user_id=slack_user_id,
                    timezone=timezone,
                )
        except IntegrityError:
            found = self.user_by_slack_id(org_id, slack_user_id)
            assert found is not None
            return found

    def add_user(
        self,
        *,
        org_id: int,
        email: str,
        name: str,
        slack_user_id: str | None = None,
        role: Role = Role.REP,
        timezone: str = "UTC",
    ) -> User:
        """Add a person to the org."""
        user = User(
            org_id=org_id,
            email=email.strip().lower(),
            name=name,
            slack_user_id=slack_user_id,
            role=role,
            timezone=timezone,
        )
        self.session.add(user)
        self.session.flush()
        return user
