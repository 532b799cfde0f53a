"""The nightly monitoring of arrangements and 缓催 pauses, before the plan is made.

For the night of `as_of` (its snapshot is imported):
1. Approved arrangements whose start date has come become active.
2. Payments in the snapshot made after a proposal's as-of date are allocated to its lines
   (model.allocate; recorded per payment and line, so a re-run allocates nothing twice); a
   line missed past the grace days or paid below the tolerance breaks the arrangement, every
   line met fulfils it (kept / completed). A broken or fulfilled arrangement's hold ends on
   `as_of`, so the plan made tonight treats the account again; a completed plan's account gets
   a cure hold of `cure_hold_days` while the bank books it.
3. Approved 缓催 pauses whose start has come become active; active ones whose last day has
   passed end (`expired`): their hold already stops on that day, so collection resumes by itself
   the day after; those within `reminder_days_before` of their end get a reminder (queued by the
   run in the outbox: a service notice, see contact/holds.SERVICE_NOTICE_PASSES).
Every change is an audit event by `actor`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.arrangements.model import (
    Line,
    Payment,
    allocate,
    fulfilled_status,
    judge,
    line_met,
)
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.tables import (
    ArrangementLineRow,
    ArrangementRow,
    HardshipRow,
    PaymentAllocationRow,
)
from huancui.contact import holds
from huancui.contact.policy import CompliancePack
from huancui.contact.tables import CaseHoldRow
from huancui.kit.calendar import day_window, iso_local
from huancui.kit.sql import lit
from huancui.portfolio.tables import CustomerRow

(REMINDER_TEMPLATE,) = holds.SERVICE_NOTICE_TEMPLATES


@dataclass
class MonitorReport:
    activated: list[int] = field(default_factory=list)
    allocated_fen: int = 0
    kept: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)
    pauses_started: list[int] = field(default_factory=list)
    pauses_ended: list[int] = field(default_factory=list)
    reminders: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "arrangements_activated": len(self.activated),
            "payments_allocated_fen": self.allocated_fen,
            "kept": len(self.kept),
            "completed": len(self.completed),
            "broken": len(self.broken),
            "hardship_started": len(self.pauses_started),
            "hardship_ended": len(self.pauses_ended),
            "hardship_reminders": len(self.reminders),
        }


def monitor(
    session: Session,
    policy: ArrangementPolicy,
    *,
    as_of: date,
    payments_file: Path,
    actor: str,
) -> MonitorReport:
    """Bring arrangements and pauses up to `as_of` (in the caller's transaction)."""
    report = MonitorReport()
    _activate(session, as_of, actor, report)
    _judge_active(session, policy, as_of, payments_file, actor, report)
    _hardship(session, policy, as_of, actor, report)
    return report


def _transition(
    session: Session, row: ArrangementRow, target: str, *, actor: str, why: str
) -> None:
    before = row.status
    row.status = target
    row.status_reason = why
    row.updated_at = datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action=f"arrangement.{target}",
        entity_type="arrangement",
        entity_id=str(row.arrangement_id),
        before={"status": before},
        after={"status": target, "account_id": row.account_id, "kind": row.kind},
        reason=why,
    )


def _activate(session: Session, as_of: date, actor: str, report: MonitorReport) -> None:
    for row in session.scalars(
        select(ArrangementRow)
        .where(ArrangementRow.status == "approved", ArrangementRow.start_date <= as_of)
        .order_by(ArrangementRow.arrangement_id)
    ):
        _transition(session, row, "active", actor=actor, why=f"start date {row.start_date}")
        report.activated.append(row.arrangement_id)


def _payments(payments_file: Path, accounts: list[str]) -> dict[str, list[tuple[str, date, int]]]:
    if not accounts or not payments_file.exists():
        return {}
    con = duckdb.connect()
    try:
        con.register("wanted", pa.table({"account_id": pa.array(sorted(set(accounts)))}))
        rows = con.execute(
            "SELECT p.account_id, p.payment_id, p.paid_date, p.amount"
            f" FROM read_parquet({lit(str(payments_file))}) AS p"
            " JOIN wanted USING (account_id) ORDER BY p.paid_date, p.payment_id"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[tuple[str, date, int]]] = {}
    for account_id, payment_id, paid_date, amount in rows:
        found.setdefault(account_id, []).append((payment_id, paid_date, int(amount)))
    return found


