"""Multi-workspace installs end to end: the OAuth flow over HTTP, tokens encrypted at rest,
each workspace answered with its own token, revocation and uninstall, key and signing-secret
rotation. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.emulator import BOT_USER_ID, app_mention_event
from bot.emulator.signing import EventSender
from bot.emulator.workspace_events import app_uninstalled_event, tokens_revoked_event
from bot.workspaces import WorkspaceNotInstalled
from storage.models.slack import slack_bots, slack_installations
from storage.slack_installs import (
    EncryptedInstallationStore,
    TokenCipher,
    TokenKeyError,
    rotate_token_key,
)
from storage.uow import UnitOfWork
from tests.bot.workspace_fixtures import CLIENT_ID, Installs, oauth_app


@pytest.fixture(params=["sqlite", "postgres"])
def installs(request, tmp_path):
    url = None
    if request.param == "postgres":
        request.getfixturevalue("pg_factory")  # emptied after the test
        url = request.getfixturevalue("pg_url")
    with oauth_app(tmp_path, database_url=url) as app:
        yield app


def _mention(app: Installs, team: str, channel: str, text: str = "hello") -> int:
    app.slack.add_channel(channel, channel.lower())
    said = app.slack.post_user_message(channel, "U_REP1", f"<@{BOT_USER_ID}> {text}")
    status, *_ = app.sender.post_event(
        app_mention_event(team, channel, "U_REP1", said.text, said.ts)
    )
    app.wait_idle()
    return status


def _posts_with(app: Installs, channel: str) -> set[str | None]:
    return {
        c.token for c in app.slack.calls_to("chat.postMessage") if c.params["channel"] == channel
    }


def test_two_workspaces_install_and_each_is_answered_with_its_own_token(installs):
    token_a = installs.install("T_ALPHA", "Alpha Inc")
    token_b = installs.install("T_BETA", "Beta GmbH")

    assert _mention(installs, "T_ALPHA", "C_ALPHA") == 200
    assert _mention(installs, "T_BETA", "C_BETA") == 200

    assert _posts_with(installs, "C_ALPHA") == {token_a}
    assert _posts_with(installs, "C_BETA") == {token_b}
    with UnitOfWork(installs.services.factory) as uow:
        names = {org.slack_team_id: org.name for org in uow.orgs.installed()}
    assert names == {"T_ALPHA": "Alpha Inc", "T_BETA": "Beta GmbH"}


def test_tokens_are_encrypted_at_rest(installs):
    token = installs.install("T_ALPHA", "Alpha Inc")
    with installs.services.engine.connect() as conn:
        stored = [*conn.execute(select(slack_bots.c.bot_token)).scalars()]
        stored += [*conn.execute(select(slack_installations.c.bot_token)).scalars()]
    assert stored and all(value and token not in value and "xoxb" not in value for value in stored)
    assert {TokenCipher(installs.keys).decrypt(value) for value in stored} == {token}


def test_a_forged_state_installs_nothing(installs):
    code, _ = installs.slack.approve_install("T_EVIL", "Evil")
    status, _, page = installs.get(f"/slack/oauth_redirect?code={code}&state=forged")
    assert status >= 400
    with installs.services.engine.connect() as conn:
        assert conn.execute(select(slack_bots.c.id)).first() is None
    assert installs.slack.calls_to("oauth.v2.access") == []


def test_uninstall_deletes_the_tokens_and_stops_the_workspace(installs):
    installs.install("T_ALPHA", "Alpha Inc")
    installs.install("T_BETA", "Beta GmbH")

    status, *_ = installs.sender.post_event(app_uninstalled_event("T_BETA"))
    assert status == 200

    with pytest.raises(WorkspaceNotInstalled):
        installs.services.slack_for("T_BETA")
    installs.services.slack_for("T_ALPHA")  # the other workspace is untouched
    with UnitOfWork(installs.services.factory) as uow:
        assert [org.slack_team_id for org in uow.orgs.installed()] == ["T_ALPHA"]
        assert uow.orgs.by_team("T_BETA").uninstalled_at is not None
    # A late event from the uninstalled workspace is acked and answered by nobody.
    assert _mention(installs, "T_BETA", "C_BETA") == 200
    assert _posts_with(installs, "C_BETA") == set()


def test_reinstalling_brings_the_org_back(installs):
    installs.install("T_BETA", "Beta GmbH")
    installs.sender.post_event(app_uninstalled_event("T_BETA"))
    token = installs.install("T_BETA", "Beta GmbH")
    with UnitOfWork(installs.services.factory) as uow:
        assert uow.orgs.by_team("T_BETA").uninstalled_at is None
    assert _mention(installs, "T_BETA", "C_BETA") == 200
    assert _posts_with(installs, "C_BETA") == {token}


def test_revoked_bot_tokens_are_forgotten(installs):
    installs.install("T_ALPHA", "Alpha Inc")
    status, *_ = installs.sender.post_event(tokens_revoked_event("T_ALPHA"))
    assert status == 200
    with pytest.raises(WorkspaceNotInstalled):
        installs.services.slack_for("T_ALPHA")


def test_rotating_the_key_re_encrypts_every_token(installs):
    token = installs.install("T_ALPHA", "Alpha Inc")
    old = installs.keys[0]
    new = Fernet.generate_key().decode()
    engine = installs.services.engine

    assert rotate_token_key(engine, TokenCipher([new, old])) == 2  # installation + bot rows

    only_new = EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=engine, cipher=TokenCipher([new])
    )
    assert only_new.find_bot(enterprise_id=None, team_id="T_ALPHA").bot_token == token
    only_old = EncryptedInstallationStore(
        client_id=CLIENT_ID, engine=engine, cipher=TokenCipher([old])
    )
    with pytest.raises(TokenKeyError):
        only_old.find_bot(enterprise_id=None, team_id="T_ALPHA")


def test_during_a_signing_secret_rotation_both_secrets_are_accepted(tmp_path):
    with oauth_app(tmp_path, previous_secret="the-old-secret") as app:
        app.install("T_ALPHA", "Alpha Inc")
        body = json.dumps({"type": "url_verification", "challenge": "abc", "token": "x"})
        old = EventSender(app.url, "the-old-secret").post(body, "application/json")
        new = app.sender.post(body, "application/json")
        other = EventSender(app.url, "not-a-secret-we-know").post(body, "application/json")
    assert (old[0], new[0], other[0]) == (200, 200, 401)
    assert "abc" in old[2] and "abc" in new[2]
