"""Where OAuth installations live: slack_sdk's SQLAlchemy stores, with tokens encrypted at rest.

Why a wrapper and not a subclass: slack_sdk's `save` calls `save_bot` on itself, so encrypting in
both overrides would encrypt the bot token twice. The wrapper encrypts once on the way in and
decrypts on the way out; the inner store never sees a plaintext token.

Keys are Fernet keys (`cryptography`), newest first. Every key decrypts, the first encrypts:
rotating is "put the new key first, run `countersign rotate-token-key`, drop the old key".
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Connection, Engine, Table, select, update

from storage.models.slack import (
    BOTS_TABLE,
    INSTALLATIONS_TABLE,
    OAUTH_STATES_TABLE,
    TOKEN_COLUMNS,
    slack_bots,
    slack_installations,
)

log = logging.getLogger(__name__)
Entity = TypeVar("Entity", Installation, Bot)


class TokenKeyError(Exception):
    """A stored token can't be decrypted with any configured key (a key was dropped too soon)."""


class TokenCipher:
    """Fernet encryption with every configured key able to decrypt and the first encrypting."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one token encryption key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise TokenKeyError(
                "a stored Slack token does not decrypt with COUNTERSIGN_TOKEN_KEYS"
            ) from None

    def rotate(self, stored: str) -> str:
        """The same token encrypted with the first key (a no-op for the data it protects)."""
        return self._fernet.rotate(stored.encode()).decode()


class EncryptedInstallationStore(InstallationStore):
    """slack_sdk's SQLAlchemy installation store with every token encrypted."""

    def __init__(self, *, client_id: str, engine: Engine, cipher: TokenCipher) -> None:
        self._inner = SQLAlchemyInstallationStore(
            client_id=client_id,
            engine=engine,
            bots_table_name=BOTS_TABLE,
            installations_table_name=INSTALLATIONS_TABLE,
            logger=log,
        )
        self._cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    def save(self, installation: Installation) -> None:
        self._inner.save(self._sealed(installation))

    def save_bot(self, bot: Bot) -> None:
        self._inner.save_bot(self._sealed(bot))

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = self._inner.find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(found) if found else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = self._inner.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._opened(found) if found else None

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self._inner.delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    def _sealed(self, entity: Entity) -> Entity:
        sealed = copy.copy(entity)
        for name in TOKEN_COLUMNS:
            if value := getattr(sealed, name, None):
                setattr(sealed, name, self._cipher.encrypt(value))
        return sealed

    def _opened(self, entity: Entity) -> Entity:
        for name in TOKEN_COLUMNS:
            if value := getattr(entity, name, None):
                setattr(entity, name, self._cipher.decrypt(value))
        return entity


def oauth_state_store(
    engine: Engine, *, expiration_seconds: int = 600
) -> SQLAlchemyOAuthStateStore:
    """slack_sdk's state store on our table: a state is good once, for ten minutes."""
    return SQLAlchemyOAuthStateStore(
        expiration_seconds=expiration_seconds,
        engine=engine,
        table_name=OAUTH_STATES_TABLE,
        logger=log,
    )


def rotate_token_key(engine: Engine, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token with the first key; returns how many were rewritten.

    One transaction: a failure (a token no configured key opens) leaves everything as it was."""
    rewritten = 0
    with engine.begin() as conn:
        for table in (slack_installations, slack_bots):
            rewritten += _rotate_table(conn, table, cipher)
    return rewritten


def _rotate_table(conn: Connection, table: Table, cipher: TokenCipher) -> int:
    columns = [table.c[name] for name in TOKEN_COLUMNS if name in table.c]
    rows = conn.execute(select(table.c.id, *columns)).mappings().all()
    count = 0
    for row in rows:
        values = {c.name: cipher.rotate(row[c.name]) for c in columns if row[c.name]}
        if values:
            conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
            count += len(values)
    return count
