"""Holds placed in huancui (case_holds): place, release, and hand them to the nightly run and
the outbox.

The snapshot's holds file carries the holds of the bank's own systems; these are the ones people
place here: a 缓催 pause approved under the authority matrix, an arrangement in good standing
(`arrangement`), or a hold a compliance officer places by hand (dispute, legal, deceased, ...).
Each change is an audit event. Holds are never deleted: a release sets the last day they cover.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.contact.guard import GUARD_HOLDS_SCHEMA
from huancui.contact.policy import HARD_HOLDS, PERSON_HOLDS
from huancui.contact.tables import CASE_HOLD_SOURCES, CaseHoldRow
from huancui.kit.errors import Conflict, InvalidInput, NotFound
from huancui.portfolio.tables import AccountRow

# What a person may place by hand (pauses and arrangement holds come from their own records).
MANUAL_TYPES = (
    "dispute",
    "legal",
    "bankruptcy",
    "deceased",
    "do_not_contact",
    "channel_opt_out",
    "vulnerable",
)
CHANNELS = ("sms", "email", "call", "visit", "letter")
# Holds a service notice (e.g. the reminder that a 缓催 pause ends) may pass: it is about the pause
# or the plan itself, not a collection contact. Every other hard hold stops it too.
SERVICE_NOTICE_PASSES = frozenset({"hardship", "arrangement"})
SERVICE_NOTICE_TEMPLATES = frozenset({"notice.hardship.ending"})
_ONE_DAY = timedelta(days=1)


def _as_json(row: CaseHoldRow) -> dict[str, object]:
    return {
        "hold_id": row.hold_id,
        "account_id": row.account_id,
        "hold_type": row.hold_type,
        "channel": row.channel,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "source": row.source,
        "source_id": row.source_id,
    }


def place(
    session: Session,
    *,
    account_id: str,
    hold_type: str,
    start: date,
    end: date | None,
    reason: str,
    actor: str,
    source: str = "manual",
    source_id: str | None = None,
    channel: str | None = None,
) -> CaseHoldRow:
    """Place a hold (in the caller's transaction) and audit it."""
    account = session.get(AccountRow, account_id)
    if account is None:
        raise NotFound(f"account {account_id} is not in the case plane")
    if source not in CASE_HOLD_SOURCES:
        raise InvalidInput(f"source: {source!r} is not one of {', '.join(CASE_HOLD_SOURCES)}")
    if source == "manual" and hold_type not in MANUAL_TYPES:
        raise InvalidInput(
            f"--type: {hold_type!r} cannot be placed by hand; choose one of"
            f" {', '.join(MANUAL_TYPES)} (a 缓催 pause comes from an approved application)"
        )
    if (hold_type == "channel_opt_out") != (channel is not None):
        raise InvalidInput("--channel: give a channel for channel_opt_out, and only for it")
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"--channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    if end is not None and end < start:
        raise InvalidInput(f"--to: {end} is before the start {start}")
    if not reason.strip():
        raise InvalidInput("--reason: say why the hold is placed")
    row = CaseHoldRow(
        account_id=account_id,
        customer_id=account.customer_id,
        hold_type=hold_type,
        channel=channel,
        start_date=start,
        end_date=end,
        reason=reason.strip(),
        source=source,
        source_id=source_id,
        placed_by=actor,
        placed_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hold.place",
        entity_type="case_hold",
        entity_id=str(row.hold_id),
        after=_as_json(row),
        reason=row.reason,
    )
    return row


def release(
    session: Session,
    hold_id: int,
    *,
    last_day: date,
    actor: str,
    reason: str,
    by_workflow: bool = False,
) -> CaseHoldRow:
    """End a hold: it covers `last_day` at most (the day before `start_date` voids it). A hold
    placed by a 缓催 pause or an arrangement ends with its record (`by_workflow`), never by
    hand: otherwise the pause would still show as running while collection had resumed."""
    row = session.get(CaseHoldRow, hold_id)
    if row is None:
        raise NotFound(f"hold {hold_id} does not exist")
    if row.source != "manual" and not by_workflow:
        how = (
            f"end the 缓催 pause: huancui hardship end {row.source_id}"
            if row.source == "hardship"
            else f"cancel or let the arrangement end: huancui arrangement show {row.source_id}"
        )
        raise Conflict(f"hold {hold_id} belongs to {row.source} {row.source_id}; {how}")
    if row.released_at is not None:
        raise Conflict(f"hold {hold_id} was already released on {row.released_at:%Y-%m-%d}")
    if not reason.strip():
        raise InvalidInput("--reason: say why the hold ends")
    before = _as_json(row)
    if row.end_date is None or last_day < row.end_date:
        row.end_date = max(last_day, row.start_date - _ONE_DAY)
    row.released_by = actor
    row.released_at = datetime.now(UTC)
    row.release_reason = reason.strip()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hold.release",
        entity_type="case_hold",
        entity_id=str(row.hold_id),
        before=before,
        after=_as_json(row),
        reason=row.release_reason,
    )
    return row