def _judge_active(
    session: Session,
    policy: ArrangementPolicy,
    as_of: date,
    payments_file: Path,
    actor: str,
    report: MonitorReport,
) -> None:
    active = list(
        session.scalars(
            select(ArrangementRow)
            .where(ArrangementRow.status == "active")
            .order_by(ArrangementRow.arrangement_id)
        )
    )
    paid = _payments(payments_file, [row.account_id for row in active])
    rules = policy.monitoring
    for row in active:
        lines = list(
            session.scalars(
                select(ArrangementLineRow)
                .where(ArrangementLineRow.arrangement_id == row.arrangement_id)
                .order_by(ArrangementLineRow.line_no)
            )
        )
        # Earlier allocations, per (payment, line): a payment re-delivered with a corrected,
        # higher amount tops up its rows; a lower amount (a reversal) is not taken back here,
        # the account's arrears in the snapshot show it and the lines stay as they were.
        stored = {
            (a.payment_id, a.line_no): a
            for a in session.scalars(
                select(PaymentAllocationRow).where(
                    PaymentAllocationRow.arrangement_id == row.arrangement_id
                )
            )
        }
        already: dict[str, int] = {}
        for (payment_id, _), allocation in stored.items():
            already[payment_id] = already.get(payment_id, 0) + allocation.amount_fen
        candidates = [
            Payment(pid, day, amount)
            for pid, day, amount in paid.get(row.account_id, [])
            if row.proposed_on < day <= as_of
        ]
        by_no = {line.line_no: line for line in lines}
        now = datetime.now(UTC)
        for share in allocate(
            [Line(x.line_no, x.due_date, x.amount_due_fen, x.paid_fen) for x in lines],
            candidates,
            already,
        ):
            existing = stored.get((share.payment_id, share.line_no))
            if existing is not None:
                existing.amount_fen += share.amount_fen
                existing.allocated_at = now
            else:
                stored[(share.payment_id, share.line_no)] = allocation = PaymentAllocationRow(
                    payment_id=share.payment_id,
                    arrangement_id=row.arrangement_id,
                    line_no=share.line_no,
                    paid_date=share.paid_date,
                    amount_fen=share.amount_fen,
                    allocated_at=now,
                )
                session.add(allocation)
            target = by_no[share.line_no]
            target.paid_fen += share.amount_fen
            report.allocated_fen += share.amount_fen
            if target.status == "due" and line_met(
                Line(target.line_no, target.due_date, target.amount_due_fen, target.paid_fen),
                rules.tolerance,
            ):
                target.status, target.settled_on = "met", share.paid_date
        standing = judge(
            [Line(x.line_no, x.due_date, x.amount_due_fen, x.paid_fen) for x in lines],
            as_of,
            grace_days=rules.grace_days,
            tolerance=rules.tolerance,
        )
        if standing.state == "good":
            continue
        if standing.state == "broken":
            assert standing.missed_line is not None
            by_no[standing.missed_line.line_no].status = "missed"
            _transition(session, row, "broken", actor=actor, why=standing.reason(rules.tolerance))
            report.broken.append(row.arrangement_id)
            _end_holds(session, row, as_of, actor, "the arrangement was broken")
            continue
        target_status = fulfilled_status(row.kind)  # type: ignore[arg-type]
        _transition(session, row, target_status, actor=actor, why="every line paid")
        (report.kept if target_status == "kept" else report.completed).append(row.arrangement_id)
        _end_holds(session, row, as_of, actor, f"the arrangement was {target_status}")
        if target_status == "completed" and rules.cure_hold_days:
            holds.place(
                session,
                account_id=row.account_id,
                hold_type="arrangement",
                start=as_of + timedelta(days=1),
                end=as_of + timedelta(days=rules.cure_hold_days),
                reason=f"arrangement {row.arrangement_id} completed: the bank books the cure",
                actor=actor,
                source="arrangement",
                source_id=f"{row.arrangement_id}:cure",
            )


