"""Every query of casework: the open cases of a day (filtered, ordered and paged in SQL), claims
taken and given back without a race, the account's history for the 360 view, outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from huancui.cases.model import CASE_CHANNELS
from huancui.cases.tables import CaseClaimRow, ContactOutcomeRow
from huancui.contact.policy import HARD_HOLDS, PERSON_HOLDS
from huancui.contact.tables import CaseHoldRow, OutboxRow, WorkItemRow
from huancui.portfolio.tables import AccountRow, AccountSnapshotRow, SnapshotRow

_HARD = tuple(kind for kind, _ in HARD_HOLDS)


def _hold_active(day: date) -> ColumnElement[bool]:
    return and_(
        CaseHoldRow.start_date <= day,
        or_(CaseHoldRow.end_date.is_(None), CaseHoldRow.end_date >= day),
        CaseHoldRow.hold_type.in_(_HARD),
    )


def blocked(day: date) -> ColumnElement[bool]:
    """True for a work item whose account a hard hold stops on `day`: its own, or a person-level
    one (deceased, bankruptcy, do-not-contact) on any account of its customer. The SQL form of
    contact.holds.blocking, so a queue can page without reading every case."""
    own = exists().where(_hold_active(day), CaseHoldRow.account_id == WorkItemRow.account_id)
    person = exists().where(
        _hold_active(day),
        CaseHoldRow.hold_type.in_(PERSON_HOLDS),
        CaseHoldRow.customer_id == WorkItemRow.customer_id,
    )
    return or_(own, person)


def open_items(day: date, *, collector: str | None, queue: str | None) -> Select[Any]:
    """The work items that make cases on `day`: open calls and visits due by then, not stopped
    by a hold, not assigned to another collector."""
    query = select(WorkItemRow).where(
        WorkItemRow.status == "open",
        WorkItemRow.channel.in_(CASE_CHANNELS),
        WorkItemRow.contact_date <= day,
        ~blocked(day),
    )
    if collector is not None:
        query = query.where(
            or_(WorkItemRow.assigned_to.is_(None), WorkItemRow.assigned_to == collector)
        )
    if queue is not None:
        query = query.where(WorkItemRow.queue == queue)
    return query


def case_rows(
    session: Session,
    *,
    day: date,
    collector: str | None,
    queue: str | None,
    now: datetime,
    include_claimed: bool,
    limit: int,
    offset: int,
) -> tuple[list[tuple[str, float | None]], int]:
    """One page of (account_id, priority) of the day's cases, highest priority first, and the
    count of all. Without `include_claimed` only cases `collector` may work: unclaimed, claimed
    by them, or whose claim lapsed by `now`."""
    items = open_items(day, collector=collector, queue=queue).subquery()
    cases = (
        select(items.c.account_id, func.max(items.c.priority).label("priority"))
        .group_by(items.c.account_id)
        .subquery()
    )
    query = select(cases.c.account_id, cases.c.priority).outerjoin(
        CaseClaimRow, CaseClaimRow.account_id == cases.c.account_id
    )
    if not include_claimed:
        query = query.where(
            or_(
                CaseClaimRow.account_id.is_(None),
                CaseClaimRow.collector == collector,
                CaseClaimRow.expires_at <= now,
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.execute(
        query.order_by(cases.c.priority.desc().nulls_last(), cases.c.account_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [(str(a), p) for a, p in page], int(total)


def items_of(
    session: Session, account_ids: Sequence[str], *, day: date, queue: str | None
) -> list[WorkItemRow]:
    """The open case items of these accounts, highest priority first per account."""
    if not account_ids:
        return []
    query = (
        open_items(day, collector=None, queue=queue)
        .where(WorkItemRow.account_id.in_(account_ids))
        .order_by(
            WorkItemRow.account_id,
            WorkItemRow.priority.desc().nulls_last(),
            WorkItemRow.work_item_id,
        )
    )
    return list(session.scalars(query))


def claims_of(session: Session, account_ids: Sequence[str]) -> dict[str, CaseClaimRow]:
    if not account_ids:
        return {}
    rows = session.scalars(
        select(CaseClaimRow)
        .where(CaseClaimRow.account_id.in_(account_ids))
        .execution_options(populate_existing=True)  # claims change under us by Core statements
    )
    return {r.account_id: r for r in rows}


def latest_snapshot_id(session: Session, day: date) -> int | None:
    """The newest snapshot on or before `day`."""
    return session.scalar(
        select(SnapshotRow.snapshot_id)
        .where(SnapshotRow.as_of <= day)
        .order_by(SnapshotRow.as_of.desc())
        .limit(1)
    )


def states_of(
    session: Session, account_ids: Sequence[str], day: date
) -> dict[str, AccountSnapshotRow]:
    snapshot_id = latest_snapshot_id(session, day)
    if snapshot_id is None or not account_ids:
        return {}
    rows = session.scalars(
        select(AccountSnapshotRow).where(
            AccountSnapshotRow.snapshot_id == snapshot_id,
            AccountSnapshotRow.account_id.in_(account_ids),
        )
    )
    return {r.account_id: r for r in rows}


# ---------------------------------------------------------------------------------------------
# Claims: taken with INSERT ... ON CONFLICT DO NOTHING and a conditional UPDATE, so a lost race
# is a row count of 0, never an exception (no savepoint needed, on SQLite or PostgreSQL).


def insert_claim(
    session: Session, *, account_id: str, collector: str, now: datetime, expires_at: datetime
) -> bool:
    """Claim an unclaimed case; False when someone holds it (or just took it)."""
    values = {
        "account_id": account_id,
        "collector": collector,
        "claimed_at": now,
        "expires_at": expires_at,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(CaseClaimRow).values(**values)
    else:
        statement = sqlite.insert(CaseClaimRow).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["account_id"]).returning(
        CaseClaimRow.account_id
    )
    # A row comes back only when this insert wrote it (rowcount is not reliable for an
    # insert through every driver).
    return session.execute(statement).first() is not None


def take_over_claim(
    session: Session, *, account_id: str, collector: str, now: datetime, expires_at: datetime
) -> str | None:
    """Take a lapsed claim (or renew one's own); the previous holder, or None when the claim is
    live and someone else's (PostgreSQL re-checks the condition after a concurrent update)."""
    previous = session.scalar(
        select(CaseClaimRow.collector).where(CaseClaimRow.account_id == account_id)
    )
    if previous is None:
        return None
    taken = session.execute(
        update(CaseClaimRow)
        .where(
            CaseClaimRow.account_id == account_id,
            or_(CaseClaimRow.expires_at <= now, CaseClaimRow.collector == collector),
        )
        .values(collector=collector, claimed_at=now, expires_at=expires_at)
        .returning(CaseClaimRow.account_id)
        .execution_options(synchronize_session=False)
    ).first()
    return previous if taken is not None else None


def delete_claim(session: Session, account_id: str) -> None:
    session.execute(
        delete(CaseClaimRow)
        .where(CaseClaimRow.account_id == account_id)
        .execution_options(synchronize_session=False)
    )


def held_by(session: Session, collector: str) -> list[CaseClaimRow]:
    return list(
        session.scalars(
            select(CaseClaimRow)
            .where(CaseClaimRow.collector == collector)
            .order_by(CaseClaimRow.claimed_at)
            .execution_options(populate_existing=True)
        )
    )


# ---------------------------------------------------------------------------------------------
# Outcomes and the account's history


def outcomes_query(
    *,
    account_ids: Sequence[str] | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[ContactOutcomeRow]:
    query = select(ContactOutcomeRow)
    if account_ids is not None:
        query = query.where(ContactOutcomeRow.account_id.in_(account_ids))
    if actor is not None:
        query = query.where(ContactOutcomeRow.actor == actor)
    if since is not None:
        query = query.where(ContactOutcomeRow.occurred_at >= since)
    if until is not None:
        query = query.where(ContactOutcomeRow.occurred_at < until)
    return query


def page_of_outcomes(
    session: Session, query: Select[ContactOutcomeRow], *, limit: int, offset: int
) -> tuple[list[ContactOutcomeRow], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ContactOutcomeRow.occurred_at.desc(), ContactOutcomeRow.outcome_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def open_case_items(session: Session, account_id: str, day: date) -> list[WorkItemRow]:
    """The account's open calls and visits due by `day` (what an outcome completes)."""
    return list(
        session.scalars(
            select(WorkItemRow)
            .where(
                WorkItemRow.account_id == account_id,
                WorkItemRow.status == "open",
                WorkItemRow.channel.in_(CASE_CHANNELS),
                WorkItemRow.contact_date <= day,
            )
            .order_by(WorkItemRow.work_item_id)
        )
    )


def work_items_of(session: Session, account_id: str, limit: int) -> list[WorkItemRow]:
    return list(
        session.scalars(
            select(WorkItemRow)
            .where(WorkItemRow.account_id == account_id)
            .order_by(WorkItemRow.contact_date.desc(), WorkItemRow.work_item_id.desc())
            .limit(limit)
        )
    )


def messages_of(session: Session, account_id: str, limit: int) -> list[OutboxRow]:
    return list(
        session.scalars(
            select(OutboxRow)
            .where(OutboxRow.account_id == account_id)
            .order_by(OutboxRow.contact_date.desc(), OutboxRow.message_id.desc())
            .limit(limit)
        )
    )


def accounts_of_customer(session: Session, customer_id: str) -> list[AccountRow]:
    return list(
        session.scalars(
            select(AccountRow)
            .where(AccountRow.customer_id == customer_id)
            .order_by(AccountRow.account_id)
        )
    )


def dpd_history(
    session: Session, account_id: str, day: date
) -> list[tuple[date, AccountSnapshotRow]]:
    rows = session.execute(
        select(SnapshotRow.as_of, AccountSnapshotRow)
        .join(AccountSnapshotRow, AccountSnapshotRow.snapshot_id == SnapshotRow.snapshot_id)
        .where(AccountSnapshotRow.account_id == account_id, SnapshotRow.as_of <= day)
        .order_by(SnapshotRow.as_of)
    ).all()
    return [(as_of, state) for as_of, state in rows]


def last_outcome_at(
    session: Session, account_ids: Sequence[str], outcomes: Sequence[str]
) -> ContactOutcomeRow | None:
    return session.scalars(
        select(ContactOutcomeRow)
        .where(
            ContactOutcomeRow.account_id.in_(account_ids),
            ContactOutcomeRow.outcome.in_(outcomes),
        )
        .order_by(ContactOutcomeRow.occurred_at.desc(), ContactOutcomeRow.outcome_id.desc())
        .limit(1)
    ).first()
