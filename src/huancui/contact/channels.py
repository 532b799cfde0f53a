"""Channel adapters: how an outbox message leaves the bank, behind one small interface.

- FileAdapter appends one JSON line per message to HUANCUI_HOME/outbox/messages.jsonl, with the
  recipient and the customer's name masked: it stands in for an SMS or e-mail gateway in demos.
- LogAdapter logs each message, masked (a dry run).
- SmtpAdapter sends e-mail through an SMTP server (settings HUANCUI_SMTP_*), with a Message-ID
  derived from the idempotency key and the header X-Huancui-Key, so the receiving side can drop a
  duplicate. It refuses every other channel.

An adapter raises ChannelError, whose message never holds personal data, when a message cannot be
sent; the dispatcher (contact/outbox.py) records it as the message's failure reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Protocol, runtime_checkable

from huancui.kit.errors import InvalidInput
from huancui.kit.masking import mask_email, mask_name, mask_phone
from huancui.kit.settings import Settings

ADAPTER_NAMES = ("file", "log", "smtp")
KEY_HEADER = "X-Huancui-Key"

log = logging.getLogger(__name__)


class ChannelError(Exception):
    """A message could not be sent. The text is recorded and shown: no personal data in it."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient. Its repr leaves out the personal parts."""

    idempotency_key: str
    channel: str
    recipient: str = field(repr=False)  # phone number (sms) or e-mail address (email)
    language: str
    subject: str | None = field(repr=False)
    body: str = field(repr=False)
    customer_id: str
    account_id: str
    template: str = ""
    customer_name: str | None = field(default=None, repr=False)

    @property
    def masked_recipient(self) -> str:
        if self.channel == "email":
            return mask_email(self.recipient)
        return mask_phone(self.recipient)

    def masked(self, text: str) -> str:
        """`text` with the recipient's address and name masked (for files and logs)."""
        if self.recipient:
            text = text.replace(self.recipient, self.masked_recipient)
        if self.customer_name:
            text = text.replace(self.customer_name, mask_name(self.customer_name))
        return text


@dataclass(frozen=True)
class SendResult:
    """What the provider said: its reference for the message (shown, stored in the outbox)."""

    provider_ref: str


@runtime_checkable
class ChannelAdapter(Protocol):
    """Sends messages on some channels. `send` raises ChannelError when it cannot."""

    @property
    def name(self) -> str: ...

    @property
    def channels(self) -> frozenset[str]: ...

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...


class FileAdapter:
    """Appends one masked JSON line per message to `directory/filename`."""

    name = "file"
    channels = frozenset({"sms", "email"})

    def __init__(self, directory: Path, filename: str = "messages.jsonl") -> None:
        self.path = directory / filename

    def send(self, message: OutgoingMessage) -> SendResult:
        record = {
            "idempotency_key": message.idempotency_key,
            "channel": message.channel,
            "recipient": message.masked_recipient,
            "language": message.language,
            "subject": message.masked(message.subject) if message.subject else None,
            "body": message.masked(message.body),
            "customer_id": message.customer_id,
            "account_id": message.account_id,
            "template": message.template,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as handle:
                offset = handle.seek(0, os.SEEK_END)
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise ChannelError(f"cannot append to {self.path}: {exc.strerror}") from None
        return SendResult(f"file:{self.path.name}@{offset}")

    def close(self) -> None:
        return None


class LogAdapter:
    """Logs each message (masked) instead of sending it."""

    name = "log"
    channels = frozenset({"sms", "email"})

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def send(self, message: OutgoingMessage) -> SendResult:
        self.logger.info(
            "outbox %s %s to %s (%s, %s): %s",
            message.channel,
            message.idempotency_key,
            message.masked_recipient,
            message.language,
            message.template,
            message.masked(message.subject or message.body[:60]),
        )
        return SendResult(f"log:{message.idempotency_key}")

    def close(self) -> None:
        return None


def message_id_for(idempotency_key: str, sender: str) -> str:
    """The Message-ID of the e-mail for `idempotency_key`: the same key always gives the same id,
    so a receiving system that keeps Message-IDs drops a second copy."""
    local = idempotency_key
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", local):
        local = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2] if "@" in address else ""
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "huancui.invalid"
    return f"<outbox.{local}@{domain}>"


