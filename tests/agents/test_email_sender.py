from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from agents.drafts.email import (
    EmailError,
    OutgoingEmail,
    SmtpSettings,
    build_message,
    send_email,
)
from bot.emulator.mailbox import Mailbox

# STARTTLS against a real TLS handshake is not tested: it needs a certificate generated at test
# time, and `cryptography` is not a dependency. The refusal to fall back to plain text is.


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


def _settings(box: Mailbox, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": box.host,
        "port": box.port,
        "security": "none",
        "sender": "Countersign <countersign@example.com>",
        "timeout_seconds": 5,
    }
    return SmtpSettings(**(values | overrides))


def _email(**overrides: Any) -> OutgoingEmail:
    email = OutgoingEmail(
        to_address="ingrid@example.com",
        to_name="Ingrid Berg",
        subject="Renewal for Acme",
        body="Hi Ingrid,\n\nthe renewal is attached.\n",
        reply_to="anna@seller.example",
        idempotency_key="draft-17-v2",
    )
    return replace(email, **overrides)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sent_email_arrives_with_sender_named_recipient_subject_body_and_reply_to(mailbox):
    sent = send_email(_settings(mailbox), _email())

    [received] = mailbox.wait_for(1)
    assert received["From"] == "Countersign <countersign@example.com>"
    assert received["To"] == "Ingrid Berg <ingrid@example.com>"
    assert received["Subject"] == "Renewal for Acme"
    assert received["Reply-To"] == "anna@seller.example"
    assert received["X-Countersign-Draft"] == "draft-17-v2"
    assert received["Date"].datetime.tzinfo is not None
    assert received.get_content() == "Hi Ingrid,\n\nthe renewal is attached.\n"
    assert sent.recipients == ("ingrid@example.com",)
    assert sent.message_id == received["Message-ID"]


def test_non_ascii_name_subject_and_body_survive_the_trip(mailbox):
    send_email(_settings(mailbox), _email(to_name="Søren Ærø", subject="Grüße", body="Blåbær\n"))

    [received] = mailbox.wait_for(1)
    assert received["To"].addresses[0].display_name == "Søren Ærø"
    assert received["Subject"] == "Grüße"
    assert received.get_content() == "Blåbær\n"


def test_without_reply_to_no_reply_to_header_is_sent(mailbox):
    send_email(_settings(mailbox), _email(reply_to=None, to_name=None))

    [received] = mailbox.wait_for(1)
    assert "Reply-To" not in received
    assert received["To"] == "ingrid@example.com"


def test_message_id_is_the_same_for_one_key_and_differs_between_keys(mailbox):
    settings = _settings(mailbox)
    first = send_email(settings, _email(idempotency_key="draft-17-v2"))
    resend = send_email(settings, _email(idempotency_key="draft-17-v2", subject="edited"))
    other = send_email(settings, _email(idempotency_key="draft-17-v3"))

    ids = [m["Message-ID"] for m in mailbox.wait_for(3)]
    assert ids == [first.message_id, resend.message_id, other.message_id]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<") and ids[0].endswith("@countersign>")