def _end_holds(session: Session, row: ArrangementRow, as_of: date, actor: str, why: str) -> None:
    end_arrangement_holds(session, row.arrangement_id, last_day=as_of, actor=actor, why=why)


def end_arrangement_holds(
    session: Session, arrangement_id: int, *, last_day: date, actor: str, why: str
) -> None:
    for hold in session.scalars(
        select(CaseHoldRow).where(
            CaseHoldRow.source == "arrangement",
            CaseHoldRow.source_id == str(arrangement_id),
            CaseHoldRow.released_at.is_(None),
        )
    ):
        holds.release(
            session, hold.hold_id, last_day=last_day, actor=actor, reason=why, by_workflow=True
        )


def _hardship_event(
    session: Session, row: HardshipRow, action: str, *, actor: str, why: str, **after: object
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"hardship.{action}",
        entity_type="hardship",
        entity_id=str(row.hardship_id),
        after={"status": row.status, "account_id": row.account_id, **after},
        reason=why,
    )


def _hardship(
    session: Session, policy: ArrangementPolicy, as_of: date, actor: str, report: MonitorReport
) -> None:
    now = datetime.now(UTC)
    for row in session.scalars(
        select(HardshipRow)
        .where(HardshipRow.status.in_(("approved", "active")))
        .order_by(HardshipRow.hardship_id)
    ):
        assert row.start_date is not None and row.end_date is not None
        if row.status == "approved" and row.start_date <= as_of:
            row.status, row.updated_at = "active", now
            _hardship_event(session, row, "active", actor=actor, why=f"pause from {row.start_date}")
            report.pauses_started.append(row.hardship_id)
        if row.status == "active" and row.end_date <= as_of:
            row.status, row.ended_on, row.updated_at = "ended", row.end_date, now
            row.end_reason = "expired"
            _hardship_event(
                session,
                row,
                "ended",
                actor=actor,
                why=f"the pause ended on {row.end_date}; collection resumes on"
                f" {row.end_date + timedelta(days=1)}",
            )
            report.pauses_ended.append(row.hardship_id)
            continue
        remind_from = row.end_date - timedelta(days=policy.hardship.reminder_days_before)
        if row.status == "active" and row.reminder_on is None and as_of >= remind_from:
            row.reminder_on, row.updated_at = as_of, now
            _hardship_event(
                session,
                row,
                "reminder",
                actor=actor,
                why=f"the pause ends on {row.end_date}: reminder queued",
            )
            report.reminders.append(row.hardship_id)


def reminder_key(hardship_id: int) -> str:
    return hashlib.sha256(f"hardship-reminder:{hardship_id}".encode()).hexdigest()[:32]


def reminder_rows(
    session: Session, pack: CompliancePack, *, as_of: date, contact_date: date, schema: pa.Schema
) -> pa.Table:
    """Outbox rows for the reminders queued on `as_of`, in the plan's outbox columns: an SMS
    (or an e-mail without SMS consent) in the pack's contact hours of the customer's zone."""
    rows = []
    for pause, customer in session.execute(
        select(HardshipRow, CustomerRow)
        .join(CustomerRow, CustomerRow.customer_id == HardshipRow.customer_id)
        .where(HardshipRow.reminder_on == as_of, HardshipRow.status == "active")
        .order_by(HardshipRow.hardship_id)
    ):
        channel = "sms" if customer.consent_sms else "email" if customer.consent_email else None
        if channel is None:
            continue
        tz = customer.timezone or pack.default_timezone
        window = day_window(
            contact_date, pack.contact_hours.start_time, pack.contact_hours.end_time, tz
        )
        rows.append(
            {
                "idempotency_key": reminder_key(pause.hardship_id),
                "as_of": as_of,
                "contact_date": contact_date,
                "account_id": pause.account_id,
                "customer_id": pause.customer_id,
                "channel": channel,
                "template": REMINDER_TEMPLATE,
                "tone": "gentle",
                "experiment": None,
                "arm": None,
                "window_start": iso_local(window.start),
                "window_end": iso_local(window.end),
            }
        )
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist(rows).select(schema.names).cast(schema)
