"""Case-plane tables of arrangements and the 缓催 hardship pause.

An arrangement (promise to pay, instalment plan, deferral, waiver, settlement) is a record with
its schedule of lines: what is due on which day. Payments from the snapshots are allocated to
the lines (payment_allocations, one row per payment and line, so a second monitoring pass never
counts a payment twice). Money is integer fen; states and their transitions are in
arrangements/model.py; every transition is an audit event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class ArrangementRow(Base):
    __tablename__ = "arrangements"
    __table_args__ = (
        Index("ix_arrangements_account", "account_id", "status"),
        Index("ix_arrangements_status", "status"),
    )

    arrangement_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(16))
    proposed_on: Mapped[date] = mapped_column(Date)  # the as-of date the proposal refers to
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)  # the last line's due date
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)  # the calculator's inputs
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)  # its totals, as shown to the customer
    total_due_fen: Mapped[int] = mapped_column(BigInteger)
    waived_fen: Mapped[int] = mapped_column(BigInteger)
    discount_share: Mapped[str] = mapped_column(String(12))  # Decimal text, 0 when none
    term_months: Mapped[int] = mapped_column(Integer)
    monthly_burden_fen: Mapped[int] = mapped_column(BigInteger)
    hardship_id: Mapped[int | None] = mapped_column(ForeignKey("hardship_applications.hardship_id"))
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    proposal_reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_role: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArrangementLineRow(Base):
    """One due amount of an arrangement. status: due → met | missed (see model.py)."""

    __tablename__ = "arrangement_lines"

    arrangement_id: Mapped[int] = mapped_column(
        ForeignKey("arrangements.arrangement_id"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_date: Mapped[date] = mapped_column(Date)
    amount_due_fen: Mapped[int] = mapped_column(BigInteger)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    interest_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8))
    settled_on: Mapped[date | None] = mapped_column(Date)


class PaymentAllocationRow(Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (UniqueConstraint("payment_id", "arrangement_id", "line_no"),)

    allocation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(String(40))
    arrangement_id: Mapped[int] = mapped_column(ForeignKey("arrangements.arrangement_id"))
    line_no: Mapped[int] = mapped_column(Integer)
    paid_date: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HardshipRow(Base):
    """A 缓催 application: applied → approved | rejected | withdrawn; approved → active → ended."""

    __tablename__ = "hardship_applications"
    __table_args__ = (Index("ix_hardship_account", "account_id", "status"),)

    hardship_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text)
    requested_start: Mapped[date] = mapped_column(Date)
    requested_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    applied_via: Mapped[str] = mapped_column(String(16))  # cli, api, portal
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # last day of the pause
    interest_accrues: Mapped[bool] = mapped_column(Boolean)
    accrual_estimate_fen: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_role: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    hold_id: Mapped[int | None] = mapped_column(Integer)
    reminder_on: Mapped[date | None] = mapped_column(Date)  # when the expiry reminder was queued
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HardshipEvidenceRow(Base):
    """A file supporting an application, stored once under its SHA-256 (evidence/<sha256>)."""

    __tablename__ = "hardship_evidence"

    evidence_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hardship_id: Mapped[int] = mapped_column(ForeignKey("hardship_applications.hardship_id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