class SmtpAdapter:
    """Sends e-mail through one SMTP server; the connection is opened on the first message and
    kept until `close` (or dropped after an error and opened again for the next message)."""

    name = "smtp"
    channels = frozenset({"email"})

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        _, envelope = parseaddr(sender)
        if "@" not in envelope:
            raise InvalidInput(
                f"the SMTP sender {sender!r} is not an e-mail address (set HUANCUI_SMTP_SENDER)"
            )
        self.host = host
        self.port = port
        self.sender = sender
        self.envelope_sender = envelope
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpAdapter:
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            timeout=settings.smtp_timeout_seconds,
        )

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The e-mail for `message` (also used by tests and previews)."""
        email = EmailMessage()
        email["From"] = self.sender
        try:
            email["To"] = Address(
                display_name=message.customer_name or "", addr_spec=message.recipient
            )
        except (ValueError, IndexError, TypeError):
            raise ChannelError("the customer's e-mail address is not valid") from None
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=True)
        email["Message-ID"] = message_id_for(message.idempotency_key, self.sender)
        email[KEY_HEADER] = message.idempotency_key
        email["Auto-Submitted"] = "auto-generated"
        if message.body.isascii():
            email.set_content(message.body)
        else:
            email.set_content(message.body, charset="utf-8", cte="base64")
        email["Content-Language"] = message.language  # after set_content, which clears Content-*
        return email

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(
                f"cannot connect to the SMTP server {self.server} ({_why(exc)})"
            ) from None
        step = "greet"
        try:
            smtp.ehlo()
            if self.starttls:
                step = "start TLS with"
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                step = "log in to"
                smtp.login(self.username, self._password or "")
        except (OSError, smtplib.SMTPException) as exc:
            _quietly_close(smtp)
            raise ChannelError(
                f"cannot {step} the SMTP server {self.server} ({_why(exc)})"
            ) from None
        self._smtp = smtp
        return smtp

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.channel != "email":
            raise ChannelError(
                f"the smtp adapter sends e-mail only, not '{message.channel}'"
                " (use the file or log adapter, or an SMS gateway, for that channel)"
            )
        email = self.build(message)
        smtp = self._connection()
        try:
            refused = smtp.send_message(
                email, from_addr=self.envelope_sender, to_addrs=[message.recipient]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            raise ChannelError(
                f"the SMTP server refused the recipient (code {', '.join(codes)})"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise ChannelError(
                f"the SMTP server {self.server} did not take the e-mail ({_why(exc)})"
            ) from None
        if refused:
            raise ChannelError("the SMTP server refused the recipient")
        return SendResult(str(email["Message-ID"]))

    def _drop(self) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._drop()


def _why(exc: BaseException) -> str:
    """A failure's kind and SMTP code, never the server's text (which may echo an address)."""
    code = getattr(exc, "smtp_code", None)
    if code is not None:
        return f"{type(exc).__name__}, code {code}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def build_adapters(name: str, settings: Settings) -> dict[str, ChannelAdapter]:
    """The channel → adapter mapping for `huancui outbox send --adapter NAME`. smtp covers e-mail
    only: SMS then has no adapter and stays pending."""
    if name == "file":
        file = FileAdapter(settings.home / "outbox")
        return {"sms": file, "email": file}
    if name == "log":
        logger = LogAdapter()
        return {"sms": logger, "email": logger}
    if name == "smtp":
        return {"email": SmtpAdapter.from_settings(settings)}
    raise InvalidInput(f"unknown outbox adapter '{name}' (known: {', '.join(ADAPTER_NAMES)})")


def describe(adapters: Mapping[str, ChannelAdapter]) -> dict[str, str]:
    """channel → adapter name, for reports."""
    return {channel: adapter.name for channel, adapter in sorted(adapters.items())}