def for_run(session: Session, first_day: date) -> pa.Table:
    """The holds that may still be active on or after `first_day`, shaped like the snapshot's
    holds file, for the nightly run (ids prefixed 'case-'), each with its account's customer."""
    rows = session.execute(
        select(CaseHoldRow, AccountRow.customer_id)
        .outerjoin(AccountRow, AccountRow.account_id == CaseHoldRow.account_id)
        .where(or_(CaseHoldRow.end_date.is_(None), CaseHoldRow.end_date >= first_day))
        .where(CaseHoldRow.end_date.is_(None) | (CaseHoldRow.end_date >= CaseHoldRow.start_date))
        .order_by(CaseHoldRow.hold_id)
    ).all()
    return pa.Table.from_pylist(
        [
            {
                "hold_id": f"case-{r.hold_id}",
                "account_id": r.account_id,
                "hold_type": r.hold_type,
                "channel": r.channel,
                "start_date": r.start_date,
                "end_date": r.end_date,
                "reason": r.reason,
                "customer_id": customer_id,
            }
            for r, customer_id in rows
        ],
        schema=GUARD_HOLDS_SCHEMA,
    )


def blocking(
    session: Session, account_ids: Iterable[str], day: date
) -> dict[str, list[tuple[str, int]]]:
    """Per account: the hard holds (type, hold id) active on `day`, its own and its customer's
    person-level ones (deceased, bankruptcy, do-not-contact on any of their accounts)."""
    wanted = set(account_ids)
    if not wanted:
        return {}
    customers = dict(
        session.execute(
            select(AccountRow.account_id, AccountRow.customer_id).where(
                AccountRow.account_id.in_(wanted)
            )
        ).all()
    )
    hard = [kind for kind, _ in HARD_HOLDS]
    active = (
        (CaseHoldRow.start_date <= day)
        & (CaseHoldRow.end_date.is_(None) | (CaseHoldRow.end_date >= day))
        & CaseHoldRow.hold_type.in_(hard)
    )
    found: dict[str, list[tuple[str, int]]] = {}
    for row in session.scalars(
        select(CaseHoldRow).where(
            active,
            CaseHoldRow.account_id.in_(wanted)
            | (
                CaseHoldRow.customer_id.in_(set(customers.values()))
                & CaseHoldRow.hold_type.in_(PERSON_HOLDS)
            ),
        )
    ):
        if row.account_id in wanted:
            found.setdefault(row.account_id, []).append((row.hold_type, row.hold_id))
        if row.hold_type in PERSON_HOLDS:
            for account_id, customer_id in customers.items():
                if customer_id == row.customer_id and account_id != row.account_id:
                    found.setdefault(account_id, []).append((row.hold_type, row.hold_id))
    return found


def list_holds(
    session: Session, *, account_id: str | None = None, active_on: date | None = None
) -> list[CaseHoldRow]:
    query = select(CaseHoldRow).order_by(CaseHoldRow.hold_id)
    if account_id is not None:
        query = query.where(CaseHoldRow.account_id == account_id)
    if active_on is not None:
        query = query.where(
            CaseHoldRow.start_date <= active_on,
            CaseHoldRow.end_date.is_(None) | (CaseHoldRow.end_date >= active_on),
        )
    return list(session.scalars(query))
