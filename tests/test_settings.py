"""Settings: one object, secrets hidden, bad values named."""

import pytest

from bot.cli import main
from bot.settings import Settings, SettingsError


def test_secrets_are_secret_str_and_never_printed(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = Settings.load()
    assert "very-secret" not in repr(settings)
    assert settings.slack.bot_token.get_secret_value() == "xoxb-very-secret"
    assert settings.agents.uses_model


def test_a_malformed_setting_is_named(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.load()


def test_a_malformed_number_is_named(monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_MAX_TURNS", "many")
    with pytest.raises(SettingsError, match="COUNTERSIGN_MAX_TURNS"):
        Settings.load()


def test_missing_required_settings_stop_serve_with_their_names(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--http", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET" in err and "SLACK_BOT_TOKEN" in err


def test_postgres_scheme_is_normalised_to_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert Settings.load().storage.database_url == "postgresql+psycopg://u@h/db"
