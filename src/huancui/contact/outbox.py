"""Sending the outbox: each SMS and e-mail goes out in its window, at most once.

    dispatch(url, adapters={"sms": FileAdapter(...), "email": SmtpAdapter(...)}, now=..., actor=...)

One dispatch, at instant `now` (aware):

1. Pending messages whose window has ended (`window_end <= now`) become 'expired'; those whose
   window has not opened stay pending; those inside it (`window_start <= now < window_end`) are due.
   Windows are ISO local times with an offset, half-open, compared as instants.
2. Due messages are claimed in batches: in one committed transaction each is looked up (the
   customer's address — phone for SMS, e-mail for e-mail — and language; the account's amount
   overdue in its newest snapshot, and its days past due carried forward to the contact day),
   rendered, and set to 'sending' (attempts + 1, the adapter named). A message that cannot be
   sent is 'failed' there with its reason (no e-mail address, a template that needs a value
   nobody has); one whose customer withdrew consent for the channel, whose account has nothing
   overdue any more, or on which a hold was placed in the case plane since the plan (a 缓催 pause
   approved this morning, a dispute; contact/holds.blocking) is 'cancelled'. A service notice
   (the reminder that a pause ends) passes pause and arrangement holds, no other.
3. Each claimed message is handed to its channel's adapter, then marked 'sent' (sent_at, provider
   reference) or 'failed' (the reason) in its own transaction. Just before sending, the window is
   checked again on a clock that runs from `now`: a message whose window closed during a long
   dispatch is 'expired', not sent late.
4. One audit event records the dispatch: who, when, which adapters, the counts and why.

Exactly-once, as far as it can be had: a row is claimed ('sending', committed) before its adapter
sees it, and only a claimed row is sent. If the process dies between sending and recording, the
row stays 'sending' and is NEVER re-sent automatically; every dispatch reports such rows (`stuck`)
for a person to check with the provider (the idempotency key is on the message: the JSON line, or
the e-mail's Message-ID and X-Huancui-Key header). Claimed rows that were never handed to an
adapter are put back to 'pending' when the dispatch stops on an exception. Two dispatchers running
at once cannot both claim a row: the claim is an UPDATE … WHERE status = 'pending'.

Personal data never goes into logs, exceptions, reasons or the audit: only ids and counts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from huancui.access import audit
from huancui.access.pii import CustomerPII, read_customers
from huancui.contact import holds
from huancui.contact.channels import (
    ChannelAdapter,
    ChannelError,
    OutgoingMessage,
    describe,
)
from huancui.contact.tables import OUTBOX_CHANNELS, OutboxRow
from huancui.contact.templates import (
    TemplateCatalogue,
    TemplateContext,
    TemplateError,
    shipped_catalogue,
)
from huancui.kit.database import unit_of_work
from huancui.kit.errors import InvalidInput
from huancui.kit.masking import mask_email, mask_name, mask_phone
from huancui.kit.settings import Settings, get_settings
from huancui.portfolio.tables import AccountSnapshotRow, CustomerRow, SnapshotRow

log = logging.getLogger(__name__)

SessionSource = str | sessionmaker[Session]
DEFAULT_BATCH = 50
_REASON_LIMIT = 500


@contextmanager
def transaction(source: SessionSource) -> Iterator[Session]:
    """One committed transaction on a database URL or a session factory."""
    if isinstance(source, str):
        with unit_of_work(source) as session:
            yield session
    else:
        with source() as session, session.begin():
            yield session


@dataclass(frozen=True)
class MessageNote:
    """A message a person may want to look at: which one, and why (no personal data)."""

    message_id: int
    idempotency_key: str
    channel: str
    status: str
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "idempotency_key": self.idempotency_key,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class DispatchReport:
    """What one dispatch did. `left_pending` = not yet due + no adapter + over the limit."""

    dispatch_id: str
    now: datetime
    actor: str
    adapters: dict[str, str]
    sent: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    not_yet_due: int = 0
    no_adapter: int = 0
    over_limit: int = 0
    failures: list[MessageNote] = field(default_factory=list)
    cancellations: list[MessageNote] = field(default_factory=list)
    stuck: list[MessageNote] = field(default_factory=list)

    @property
    def left_pending(self) -> int:
        return self.not_yet_due + self.no_adapter + self.over_limit

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "expired": self.expired,
            "cancelled": self.cancelled,
            "left_pending": self.left_pending,
            "not_yet_due": self.not_yet_due,
            "no_adapter": self.no_adapter,
            "over_limit": self.over_limit,
            "stuck_sending": len(self.stuck),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "dispatch_id": self.dispatch_id,
            "now": self.now.isoformat(),
            "actor": self.actor,
            "adapters": self.adapters,
            **self.counts(),
            "failures": [n.as_json() for n in self.failures],
            "cancellations": [n.as_json() for n in self.cancellations],
            "stuck": [n.as_json() for n in self.stuck],
        }


def parse_instant(text: str) -> datetime | None:
    """An ISO time with an offset as an aware datetime; None when it is not one."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.utcoffset() is not None else None


