"""Case-plane tables of casework: who holds a case now (case_claims) and what each contact
came to (contact_outcomes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class CaseClaimRow(Base):
    """The collector who holds an account's case now. The primary key is the account, so two
    collectors can never hold one case: the second insert fails, on SQLite and PostgreSQL
    alike. A claim lapses at `expires_at` (a collector who walked away) and may be taken over."""

    __tablename__ = "case_claims"
    __table_args__ = (Index("ix_case_claims_collector", "collector"),)

    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collector: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContactOutcomeRow(Base):
    """One contact attempt and what it came to (right-party contact, no answer, promise, ...),
    with the collector's checked note. Never updated: a correction is a new row."""

    __tablename__ = "contact_outcomes"
    __table_args__ = (
        Index("ix_contact_outcomes_account", "account_id", "occurred_at"),
        Index("ix_contact_outcomes_actor", "actor", "occurred_at"),
    )

    outcome_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.work_item_id"))
    channel: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    arrangement_id: Mapped[int | None] = mapped_column(Integer)
    hardship_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
