"""One-time sign-in codes of the customer portal: requesting one (sent at once by SMS through
the configured outbox adapter) and trading it for the customer's identity.

- A customer identifies with their mobile number. The answer is the same whether or not the
  number is known, throttled or the send failed: the portal never tells who is a customer.
- The code is 6 digits from `secrets`, stored only as an HMAC-SHA256 under a key derived from
  the token signing key (HUANCUI_JWT_SECRET), bound to the customer; it is valid CODE_MINUTES,
  allows CODE_MAX_ATTEMPTS tries, is spent by its first successful use, and a newer code
  replaces the older ones. At most CODES_PER_HOUR codes per customer per hour, and a per-client
  limit in memory (access.throttle.ClientThrottle) on requests and on wrong codes.
- It is sent immediately, not queued for the nightly plan's contact windows: the customer asked
  for it a moment ago and it is useless in ten minutes. The outbox cannot carry it (the outbox
  renders a message when it sends, and the code is never stored), so `request_code` renders
  `notice.portal.code` and hands it to the adapter of `huancui outbox send`
  (settings.outbox_adapter): SMS to the number the customer typed, or e-mail when that adapter
  sends e-mail only. Consent to collection messages does not apply to a message the customer
  requested. docs/portal.md says more.

Services never commit: a refused code still counts its attempt, so `verify_code` returns an
Outcome and the entry point commits before raising the refusal (as api/auth_routes.py does).
Neither the code nor the phone number is ever logged or audited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huancui.access import audit, pii
from huancui.access.throttle import ClientThrottle
from huancui.access.tokens import Outcome, signing_key
from huancui.contact.channels import ChannelAdapter, ChannelError, OutgoingMessage, build_adapters
from huancui.contact.templates import TemplateCatalogue, TemplateContext, shipped_catalogue
from huancui.kit.errors import NotPermitted
from huancui.kit.settings import Settings
from huancui.portal.model import (
    CODE_DIGITS,
    CODE_MAX_ATTEMPTS,
    CODE_MINUTES,
    CODES_PER_HOUR,
    check_code_format,
    normalise_phone,
)
from huancui.portal.tables import OneTimeCodeRow
from huancui.portfolio.tables import CustomerRow

log = logging.getLogger(__name__)

TEMPLATE = "notice.portal.code"
# Where the code goes in the rendered text. The template catalogue knows no {code} placeholder
# (contact/templates.PLACEHOLDERS), so the templates write {{code}}, which renders as "{code}".
CODE_SLOT = "{code}"
_KEY_LABEL = b"huancui/portal/one-time-code/v1"

# Per client (IP address), in memory: requests (SMS cost, nuisance to the number's owner) and
# wrong codes (guessing across many numbers). The per-customer limits in the database are the
# hard ones.
REQUESTS = ClientThrottle(limit=10, window=timedelta(minutes=15))
FAILURES = ClientThrottle(limit=20, window=timedelta(minutes=15))

REQUESTED = (
    f"if this number is registered with us, a {CODE_DIGITS}-digit sign-in code has been sent to"
    f" it; it is valid for {CODE_MINUTES} minutes (at most {CODES_PER_HOUR} codes an hour)"
)


class CodeRefused(NotPermitted):
    """A code that does not sign anyone in; the message says what to do. `reason` is for
    tests and the audit log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _wrong() -> CodeRefused:
    return CodeRefused("the code is wrong: check the SMS and try again", "wrong")


def _expired() -> CodeRefused:
    return CodeRefused(
        f"the code has expired (a code is valid for {CODE_MINUTES} minutes): request a new one",
        "expired",
    )


def _spent() -> CodeRefused:
    return CodeRefused("the code has been used already: request a new one", "used")


def _too_many() -> CodeRefused:
    return CodeRefused(
        f"too many wrong codes ({CODE_MAX_ATTEMPTS} tries per code): request a new one",
        "too many attempts",
    )


def _client_blocked() -> CodeRefused:
    return CodeRefused(
        "too many wrong codes from this device: wait 15 minutes and request a new code",
        "client throttled",
    )


