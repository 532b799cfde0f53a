"""Case-plane tables of the portfolio: customers, accounts, snapshots and delinquency history.

Money columns are integer fen (suffix _fen); rates are integer millionths (suffix _ppm) so no float
ever stands in for an exact number.
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
)
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class CustomerRow(Base):
    """A customer. The personal fields (the data contract's pii columns) are stored encrypted
    (Fernet tokens, access.crypto) and read through access.pii, never from these columns; the
    hashes find a customer by national ID or phone (NULL only in a row written before
    encryption, until `huancui keys rotate` converts it)."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_encrypted: Mapped[str] = mapped_column(Text)
    national_id_encrypted: Mapped[str] = mapped_column(Text)
    national_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_encrypted: Mapped[str] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email_encrypted: Mapped[str | None] = mapped_column(Text)
    birth_date_encrypted: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    credit_grade: Mapped[str] = mapped_column(String(1))
    monthly_income_fen: Mapped[int | None] = mapped_column(BigInteger)
    employment_status: Mapped[str | None] = mapped_column(String(16))
    preferred_language: Mapped[str] = mapped_column(String(8))
    consent_sms: Mapped[bool] = mapped_column(Boolean)
    consent_email: Mapped[bool] = mapped_column(Boolean)
    consent_call: Mapped[bool] = mapped_column(Boolean)
    first_seen_on: Mapped[date] = mapped_column(Date)
    last_seen_on: Mapped[date] = mapped_column(Date)


class AccountRow(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    product: Mapped[str] = mapped_column(String(16))
    product_name: Mapped[str | None] = mapped_column(String(64))
    open_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit_fen: Mapped[int | None] = mapped_column(BigInteger)
    loan_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    term_months: Mapped[int | None] = mapped_column(Integer)
    annual_rate_ppm: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    branch: Mapped[str | None] = mapped_column(String(32))
    guarantor_customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"))
    first_seen_on: Mapped[date] = mapped_column(Date)
    last_seen_on: Mapped[date] = mapped_column(Date)


class SnapshotRow(Base):
    """One imported delivery: the portfolio as of a date. Re-importing a date replaces it."""

    __tablename__ = "snapshots"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(Date, unique=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    imported_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)  # name → sha256, rows, encoding
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # the delinquency policy applied
    accounts: Mapped[int] = mapped_column(Integer)
    rejected_rows: Mapped[int] = mapped_column(Integer)


class AccountSnapshotRow(Base):
    """An account's state at a snapshot's as-of date, with the computed delinquency."""

    __tablename__ = "account_snapshots"
    __table_args__ = (Index("ix_account_snapshots_bucket", "snapshot_id", "bucket"),)

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("snapshots.snapshot_id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    credit_grade: Mapped[str] = mapped_column(String(1))
    province: Mapped[str] = mapped_column(String(2))
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    interest_fen: Mapped[int] = mapped_column(BigInteger)
    fees_fen: Mapped[int] = mapped_column(BigInteger)
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    arrears_fen: Mapped[int] = mapped_column(BigInteger)
    arrears_principal_fen: Mapped[int] = mapped_column(BigInteger)
    arrears_interest_fen: Mapped[int] = mapped_column(BigInteger)
    arrears_fee_fen: Mapped[int] = mapped_column(BigInteger)
    missed_dues: Mapped[int] = mapped_column(Integer)
    days_past_due: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(16))
    oldest_unpaid_due_date: Mapped[date | None] = mapped_column(Date)
    delinquent_since: Mapped[date | None] = mapped_column(Date)
    cycles_delinquent: Mapped[int] = mapped_column(Integer)
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    paid_30d_fen: Mapped[int] = mapped_column(BigInteger)
    charged_off: Mapped[bool] = mapped_column(Boolean)
    charge_off_date: Mapped[date | None] = mapped_column(Date)


class DelinquencySpellRow(Base):
    """A time-bounded delinquency record: an account sat in `bucket` from started_on until
    ended_on (exclusive; NULL while it lasts), entered through `event`."""

    __tablename__ = "delinquency_spells"
    __table_args__ = (Index("ix_delinquency_spells_account", "snapshot_id", "account_id"),)

    spell_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("snapshots.snapshot_id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(32))
    bucket: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
