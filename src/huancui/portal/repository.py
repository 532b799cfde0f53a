"""Every query of the portal's customer views, each scoped to one customer: an account that is
not theirs is not found, exactly like one that does not exist, so ids cannot be probed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huancui.arrangements.model import OPEN_STATUSES
from huancui.arrangements.tables import ArrangementLineRow, ArrangementRow, HardshipRow
from huancui.contact.tables import CaseHoldRow, OutboxRow
from huancui.kit.errors import NotFound
from huancui.portal.tables import CsatRatingRow
from huancui.portfolio.repository import PortfolioRepository
from huancui.portfolio.tables import AccountRow, AccountSnapshotRow, SnapshotRow

# Holds a customer is shown (their type and dates, never the note behind them): the ones they
# asked for or agreed to. Internal assessments (vulnerable, deceased, legal, ...) are not shown.
CUSTOMER_VISIBLE_HOLDS = ("hardship", "arrangement", "dispute", "do_not_contact", "channel_opt_out")
OPEN_HARDSHIP = ("applied", "approved", "active")


def not_found(account_id: str) -> NotFound:
    return NotFound(f"account {account_id} is not one of your accounts")


def owned_account(session: Session, *, customer_id: str, account_id: str) -> AccountRow:
    """The account if it is the customer's own; NotFound otherwise (never 'not yours')."""
    row = session.get(AccountRow, account_id)
    if row is None or row.customer_id != customer_id:
        raise not_found(account_id)
    return row


def accounts_of(session: Session, customer_id: str) -> list[AccountRow]:
    return list(
        session.scalars(
            select(AccountRow)
            .where(AccountRow.customer_id == customer_id)
            .order_by(AccountRow.account_id)
        )
    )


def latest_as_of(session: Session) -> date | None:
    """The as-of date of the newest imported snapshot: what the portal shows and prices on."""
    latest = PortfolioRepository(session).latest_snapshot()
    return latest.as_of if latest else None


def states(session: Session, account_ids: list[str], as_of: date) -> dict[str, AccountSnapshotRow]:
    """The accounts' rows in the snapshot of `as_of` (absent: not in that delivery)."""
    if not account_ids:
        return {}
    return {
        row.account_id: row
        for row in session.scalars(
            select(AccountSnapshotRow)
            .join(SnapshotRow, SnapshotRow.snapshot_id == AccountSnapshotRow.snapshot_id)
            .where(SnapshotRow.as_of == as_of, AccountSnapshotRow.account_id.in_(account_ids))
        )
    }


def open_arrangement(session: Session, account_id: str) -> ArrangementRow | None:
    return session.scalars(
        select(ArrangementRow)
        .where(ArrangementRow.account_id == account_id, ArrangementRow.status.in_(OPEN_STATUSES))
        .order_by(ArrangementRow.arrangement_id.desc())
        .limit(1)
    ).first()


def next_line(session: Session, arrangement_id: int) -> ArrangementLineRow | None:
    return session.scalars(
        select(ArrangementLineRow)
        .where(
            ArrangementLineRow.arrangement_id == arrangement_id,
            ArrangementLineRow.status == "due",
        )
        .order_by(ArrangementLineRow.line_no)
        .limit(1)
    ).first()


def hardship_of(session: Session, account_id: str) -> list[HardshipRow]:
    """The account's 缓催 applications, newest first."""
    return list(
        session.scalars(
            select(HardshipRow)
            .where(HardshipRow.account_id == account_id)
            .order_by(HardshipRow.hardship_id.desc())
        )
    )


def visible_holds(session: Session, account_id: str, day: date) -> list[CaseHoldRow]:
    """Holds active on `day` that the customer may see."""
    return list(
        session.scalars(
            select(CaseHoldRow)
            .where(
                CaseHoldRow.account_id == account_id,
                CaseHoldRow.hold_type.in_(CUSTOMER_VISIBLE_HOLDS),
                CaseHoldRow.start_date <= day,
                (CaseHoldRow.end_date.is_(None)) | (CaseHoldRow.end_date >= day),
            )
            .order_by(CaseHoldRow.start_date)
        )
    )


def messages_sent(session: Session, account_id: str, *, limit: int = 20) -> list[OutboxRow]:
    """The SMS and e-mail sent about the account, newest first."""
    return list(
        session.scalars(
            select(OutboxRow)
            .where(OutboxRow.account_id == account_id, OutboxRow.status == "sent")
            .order_by(OutboxRow.message_id.desc())
            .limit(limit)
        )
    )


def ratings_since(session: Session, customer_id: str, since: datetime) -> int:
    found = session.scalar(
        select(func.count()).where(
            CsatRatingRow.customer_id == customer_id, CsatRatingRow.created_at >= since
        )
    )
    return int(found or 0)