def test_newlines_in_subject_and_name_do_not_add_headers(mailbox):
    email = _email(
        subject="Renewal\r\nBcc: attacker@evil.example",
        to_name="Ingrid\nX-Injected: yes",
        reply_to="anna@seller.example\r\nCc: attacker@evil.example",
    )

    send_email(_settings(mailbox), email)

    [received] = mailbox.wait_for(1)
    assert sorted(received.keys()) == sorted(
        ["From", "To", "Subject", "Reply-To", "Date", "Message-ID", "X-Countersign-Draft"]
        + ["Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    )
    assert received["Subject"] == "Renewal Bcc: attacker@evil.example"
    assert received["To"].addresses[0].addr_spec == "ingrid@example.com"


def test_build_message_is_the_same_message_send_email_delivers(mailbox):
    settings = _settings(mailbox)
    built = build_message(settings, _email())

    send_email(settings, _email())

    [received] = mailbox.wait_for(1)
    for header in ("From", "To", "Subject", "Reply-To", "Message-ID", "X-Countersign-Draft"):
        assert received[header] == built[header]


def test_recipient_with_a_newline_is_refused_before_connecting():
    settings = SmtpSettings(host="127.0.0.1", port=_free_port(), security="none")

    with pytest.raises(EmailError, match="not an email address"):
        send_email(settings, _email(to_address="ingrid@example.com\r\nRCPT TO:<x@evil.example>"))


def test_refused_recipient_raises_email_error_naming_the_address():
    with Mailbox(refuse_recipients={"ingrid@example.com"}) as box:
        with pytest.raises(EmailError) as caught:
            send_email(_settings(box), _email())
        assert box.messages == []

    assert str(caught.value) == (
        "SMTP server refused the recipient ingrid@example.com: 550 5.1.1 mailbox unavailable"
    )
    assert caught.value.smtp_code == 550
    assert not caught.value.temporary


def test_temporary_server_refusal_raises_a_temporary_email_error(mailbox):
    mailbox.fail_next(1)

    with pytest.raises(EmailError) as caught:
        send_email(_settings(mailbox), _email())

    assert "451 4.3.0 try again later" in str(caught.value)
    assert f"127.0.0.1:{mailbox.port}" in str(caught.value)
    assert caught.value.temporary
    send_email(_settings(mailbox), _email())
    assert len(mailbox.wait_for(1)) == 1


def test_unconfigured_smtp_raises_email_error_naming_the_setting():
    settings = SmtpSettings(host=None)

    assert not settings.configured
    with pytest.raises(EmailError, match=r"not configured \(set COUNTERSIGN_SMTP_HOST\)"):
        send_email(settings, _email())


def test_unreachable_port_raises_email_error_naming_host_and_port():
    port = _free_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=2)

    with pytest.raises(EmailError, match=rf"could not connect to 127\.0\.0\.1:{port}: "):
        send_email(settings, _email())


def test_starttls_against_a_plain_server_fails_instead_of_sending_in_clear(mailbox):
    with pytest.raises(EmailError, match="STARTTLS") as caught:
        send_email(_settings(mailbox, security="starttls"), _email())

    assert f"127.0.0.1:{mailbox.port}" in str(caught.value)
    assert mailbox.messages == []


def test_password_is_hidden_in_settings_repr_and_str():
    settings = SmtpSettings(host="smtp.example.com", username="seller", password="hunter2-pw")

    assert "hunter2-pw" not in repr(settings)
    assert "hunter2-pw" not in str(settings)
    assert settings.password is not None
    assert settings.password.get_secret_value() == "hunter2-pw"


def test_right_password_logs_in_and_delivers():
    with Mailbox(accounts={"seller": "hunter2-pw"}) as box:
        send_email(_settings(box, username="seller", password="hunter2-pw"), _email())

        assert len(box.wait_for(1)) == 1


def test_wrong_password_raises_email_error_without_the_password():
    with Mailbox(accounts={"seller": "right-pw"}) as box:
        with pytest.raises(EmailError) as caught:
            send_email(_settings(box, username="seller", password="hunter2-pw"), _email())
        assert box.messages == []
        where = f"127.0.0.1:{box.port}"

    message = str(caught.value)
    assert message.startswith(f"SMTP login as seller at {where} failed: 535")
    assert "hunter2-pw" not in message
    assert "hunter2-pw" not in repr(caught.value.__cause__)


def test_login_on_a_server_without_auth_raises_email_error_without_the_password(mailbox):
    settings = _settings(mailbox, username="seller", password="hunter2-pw")

    with pytest.raises(EmailError, match="AUTH") as caught:
        send_email(settings, _email())

    assert "hunter2-pw" not in str(caught.value)
    assert mailbox.messages == []


def test_settings_are_read_from_countersign_smtp_variables(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COUNTERSIGN_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("COUNTERSIGN_SMTP_PORT", "465")
    monkeypatch.setenv("COUNTERSIGN_SMTP_SECURITY", "ssl")
    monkeypatch.setenv("COUNTERSIGN_SMTP_PASSWORD", "hunter2-pw")

    settings = SmtpSettings()

    assert (settings.host, settings.port, settings.security) == ("smtp.example.com", 465, "ssl")
    assert settings.configured
    assert settings.password is not None
    assert settings.password.get_secret_value() == "hunter2-pw"
