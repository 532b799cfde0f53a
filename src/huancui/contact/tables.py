"""Case-plane tables of contact work: work-queue items (calls, visits, letters, legal referrals)
and the outbox of messages (SMS, e-mail).

Both are keyed by the plan's idempotency key — one per (contact day, account, channel) — so a
re-run of a night, or two runs that land on the same day, can never create the same work twice.
Personal data is not copied here: a message names its customer and the adapter looks up the
address when it sends.

A message's life (contact/outbox.py): 'pending' until its window opens; 'sending' once a dispatch
has claimed it (committed before anything is sent); then 'sent' or 'failed'. 'expired' when its
window ended before it could go out; 'cancelled' when a later run no longer wants it or the
customer's consent or arrears changed. A row still 'sending' after its dispatch ended means the
dispatch stopped half-way: it is never re-sent automatically; a person checks with the provider.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base

WORK_ITEM_STATUSES = ("open", "in_progress", "done", "cancelled", "deferred")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "expired", "cancelled")
OUTBOX_CHANNELS = ("sms", "email")
WORK_CHANNELS = ("call", "visit", "letter", "legal")


class WorkItemRow(Base):
    """One call, visit, letter or legal referral for a queue to work on its contact day."""

    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_queue", "queue", "status", "contact_date"),
        Index("ix_work_items_as_of", "as_of", "status"),
    )

    work_item_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(32), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.run_id"))
    as_of: Mapped[date] = mapped_column(Date)
    contact_date: Mapped[date] = mapped_column(Date)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    queue: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    tone: Mapped[str] = mapped_column(String(8))
    segment: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32))
    experiment: Mapped[str | None] = mapped_column(String(32))
    arm: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[str] = mapped_column(String(32))
    window_end: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxRow(Base):
    """One SMS or e-mail to send in its window, at most once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status", "contact_date"),)

    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(32), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.run_id"))
    as_of: Mapped[date] = mapped_column(Date)
    contact_date: Mapped[date] = mapped_column(Date)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    tone: Mapped[str] = mapped_column(String(8))
    experiment: Mapped[str | None] = mapped_column(String(32))
    arm: Mapped[str | None] = mapped_column(String(32))
    window_start: Mapped[str] = mapped_column(String(32))
    window_end: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    adapter: Mapped[str | None] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


CASE_HOLD_SOURCES = ("manual", "hardship", "arrangement")


class CaseHoldRow(Base):
    """A hold placed in huancui (the snapshot's holds file carries the bank's own): a 缓催 pause
    approved here, an arrangement in good standing, or a hold a compliance officer placed.

    Active on day D when start_date <= D <= end_date (NULL: open-ended). Releasing a hold sets
    its end_date to the last day it covers and records who released it and why; rows are never
    deleted. Every nightly run adds the holds active on its contact days to the snapshot's, and
    the outbox checks them again just before it sends.
    """

    __tablename__ = "case_holds"
    __table_args__ = (
        Index("ix_case_holds_account", "account_id", "start_date"),
        Index("ix_case_holds_source", "source", "source_id"),
    )

    hold_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    hold_type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(8))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(String(32))
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(Text)