@dataclass(frozen=True)
class _Claimed:
    message_id: int
    idempotency_key: str
    channel: str
    window_end: datetime
    message: OutgoingMessage


@dataclass(frozen=True)
class _Arrears:
    as_of: date
    arrears_fen: int
    days_past_due: int


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _check_adapters(adapters: Mapping[str, ChannelAdapter]) -> None:
    for channel, adapter in adapters.items():
        if channel not in OUTBOX_CHANNELS:
            raise InvalidInput(
                f"no outbox channel '{channel}' (outbox channels: {', '.join(OUTBOX_CHANNELS)})"
            )
        if channel not in adapter.channels:
            raise InvalidInput(
                f"the {adapter.name} adapter cannot send {channel}"
                f" (it sends {', '.join(sorted(adapter.channels))})"
            )


def dispatch(
    source: SessionSource,
    *,
    adapters: Mapping[str, ChannelAdapter],
    now: datetime,
    actor: str,
    limit: int | None = None,
    reason: str | None = None,
    settings: Settings | None = None,
    catalogue: TemplateCatalogue | None = None,
    batch_size: int = DEFAULT_BATCH,
    monotonic: Callable[[], float] = time.monotonic,
) -> DispatchReport:
    """Send the pending messages whose window contains `now`; see the module docstring.

    `adapters` maps a channel (sms, email) to the adapter that sends it; due messages of a channel
    without one stay pending. `limit` caps how many are sent (expiry is not capped)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput("the dispatch time must carry a time-zone offset")
    if limit is not None and limit < 0:
        raise InvalidInput("the limit must not be negative")
    if batch_size < 1:
        raise InvalidInput("the batch size must be at least 1")
    _check_adapters(adapters)
    run = _Dispatch(
        source=source,
        adapters=adapters,
        now=now,
        actor=actor,
        settings=settings or get_settings(),
        catalogue=catalogue or shipped_catalogue(),
        monotonic=monotonic,
    )
    try:
        due = run.scan()
        sendable = [m for m, channel in due if channel in adapters]
        run.report.no_adapter = len(due) - len(sendable)
        if limit is not None and len(sendable) > limit:
            run.report.over_limit = len(sendable) - limit
            sendable = sendable[:limit]
        for chunk in _chunks(sendable, batch_size):
            run.send(run.claim(chunk))
    finally:
        for adapter in {id(a): a for a in adapters.values()}.values():
            try:
                adapter.close()
            except Exception as exc:
                log.warning("closing the %s adapter failed (%s)", adapter.name, type(exc).__name__)
    run.record(reason)
    return run.report


class _Dispatch:
    def __init__(
        self,
        *,
        source: SessionSource,
        adapters: Mapping[str, ChannelAdapter],
        now: datetime,
        actor: str,
        settings: Settings,
        catalogue: TemplateCatalogue,
        monotonic: Callable[[], float],
    ) -> None:
        self.source = source
        self.adapters = adapters
        self.now = now
        self.actor = actor
        self.settings = settings
        self.catalogue = catalogue
        self.monotonic = monotonic
        self.started = monotonic()
        self.report = DispatchReport(uuid.uuid4().hex[:12], now, actor, describe(adapters))
        self.claim_note = (
            f"claimed by dispatch {self.report.dispatch_id} at {now.isoformat()} ({actor});"
            " still 'sending' after that dispatch ended means it stopped half-way:"
            " check with the provider whether it went out before sending it again"
        )

    def clock(self) -> datetime:
        """`now`, advanced by the time the dispatch has taken so far."""
        return self.now + timedelta(seconds=max(0.0, self.monotonic() - self.started))

    # 1. stuck rows, expiry, what is due

    def scan(self) -> list[tuple[int, str]]:
        """(message_id, channel) of the due messages, oldest first; expires the ended ones."""
        expired: list[tuple[int, str]] = []
        broken: list[tuple[int, str, str]] = []
        due: list[tuple[int, str]] = []
        with transaction(self.source) as session:
            for leftover in session.execute(
                select(
                    OutboxRow.message_id,
                    OutboxRow.idempotency_key,
                    OutboxRow.channel,
                    OutboxRow.status_reason,
                )
                .where(OutboxRow.status == "sending")
                .order_by(OutboxRow.message_id)
            ):
                self.report.stuck.append(
                    MessageNote(
                        leftover.message_id,
                        leftover.idempotency_key,
                        leftover.channel,
                        "sending",
                        leftover.status_reason,
                    )
                )
            pending = session.execute(
                select(
                    OutboxRow.message_id,
                    OutboxRow.idempotency_key,
                    OutboxRow.channel,
                    OutboxRow.window_start,
                    OutboxRow.window_end,
                )
                .where(OutboxRow.status == "pending")
                .order_by(OutboxRow.message_id)
            ).all()
            for row in pending:
                start, end = parse_instant(row.window_start), parse_instant(row.window_end)
                if start is None or end is None:
                    broken.append((row.message_id, row.idempotency_key, row.channel))
                elif end <= self.now:
                    expired.append((row.message_id, row.window_end))
                elif start <= self.now:
                    due.append((row.message_id, row.channel))
                else:
                    self.report.not_yet_due += 1
            for message_id, window_end in expired:
                why = f"its window ended at {window_end} before it was sent"
                if self._set(session, message_id, "pending", status="expired", status_reason=why):
                    self.report.expired += 1
            for message_id, key, channel in broken:
                why = "its window is not an ISO time with an offset; the plan row is damaged"
                if self._set(session, message_id, "pending", status="failed", status_reason=why):
                    self._failed(message_id, key, channel, why)
        if self.report.stuck:
            log.warning(
                "outbox: %d message(s) still 'sending' (a dispatch stopped half-way, or one is"
                " running now): ids %s; they are not re-sent automatically",
                len(self.report.stuck),
                ", ".join(str(n.message_id) for n in self.report.stuck[:20]),
            )
        return due

    # 2. claim a batch

    def claim(self, chunk: Sequence[int]) -> list[_Claimed]:
        claimed: list[_Claimed] = []
        with transaction(self.source) as session:
            rows = list(
                session.scalars(
                    select(OutboxRow)
                    .where(OutboxRow.message_id.in_(chunk), OutboxRow.status == "pending")
                    .order_by(OutboxRow.message_id)
                )
            )
            customers = {
                c.customer_id: c
                for c in session.scalars(
                    select(CustomerRow).where(
                        CustomerRow.customer_id.in_({r.customer_id for r in rows})
                    )
                )
            }
            # Addresses and names are decrypted here, for the adapter only (access.pii).
            people = read_customers(session, self.settings, customers.keys())
            arrears = self._arrears(session, rows)
            held = self._holds(session, rows)
            for row in rows:
                outcome = self._prepare(
                    row,
                    customers.get(row.customer_id),
                    people.get(row.customer_id),
                    arrears,
                    held.get(row.message_id, []),
                )
                if isinstance(outcome, OutgoingMessage):
                    window_end = parse_instant(row.window_end)
                    assert window_end is not None  # checked by scan
                    if self._set(
                        session,
                        row.message_id,
                        "pending",
                        status="sending",
                        status_reason=self.claim_note,
                        attempts=OutboxRow.attempts + 1,
                        adapter=self.adapters[row.channel].name,
                    ):
                        claimed.append(
                            _Claimed(
                                row.message_id,
                                row.idempotency_key,
                                row.channel,
                                window_end,
                                outcome,
                            )
                        )
                    continue
                status, why = outcome
                if self._set(session, row.message_id, "pending", status=status, status_reason=why):
                    if status == "failed":
                        self._failed(row.message_id, row.idempotency_key, row.channel, why)
                    else:
                        self.report.cancelled += 1
                        self.report.cancellations.append(
                            MessageNote(
                                row.message_id, row.idempotency_key, row.channel, status, why
                            )
                        )
        return claimed

    def _arrears(self, session: Session, rows: Sequence[OutboxRow]) -> dict[str, list[_Arrears]]:
        """Per account, its snapshots from the oldest as-of among `rows` on, newest first."""
        if not rows:
            return {}
        found: dict[str, list[_Arrears]] = {}
        query = (
            select(
                AccountSnapshotRow.account_id,
                SnapshotRow.as_of,
                AccountSnapshotRow.arrears_fen,
                AccountSnapshotRow.days_past_due,
            )
            .join(SnapshotRow, SnapshotRow.snapshot_id == AccountSnapshotRow.snapshot_id)
            .where(
                AccountSnapshotRow.account_id.in_({r.account_id for r in rows}),
                SnapshotRow.as_of >= min(r.as_of for r in rows),
            )
            .order_by(SnapshotRow.as_of.desc())
        )
        for account_id, as_of, arrears_fen, dpd in session.execute(query):
            found.setdefault(account_id, []).append(_Arrears(as_of, arrears_fen, dpd))
        return found

    @staticmethod
    def _holds(session: Session, rows: Sequence[OutboxRow]) -> dict[int, list[tuple[str, int]]]:
        """Per message: the case-plane holds active on its contact day (placed since the plan,
        e.g. a 缓催 pause approved this morning) that stop it."""
        found: dict[int, list[tuple[str, int]]] = {}
        for day in {r.contact_date for r in rows}:
            on_day = [r for r in rows if r.contact_date == day]
            active = holds.blocking(session, {r.account_id for r in on_day}, day)
            for row in on_day:
                stopping = [
                    (kind, hold_id)
                    for kind, hold_id in active.get(row.account_id, [])
                    if not (
                        row.template in holds.SERVICE_NOTICE_TEMPLATES
                        and kind in holds.SERVICE_NOTICE_PASSES
                    )
                ]
                if stopping:
                    found[row.message_id] = stopping
        return found

    def _prepare(
        self,
        row: OutboxRow,
        customer: CustomerRow | None,
        person: CustomerPII | None,
        arrears: Mapping[str, list[_Arrears]],
        held: Sequence[tuple[str, int]] = (),
    ) -> OutgoingMessage | tuple[str, str]:
        """The message to send, or (status, reason) when it cannot or must not be sent."""
        if customer is None or person is None:
            return "failed", f"customer {row.customer_id} is not in the case plane"
        if held:
            kind, hold_id = held[0]
            return "cancelled", f"hold {hold_id} ({kind}) placed since the plan stops it"
        consent = customer.consent_sms if row.channel == "sms" else customer.consent_email
        if not consent:
            return "cancelled", f"the customer no longer consents to {row.channel}"
        latest = next((a for a in arrears.get(row.account_id, []) if a.as_of >= row.as_of), None)
        if latest is not None and latest.arrears_fen <= 0:
            return (
                "cancelled",
                f"nothing is overdue on the account in the snapshot of {latest.as_of}",
            )
        if row.channel == "sms":
            address = (person.phone or "").strip()
            if not address:
                return "failed", "the customer has no mobile number on file"
        else:
            address = (person.email or "").strip()
            if not address:
                return "failed", "the customer has no e-mail address on file"
        language = self.catalogue.resolve_language(customer.preferred_language)
        context = TemplateContext.for_customer(
            self.settings,
            language,
            name=person.name,
            amount_overdue_fen=latest.arrears_fen if latest else None,
            # As of the contact day: one more day overdue for every day since the snapshot.
            days_past_due=(
                latest.days_past_due + max(0, (row.contact_date - latest.as_of).days)
                if latest
                else None
            ),
        )
        try:
            rendered = self.catalogue.render(
                row.template, channel=row.channel, language=language, tone=row.tone, context=context
            )
        except TemplateError as exc:
            why = str(exc)
            if exc.placeholder in ("amount", "days_past_due") and latest is None:
                why += f"; the account has no snapshot from {row.as_of} on"
            return "failed", why
        return OutgoingMessage(
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            recipient=address,
            language=language,
            subject=rendered.subject,
            body=rendered.body,
            customer_id=row.customer_id,
            account_id=row.account_id,
            template=row.template,
            customer_name=person.name,
        )

    # 3. send and record

    def send(self, claimed: list[_Claimed]) -> None:
        untouched = list(claimed)
        try:
            while untouched:
                item = untouched.pop(0)
                current = self.clock()
                if current >= item.window_end:
                    why = f"its window ended at {item.window_end.isoformat()} during the dispatch"
                    if self._finish(item, status="expired", status_reason=why):
                        self.report.expired += 1
                    continue
                adapter = self.adapters[item.channel]
                try:
                    result = adapter.send(item.message)
                except Exception as exc:
                    why = f"{adapter.name}: {_safe_reason(exc, item.message)}"
                    log.info("outbox message %d failed (%s)", item.message_id, type(exc).__name__)
                    if self._finish(item, status="failed", status_reason=why):
                        self._failed(item.message_id, item.idempotency_key, item.channel, why)
                    continue
                if self._finish(
                    item,
                    status="sent",
                    status_reason=None,
                    sent_at=current.astimezone(UTC),  # SQLite keeps no offset: store UTC
                    provider_ref=result.provider_ref[:128],
                ):
                    self.report.sent += 1
                log.debug("outbox message %d sent via %s", item.message_id, adapter.name)
        except BaseException:
            self._release(untouched)
            raise

    def _finish(self, item: _Claimed, **values: Any) -> bool:
        with transaction(self.source) as session:
            return self._set(session, item.message_id, "sending", **values)

    def _release(self, items: Sequence[_Claimed]) -> None:
        """Claimed but never handed to an adapter: back to pending (best effort)."""
        if not items:
            return
        try:
            with transaction(self.source) as session:
                for item in items:
                    session.execute(
                        update(OutboxRow)
                        .where(
                            OutboxRow.message_id == item.message_id,
                            OutboxRow.status == "sending",
                            OutboxRow.status_reason == self.claim_note,
                        )
                        .values(
                            status="pending",
                            status_reason=None,
                            attempts=OutboxRow.attempts - 1,
                            adapter=None,
                        )
                    )
        except Exception as exc:
            log.error(
                "outbox: could not put %d unsent claimed message(s) back to pending (%s);"
                " they stay 'sending' for a person to check",
                len(items),
                type(exc).__name__,
            )

    @staticmethod
    def _set(session: Session, message_id: int, expected: str, **values: Any) -> bool:
        """Update one row if it is still in status `expected`; True if it was."""
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.message_id == message_id, OutboxRow.status == expected)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def _failed(self, message_id: int, key: str, channel: str, why: str) -> None:
        self.report.failed += 1
        self.report.failures.append(MessageNote(message_id, key, channel, "failed", why))

    # 4. audit

    def record(self, reason: str | None) -> None:
        report = self.report
        why = reason or (
            f"send the SMS and e-mail whose contact window contains {report.now.isoformat()}"
        )
        with transaction(self.source) as session:
            audit.record(
                session,
                actor=report.actor,
                action="outbox.dispatch",
                entity_type="outbox",
                entity_id=f"dispatch:{report.dispatch_id}",
                after={
                    "now": report.now.isoformat(),
                    "adapters": report.adapters,
                    **report.counts(),
                    "stuck_message_ids": [n.message_id for n in report.stuck],
                },
                reason=why,
            )
        log.info(
            "outbox dispatch %s at %s: %s",
            report.dispatch_id,
            report.now.isoformat(),
            report.counts(),
        )


def _safe_reason(exc: BaseException, message: OutgoingMessage) -> str:
    """An adapter failure as text without the customer's data: ChannelError texts are written
    that way; any other exception's text is masked and shortened."""
    text = str(exc) if isinstance(exc, ChannelError) else f"{type(exc).__name__}: {exc}"
    text = message.masked(text)
    if message.recipient:
        text = _replace_folded(text, message.recipient, message.masked_recipient)
    return text[:_REASON_LIMIT]


