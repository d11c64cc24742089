"""Mailbox: a local SMTP sink on loopback for the demo and the tests.

Built on aiosmtpd's threaded `Controller`. It keeps every accepted message (parsed with
`email.policy.default`, line ends as LF), can refuse chosen recipients with 550 and the next
n DATA commands with a 4xx, and can offer AUTH for a fixed set of accounts.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REFUSED_RECIPIENT_REPLY = "550 5.1.1 mailbox unavailable"


def _free_port(host: str) -> int:
    """A port nobody listens on right now (the Controller needs a concrete one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _SinkHandler:
    """aiosmtpd handler hooks (called positionally); they run on the Controller's thread."""

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in {a.lower() for a in self._mailbox.refuse_recipients}:
            return REFUSED_RECIPIENT_REPLY
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        return self._mailbox._receive(envelope.original_content or b"")


class Mailbox:
    """A loopback SMTP server that records what it accepts; a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        refuse_recipients: Iterable[str] = (),
        accounts: Mapping[str, str] | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self.refuse_recipients: set[str] = set(refuse_recipients)
        self._accounts = dict(accounts) if accounts is not None else None
        self._controller: Controller | None = None
        self._messages: list[EmailMessage] = []
        self._failures = 0
        self._failure_reply = ""
        self._changed = threading.Condition()

    @property
    def host(self) -> str:
        """The bound address."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._port is None:
            raise RuntimeError("mailbox is not started")
        return self._port

    @property
    def messages(self) -> list[EmailMessage]:
        """A copy of every accepted message, oldest first."""
        with self._changed:
            return list(self._messages)

    def start(self) -> Self:
        """Bind and serve on a background thread. Returns self for chaining."""
        if self._controller is not None:
            return self
        # aiosmtpd logs every connection at INFO under "mail.log"; a local sink has nothing to say.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        port = self._requested_port or _free_port(self._host)
        controller = Controller(
            _SinkHandler(self),
            hostname=self._host,
            port=port,
            server_hostname="mailbox.countersign.localhost",
            **self._auth_options(),
        )
        controller.start()
        self._controller, self._port = controller, port
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        self._port = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Every message once at least `count` arrived; TimeoutError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(
                    f"mailbox expected at least {count} message(s) within {timeout}s, "
                    f"got {len(self._messages)}"
                )
            return list(self._messages)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._changed:
            self._messages.clear()

    def fail_next(self, n: int, code: int = 451, message: str = "4.3.0 try again later") -> None:
        """Answer the next `n` DATA commands with `code message` instead of accepting them."""
        if not 400 <= code < 600:
            raise ValueError(f"a refusal needs a 4xx or 5xx code, not {code}")
        with self._changed:
            self._failures, self._failure_reply = n, f"{code} {message}"

    def _receive(self, content: bytes) -> str:
        """Record one message, or refuse it while failures are pending. Returns the reply."""
        with self._changed:
            if self._failures > 0:
                self._failures -= 1
                return self._failure_reply
            self._messages.append(_parse(content))
            self._changed.notify_all()
        return "250 OK"

    def _auth_options(self) -> dict[str, Any]:
        if self._accounts is None:
            return {}
        # Plain-text AUTH is fine on loopback; only a test sink offers it.
        return {"authenticator": self._authenticate, "auth_require_tls": False}

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        accounts = self._accounts or {}
        if isinstance(data, LoginPassword):
            login = data.login.decode(errors="replace")
            password = data.password.decode(errors="replace")
            if login in accounts and accounts[login] == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _parse(content: bytes) -> EmailMessage:
    """Parse as a local delivery agent stores mail: SMTP's CRLF line ends become LF."""
    message = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message
