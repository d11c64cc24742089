"""Sending an approved email draft over SMTP: settings, the message, and clear failures."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.drafts.content import one_line

# No third-party mail library: smtplib + email.message are the well-kept standard for this.


class SmtpSettings(BaseSettings):
    """Where approved emails go out. Without a host, sending is refused with a clear error."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_HOST"),
        description="SMTP server host name. Unset: email sending is not configured.",
    )
    port: int = Field(
        default=587,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_PORT"),
        description="SMTP server port (587 for STARTTLS, 465 for implicit TLS).",
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_SECURITY"),
        description="starttls: upgrade a plain connection; ssl: TLS from the start; none: plain.",
    )
    username: str | None = Field(
        default=None,
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_USERNAME"),
        description="Login name. Unset: no AUTH is attempted.",
    )
    password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_PASSWORD"),
        description="Login password; never logged or shown in errors.",
    )
    sender: str = Field(
        default="Countersign <countersign@localhost>",
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_SENDER"),
        description="From address of every email, with an optional display name.",
    )
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("COUNTERSIGN_SMTP_TIMEOUT_SECONDS"),
        description="Timeout of the connection and of each SMTP command.",
    )

    @property
    def configured(self) -> bool:
        """Whether an SMTP host is set."""
        return bool(self.host)

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """One approved email. The idempotency key names the draft version it comes from."""

    to_address: str
    to_name: str | None
    subject: str
    body: str
    reply_to: str | None
    idempotency_key: str


@dataclass(frozen=True)
class SentEmail:
    """What the server accepted."""

    message_id: str
    recipients: tuple[str, ...]


class EmailError(Exception):
    """Sending failed; the message is short and safe to show. `smtp_code` when a server said no."""

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code

    @property
    def temporary(self) -> bool:
        """A 4xx reply: the same email may go through later."""
        return self.smtp_code is not None and 400 <= self.smtp_code < 500


def message_id_for(idempotency_key: str) -> str:
    """The Message-ID of every send of one draft version, so resends are recognisable."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@countersign>"


def build_message(settings: SmtpSettings, email: OutgoingEmail) -> EmailMessage:
    """The RFC 5322 message for `email`; newlines in header text become spaces."""
    _check_address(email.to_address)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = formataddr((one_line(email.to_name or ""), email.to_address))
    message["Subject"] = one_line(email.subject)
    if email.reply_to:
        message["Reply-To"] = one_line(email.reply_to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id_for(email.idempotency_key)
    message["X-Countersign-Draft"] = one_line(email.idempotency_key)
    message.set_content(email.body)
    return message


def send_email(settings: SmtpSettings, email: OutgoingEmail) -> SentEmail:
    """Deliver `email` to the configured SMTP server, or raise `EmailError`."""
    if not settings.configured:
        raise EmailError("SMTP is not configured (set COUNTERSIGN_SMTP_HOST)")
    message = build_message(settings, email)
    smtp = _connect(settings)
    try:
        _secure_and_login(settings, smtp)
        refused = smtp.send_message(message, to_addrs=[email.to_address])
    except smtplib.SMTPException as exc:
        raise _smtp_error(settings, exc) from exc
    except OSError as exc:
        raise _os_error(settings, exc, "talk to") from exc
    finally:
        _close(smtp)
    if refused:
        raise _refused_recipients(refused)
    return SentEmail(message_id=str(message["Message-ID"]), recipients=(email.to_address,))


def _check_address(address: str) -> None:
    if "@" not in address or any(c.isspace() for c in address):
        raise EmailError(f"not an email address: {address!r}")


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    host, timeout = settings.host or "", settings.timeout_seconds
    try:
        if settings.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(host, settings.port, timeout=timeout, context=context)
        return smtplib.SMTP(host, settings.port, timeout=timeout)
    except smtplib.SMTPException as exc:
        raise _smtp_error(settings, exc) from exc
    except OSError as exc:
        raise _os_error(settings, exc, "connect to") from exc


def _secure_and_login(settings: SmtpSettings, smtp: smtplib.SMTP) -> None:
    if settings.security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else ""
        smtp.login(settings.username, password)


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a failing QUIT must not turn a delivered email into an error."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {one_line(text)}".strip()


def _refused_recipients(refused: dict[str, tuple[int, bytes]]) -> EmailError:
    address, (code, text) = next(iter(refused.items()))
    reply = _reply(code, text)
    return EmailError(f"SMTP server refused the recipient {address}: {reply}", smtp_code=code)


def _smtp_error(settings: SmtpSettings, exc: smtplib.SMTPException) -> EmailError:
    where = settings.address
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused_recipients(exc.recipients)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        message = f"SMTP server refused the sender {exc.sender}: {reply}"
        return EmailError(message, smtp_code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        message = f"SMTP login as {settings.username} at {where} failed: {reply}"
        return EmailError(message, smtp_code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPConnectError):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        return EmailError(f"could not connect to {where}: {reply}", smtp_code=exc.smtp_code)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        return EmailError(f"SMTP server {where} refused: {reply}", smtp_code=exc.smtp_code)
    return EmailError(f"SMTP error with {where}: {exc}")


def _os_error(settings: SmtpSettings, exc: OSError, doing: str) -> EmailError:
    where = settings.address
    if isinstance(exc, TimeoutError):
        return EmailError(f"timed out trying to {doing} {where} after {settings.timeout_seconds}s")
    if isinstance(exc, ssl.SSLError):
        return EmailError(f"TLS with {where} failed: {exc}")
    return EmailError(f"could not {doing} {where}: {exc}")
