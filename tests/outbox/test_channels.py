"""Channel adapters: SMTP against a real local server (aiosmtpd), the masked file and log."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from huancui.contact.channels import (
    KEY_HEADER,
    ChannelError,
    LogAdapter,
    OutgoingMessage,
    SmtpAdapter,
    build_adapters,
    message_id_for,
)
from huancui.contact.outbox import dispatch
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings
from tests.outbox.conftest import EMAIL, INSIDE, NAME, PHONE, World

SENDER = "催收中心 <collections@bank.example>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every envelope; refuses recipients in `refuse`."""

    refuse: set[str] = field(default_factory=set)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
            for e in self.envelopes
        ]


@dataclass
class Server:
    mailbox: Mailbox
    port: int

    def adapter(self, **options: Any) -> SmtpAdapter:
        return SmtpAdapter(host="127.0.0.1", port=self.port, sender=SENDER, timeout=5, **options)


def _serve(mailbox: Mailbox, **options: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    yield from _serve(Mailbox())


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"huancui",
        b"s3cret",
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server_with_login() -> Iterator[Server]:
    yield from _serve(
        Mailbox(), authenticator=_authenticate, auth_require_tls=False, auth_required=True
    )


def message(**overrides: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "channel": "email",
        "recipient": EMAIL,
        "language": "zh-CN",
        "subject": "缓催银行：温馨还款提醒",
        "body": f"{NAME}您好：\n\n您的账户有 1,150.50 元还款已逾期 12 天。",
        "customer_id": "C1",
        "account_id": "A-C1",
        "template": "sms.reminder.friendly",
        "customer_name": NAME,
    }
    return OutgoingMessage(**{**values, **overrides})


def test_smtp_delivers_an_email_the_receiver_can_deduplicate(smtp_server: Server) -> None:
    adapter = smtp_server.adapter()
    first = adapter.send(message())
    again = adapter.send(message())  # the same key sent twice: the same Message-ID
    adapter.close()
    assert (
        first.provider_ref
        == again.provider_ref
        == ("<outbox.0123456789abcdef0123456789abcdef@bank.example>")
    )
    envelope = smtp_server.mailbox.envelopes[0]
    assert envelope.mail_from == "collections@bank.example"
    assert envelope.rcpt_tos == [EMAIL]
    received = smtp_server.mailbox.messages()[0]
    assert received["To"].addresses[0].addr_spec == EMAIL
    assert received["To"].addresses[0].display_name == NAME
    assert received["Subject"] == "缓催银行：温馨还款提醒"
    assert received["Message-ID"] == first.provider_ref
    assert received[KEY_HEADER] == "0123456789abcdef0123456789abcdef"
    assert received["Content-Language"] == "zh-CN"
    body = received.get_body()
    assert body is not None
    assert body.get_content().startswith(f"{NAME}您好")


def test_dispatch_through_smtp_sends_each_customer_their_language(
    world: World, smtp_server: Server
) -> None:
    world.customer("C1", language="zh-CN")
    world.customer("C2", name="Li Na", email="li.na@example.com", language="en")
    zh = world.message("C1", channel="email", tone="neutral")
    en = world.message("C2", channel="email", template="call.offer_solution", tone="gentle")
    sms = world.message("C1", channel="sms")
    report = dispatch(
        world.url,
        adapters={"email": smtp_server.adapter()},
        now=INSIDE,
        actor="ops.zhang",
    )
    assert (report.sent, report.no_adapter) == (2, 1)
    received = {m[KEY_HEADER]: m for m in smtp_server.mailbox.messages()}
    assert set(received) == {zh, en}
    assert [e.rcpt_tos for e in smtp_server.mailbox.envelopes] == [
        [EMAIL],
        ["li.na@example.com"],
    ]
    zh_mail, en_mail = received[zh], received[en]
    assert zh_mail["Subject"] == "缓催银行：您的账户有一笔逾期款项"
    zh_body = zh_mail.get_body()
    assert zh_body is not None and "请尽快通过" in zh_body.get_content()
    assert en_mail["Subject"] == "Huancui Bank: we can help you with a repayment plan"
    en_body = en_mail.get_body()
    assert en_body is not None and en_body.get_content().startswith("Hello Li Na,")
    assert "instalment plan" in en_body.get_content()
    rows = world.rows()
    assert rows[zh].provider_ref == zh_mail["Message-ID"] == f"<outbox.{zh}@bank.example>"
    assert rows[zh].adapter == "smtp"
    assert rows[sms].status == "pending"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_logs_in_when_configured(smtp_server_with_login: Server) -> None:
    adapter = smtp_server_with_login.adapter(username="huancui", password="s3cret")
    adapter.send(message())
    adapter.close()
    assert len(smtp_server_with_login.mailbox.envelopes) == 1
    wrong = smtp_server_with_login.adapter(username="huancui", password="wrong-pass")
    with pytest.raises(
        ChannelError, match=r"cannot log in to the SMTP server 127\.0\.0\.1"
    ) as caught:
        wrong.send(message())
    assert "wrong-pass" not in str(caught.value)


def test_a_refused_recipient_fails_the_message_without_its_address(world: World) -> None:
    for server in _serve(Mailbox(refuse={EMAIL})):
        world.customer()
        key = world.message(channel="email")
        report = dispatch(
            world.url, adapters={"email": server.adapter()}, now=INSIDE, actor="ops.zhang"
        )
        assert report.failed == 1
        reason = world.rows()[key].status_reason or ""
        assert reason == "smtp: the SMTP server refused the recipient (code 550)"
        assert EMAIL not in str(report.as_json())


def test_an_unreachable_server_is_a_clear_failure() -> None:
    adapter = SmtpAdapter(host="127.0.0.1", port=free_port(), sender=SENDER, timeout=2)
    with pytest.raises(ChannelError, match=r"cannot connect to the SMTP server 127\.0\.0\.1:"):
        adapter.send(message())


def test_smtp_refuses_sms(world: World, smtp_server: Server) -> None:
    adapter = smtp_server.adapter()
    with pytest.raises(ChannelError, match="sends e-mail only, not 'sms'"):
        adapter.send(message(channel="sms", recipient=PHONE))
    assert smtp_server.mailbox.envelopes == []
    with pytest.raises(InvalidInput, match="the smtp adapter cannot send sms"):
        dispatch(world.url, adapters={"sms": adapter}, now=INSIDE, actor="ops.zhang")


def test_smtp_settings_and_sender_are_checked() -> None:
    settings = Settings(
        smtp_host="mail.bank.example",
        smtp_port=587,
        smtp_sender="collections@bank.example",
        smtp_starttls=True,
        smtp_username="huancui",
        smtp_password=SecretStr("s3cret"),
    )
    adapters = build_adapters("smtp", settings)
    assert set(adapters) == {"email"}
    smtp = adapters["email"]
    assert isinstance(smtp, SmtpAdapter)
    assert (smtp.server, smtp.starttls, smtp.username) == ("mail.bank.example:587", True, "huancui")
    assert "s3cret" not in repr(settings)
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        SmtpAdapter(host="x", port=25, sender="nobody")
    with pytest.raises(InvalidInput, match="unknown outbox adapter 'fax'"):
        build_adapters("fax", settings)


def test_message_ids_are_stable_and_safe() -> None:
    assert message_id_for("abc", "x@bank.example") == message_id_for("abc", "x@bank.example")
    assert message_id_for("abc", "Bank <x@bank.example>") == "<outbox.abc@bank.example>"
    odd = message_id_for("a b<c>", "nobody")
    assert odd.startswith("<outbox.") and odd.endswith("@huancui.invalid>")
    assert " " not in odd and "<c>" not in odd


def test_the_log_adapter_logs_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="huancui.contact.channels"):
        result = LogAdapter().send(message(channel="sms", recipient=PHONE, subject=None))
    assert result.provider_ref == "log:0123456789abcdef0123456789abcdef"
    assert "138****5678" in caplog.text and "王**" in caplog.text
    assert PHONE not in caplog.text and NAME not in caplog.text


def test_a_message_repr_holds_no_personal_data() -> None:
    text = repr(message())
    assert EMAIL not in text and NAME not in text and "1,150.50" not in text
    assert "0123456789abcdef0123456789abcdef" in text
