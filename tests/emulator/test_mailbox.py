from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from bot.emulator.mailbox import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


def _message(to: str = "ingrid@example.com", subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "seller@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Grüße aus Oslo")
    return message


def _send(box: Mailbox, message: EmailMessage) -> None:
    with smtplib.SMTP(box.host, box.port, timeout=5) as smtp:
        smtp.send_message(message)


def test_port_zero_binds_a_real_loopback_port(mailbox):
    assert mailbox.host == "127.0.0.1"
    assert mailbox.port > 0


def test_accepted_message_is_recorded_and_parsed(mailbox):
    _send(mailbox, _message(subject="Renewal"))

    [received] = mailbox.wait_for(1)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Renewal"
    assert received["To"] == "ingrid@example.com"
    assert received.get_content().strip() == "Grüße aus Oslo"
    assert mailbox.messages == [received]


def test_wait_for_raises_timeout_error_with_expected_and_actual_counts(mailbox):
    _send(mailbox, _message())

    with pytest.raises(TimeoutError, match=r"at least 2 message\(s\) within 0.2s, got 1"):
        mailbox.wait_for(2, timeout=0.2)


def test_wait_for_returns_once_a_later_message_arrives(mailbox):
    sender = threading.Timer(0.2, _send, args=(mailbox, _message()))
    started = time.monotonic()
    sender.start()
    try:
        assert len(mailbox.wait_for(1, timeout=10)) == 1
    finally:
        sender.join()

    assert time.monotonic() - started < 5, "wait_for was not woken by the arrival"


def test_clear_forgets_received_messages(mailbox):
    _send(mailbox, _message(subject="first"))
    mailbox.wait_for(1)

    mailbox.clear()
    assert mailbox.messages == []
    _send(mailbox, _message(subject="second"))

    assert [m["Subject"] for m in mailbox.wait_for(1)] == ["second"]


def test_refused_recipient_gets_550_and_nothing_is_recorded():
    with Mailbox(refuse_recipients={"Ingrid@Example.com"}) as box:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            _send(box, _message(to="ingrid@example.com"))
        _send(box, _message(to="anna@example.com"))

        [received] = box.wait_for(1)
    code, text = caught.value.recipients["ingrid@example.com"]
    assert (code, text) == (550, b"5.1.1 mailbox unavailable")
    assert received["To"] == "anna@example.com"


def test_fail_next_refuses_exactly_the_next_n_messages(mailbox):
    mailbox.fail_next(2, code=452, message="4.3.1 out of space")

    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as caught:
            _send(mailbox, _message())
        assert (caught.value.smtp_code, caught.value.smtp_error) == (452, b"4.3.1 out of space")
    _send(mailbox, _message(subject="third time lucky"))

    assert [m["Subject"] for m in mailbox.wait_for(1)] == ["third time lucky"]


def test_fail_next_rejects_a_success_code(mailbox):
    with pytest.raises(ValueError, match="4xx or 5xx"):
        mailbox.fail_next(1, code=250)


def test_concurrent_sends_from_five_threads_are_all_recorded(mailbox):
    errors: list[Exception] = []

    def send(i: int) -> None:
        try:
            for j in range(4):
                _send(mailbox, _message(subject=f"t{i}-m{j}"))
        except Exception as exc:  # reported below: a thread cannot fail the test
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    subjects = sorted(m["Subject"] for m in mailbox.wait_for(20))
    assert subjects == sorted(f"t{i}-m{j}" for i in range(5) for j in range(4))


def test_accounts_accept_the_right_password_and_refuse_a_wrong_one():
    with Mailbox(accounts={"seller": "s3cret"}) as box:
        with smtplib.SMTP(box.host, box.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
                smtp.login("seller", "wrong")
        with smtplib.SMTP(box.host, box.port, timeout=5) as smtp:
            smtp.login("seller", "s3cret")
            smtp.send_message(_message())

        assert len(box.wait_for(1)) == 1
    assert caught.value.smtp_code == 535


def test_stop_releases_the_port_and_is_safe_twice():
    box = Mailbox().start()
    port = box.port
    box.stop()
    box.stop()

    with pytest.raises(RuntimeError, match="not started"):
        _ = box.port
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)