def _replace_folded(text: str, needle: str, replacement: str) -> str:
    lowered, target = text.lower(), needle.lower()
    out, start = [], 0
    while (found := lowered.find(target, start)) >= 0:
        out.append(text[start:found])
        out.append(replacement)
        start = found + len(needle)
    out.append(text[start:])
    return "".join(out)


# Listing (for `huancui outbox list`)


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    limit: int = 100,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, with the recipient's address masked."""
    query = select(OutboxRow).order_by(OutboxRow.message_id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxRow.status == status)
    found = list(session.scalars(query))
    people = read_customers(session, settings or get_settings(), {r.customer_id for r in found})
    rows = []
    for row in found:
        person = people.get(row.customer_id)
        phone, email, name = (
            (person.phone, person.email, person.name) if person else (None, None, None)
        )
        if row.channel == "email":
            recipient = mask_email(email) if email else None
        else:
            recipient = mask_phone(phone) if phone else None
        rows.append(
            {
                "message_id": row.message_id,
                "idempotency_key": row.idempotency_key,
                "contact_date": row.contact_date.isoformat(),
                "channel": row.channel,
                "customer_id": row.customer_id,
                "customer": mask_name(name) if name else None,
                "recipient": recipient,
                "account_id": row.account_id,
                "template": row.template,
                "tone": row.tone,
                "window_start": row.window_start,
                "window_end": row.window_end,
                "status": row.status,
                "status_reason": row.status_reason,
                "attempts": row.attempts,
                "adapter": row.adapter,
                "provider_ref": row.provider_ref,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            }
        )
    return rows