@dataclass(frozen=True)
class CodeRequest:
    """What a request did, for tests and the audit; the customer is told REQUESTED whatever
    it says, so that nobody learns whether a number is registered."""

    outcome: str  # sent | unknown | throttled | client_throttled | not_sent
    code_id: int | None = None
    channel: str | None = None


def code_key(settings: Settings) -> bytes:
    """The HMAC key of codes, derived from the token signing key (rotating that key voids the
    codes in flight, which live ten minutes anyway)."""
    return hmac.new(signing_key(settings).encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def code_hash(settings: Settings, customer_id: str, code: str) -> str:
    """The stored form of a code: bound to its customer, useless without the server's key."""
    message = f"{customer_id}:{code}".encode()
    return hmac.new(code_key(settings), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def customer_by_phone(session: Session, settings: Settings, phone: str) -> str | None:
    """The customer_id of a normalised mobile number, through access.pii (which owns how
    personal fields are stored)."""
    return pii.find_customer_by_phone(session, settings, phone)


def _actor(customer_id: str) -> str:
    return f"customer:{customer_id}"


def request_code(
    session: Session,
    settings: Settings,
    *,
    phone: str,
    now: datetime,
    client: str = "unknown",
    adapters: Mapping[str, ChannelAdapter] | None = None,
    catalogue: TemplateCatalogue | None = None,
) -> CodeRequest:
    """Issue and send a code to the customer with this mobile number, if there is one. A badly
    formed number is InvalidInput (that says nothing about who is a customer)."""
    number = normalise_phone(phone)
    if REQUESTS.blocked(client, now=now):
        return CodeRequest("client_throttled")
    REQUESTS.record_failure(client, now=now)
    customer_id = customer_by_phone(session, settings, number)
    if customer_id is None:
        return CodeRequest("unknown")
    recent = session.scalar(
        select(func.count()).where(
            OneTimeCodeRow.customer_id == customer_id,
            OneTimeCodeRow.created_at > now - timedelta(hours=1),
        )
    )
    if int(recent or 0) >= CODES_PER_HOUR:
        audit.record(
            session,
            actor=_actor(customer_id),
            action="portal.code.throttled",
            entity_type="customer",
            entity_id=customer_id,
            reason=f"more than {CODES_PER_HOUR} sign-in codes asked for within an hour: none sent",
        )
        return CodeRequest("throttled")
    customer = pii.read_customer(session, settings, customer_id)
    assert customer is not None
    adapters = (
        adapters if adapters is not None else build_adapters(settings.outbox_adapter, settings)
    )
    if "sms" in adapters:
        channel, address = "sms", number
    elif "email" in adapters and customer.email:
        channel, address = "email", customer.email
    else:
        channel, address = "", ""
    code = new_code()
    row = OneTimeCodeRow(
        customer_id=customer_id,
        code_hash=code_hash(settings, customer_id, code),
        channel=channel or "none",
        message_id=None,
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(minutes=CODE_MINUTES),
        used_at=None,
    )
    session.add(row)
    session.flush()
    sent, detail = False, "no adapter of settings.outbox_adapter sends SMS or e-mail to them"
    if channel:
        sent, detail = _send(
            settings,
            catalogue or shipped_catalogue(),
            adapters[channel],
            row=row,
            channel=channel,
            address=address,
            language=_language(session, customer_id),
            code=code,
        )
    audit.record(
        session,
        actor=_actor(customer_id),
        action="portal.code.sent" if sent else "portal.code.not_sent",
        entity_type="customer",
        entity_id=customer_id,
        after={
            "code_id": row.code_id,
            "channel": row.channel,
            "expires_at": row.expires_at.isoformat(),
        },
        reason=detail,
    )
    return CodeRequest("sent" if sent else "not_sent", row.code_id, row.channel)


def _language(session: Session, customer_id: str) -> str:
    row = session.get(CustomerRow, customer_id)
    return row.preferred_language if row is not None else "zh-CN"


def _send(
    settings: Settings,
    catalogue: TemplateCatalogue,
    adapter: ChannelAdapter,
    *,
    row: OneTimeCodeRow,
    channel: str,
    address: str,
    language: str,
    code: str,
) -> tuple[bool, str]:
    """Render and hand the code to the adapter; (sent, what happened without personal data)."""
    language = catalogue.resolve_language(language)
    context = TemplateContext.for_customer(
        settings, language, name=None, amount_overdue_fen=None, days_past_due=None
    )
    sms = catalogue.render(
        TEMPLATE, channel="sms", language=language, tone="neutral", context=context
    )
    mail = catalogue.render(
        TEMPLATE, channel="email", language=language, tone="neutral", context=context
    )
    rendered = sms if channel == "sms" else mail
    if CODE_SLOT not in rendered.body:
        raise AssertionError(f"template {TEMPLATE} ({language}, {channel}) has no {{{{code}}}}")
    message = OutgoingMessage(
        idempotency_key=f"portal-code-{row.code_id}",
        channel=channel,
        recipient=address,
        language=language,
        # An SMS has no subject; giving it the e-mail's (which holds no code) keeps the code
        # out of the log adapter, which logs the subject, else the start of the body.
        subject=mail.subject,
        body=rendered.body.replace(CODE_SLOT, code),
        customer_id=row.customer_id,
        account_id="",
        template=TEMPLATE,
    )
    try:
        result = adapter.send(message)
    except ChannelError as exc:  # its text holds no personal data
        log.warning("portal code %d not sent by %s: %s", row.code_id, adapter.name, exc)
        return False, f"{adapter.name}: {exc}"
    except Exception as exc:
        log.warning(
            "portal code %d not sent by %s (%s)", row.code_id, adapter.name, type(exc).__name__
        )
        return False, f"{adapter.name}: {type(exc).__name__}"
    finally:
        adapter.close()
    return True, f"sent at once by {adapter.name} ({result.provider_ref[:64]})"


def verify_code(
    session: Session,
    settings: Settings,
    *,
    phone: str,
    code: str,
    now: datetime,
    client: str = "unknown",
) -> Outcome[str]:
    """The customer_id the code signs in, or the refusal (after counting the attempt, which the
    caller commits before raising it). A badly formed number or code is InvalidInput."""
    number = normalise_phone(phone)
    typed = check_code_format(code)
    if FAILURES.blocked(client, now=now):
        return Outcome(refusal=_client_blocked())
    customer_id = customer_by_phone(session, settings, number)
    row = (
        None
        if customer_id is None
        else session.scalars(
            select(OneTimeCodeRow)
            .where(OneTimeCodeRow.customer_id == customer_id)
            .order_by(OneTimeCodeRow.code_id.desc())
            .limit(1)
        ).first()
    )
    if customer_id is None or row is None:
        FAILURES.record_failure(client, now=now)
        return Outcome(refusal=_wrong())
    refusal: CodeRefused | None = None
    if row.used_at is not None:
        refusal = _spent()
    elif row.attempts >= CODE_MAX_ATTEMPTS:
        refusal = _too_many()
    elif now >= _aware(row.expires_at):
        refusal = _expired()
    else:
        row.attempts += 1
        if hmac.compare_digest(row.code_hash, code_hash(settings, customer_id, typed)):
            row.used_at = now
            audit.record(
                session,
                actor=_actor(customer_id),
                action="portal.sign_in",
                entity_type="customer",
                entity_id=customer_id,
                after={"code_id": row.code_id, "attempts": row.attempts},
                reason="signed in to the portal with a one-time code",
            )
            return Outcome(result=customer_id)
        refusal = _too_many() if row.attempts >= CODE_MAX_ATTEMPTS else _wrong()
    FAILURES.record_failure(client, now=now)
    audit.record(
        session,
        actor=_actor(customer_id),
        action="portal.code.refused",
        entity_type="customer",
        entity_id=customer_id,
        after={"code_id": row.code_id, "attempts": row.attempts},
        reason=refusal.reason,
    )
    return Outcome(refusal=refusal)
