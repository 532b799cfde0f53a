"""缓催 — the hardship pause: a customer in trouble asks for collection to pause.

An application (reason code, details, evidence files stored under their SHA-256, requested start
and days) is recorded by staff (or, later, the portal). The policy limits a pause to `max_days`
(default 90) and one per customer in `once_per_months` (12). A person whose role's authority
covers the days approves it (never the one who recorded it), possibly for fewer days; approval
places a `hardship` hold over the pause, so the compliance guard blocks every collection contact
in it (service notices such as the reminder that it ends excepted). Whether interest accrues is
the policy's `interest_accrues`, stored on the application with an estimate (balance × rate ×
days / 365, half-up) to show the customer. The nightly monitoring (monitor.py) starts it, queues
a reminder `reminder_days_before` its end, and ends it after its last day: collection resumes by
itself. It may end early on request; it may lead into an instalment plan or a deferral
(`huancui arrangement propose ... --after-hardship ID`).

Application states: applied → approved | rejected | withdrawn; approved → active → ended.
Evidence files are written before the transaction commits; a failed commit leaves an unreferenced
file under its hash, never a record without its file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import audit
from huancui.access.users import staff
from huancui.arrangements.evidence import EvidenceContent
from huancui.arrangements.model import Needs
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.service import PPM, YEAR_DAYS, check_authority, history, latest_state
from huancui.arrangements.tables import HardshipEvidenceRow, HardshipRow
from huancui.contact import holds
from huancui.contact.tables import CaseHoldRow
from huancui.kit.errors import Conflict, InvalidInput, NotFound, NotPermitted
from huancui.kit.money import format_yuan, round_half_up
from huancui.kit.settings import Settings
from huancui.portfolio.tables import AccountRow


def _hardship_json(row: HardshipRow) -> dict[str, Any]:
    return {
        "hardship_id": row.hardship_id,
        "account_id": row.account_id,
        "status": row.status,
        "reason_code": row.reason_code,
        "requested_start": row.requested_start.isoformat(),
        "requested_days": row.requested_days,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "interest_accrues": row.interest_accrues,
        "accrual_estimate": None
        if row.accrual_estimate_fen is None
        else format_yuan(row.accrual_estimate_fen),
    }


def accrual_estimate_fen(balance_fen: int, annual_rate_ppm: int, days: int) -> int:
    """Simple interest on the balance over the pause: balance × rate × days / 365, half-up."""
    return round_half_up(Decimal(balance_fen) * Decimal(annual_rate_ppm) / PPM * days / YEAR_DAYS)


def apply_hardship(
    session: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    account_id: str,
    as_of: date,
    reason_code: str,
    details: str,
    start: date | None,
    days: int | None,
    evidence: Sequence[Path | EvidenceContent],
    actor: str,
    via: str = "cli",
) -> HardshipRow:
    """Record an application with its evidence (files stored under their SHA-256)."""
    rules = policy.hardship
    if reason_code not in rules.reasons:
        raise InvalidInput(
            f"--reason-code: {reason_code!r} is not one of {', '.join(rules.reasons)}"
        )
    if not details.strip():
        raise InvalidInput("--details: describe the customer's situation in a few words")
    days = rules.max_days if days is None else days
    if not 1 <= days <= rules.max_days:
        raise InvalidInput(f"--days: a pause lasts 1 to {rules.max_days} days, not {days}")
    start = start or as_of + timedelta(days=1)
    if start <= as_of:
        raise InvalidInput(f"--start: a pause starts after the as-of date {as_of}")
    account = session.get(AccountRow, account_id)
    if account is None:
        raise NotFound(f"account {account_id} is not in the case plane")
    files = []
    for item in evidence:
        if isinstance(item, EvidenceContent):
            name, content = item.name, item.content
        else:
            try:
                name, content = item.name, item.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"--evidence: cannot read {item} ({exc.strerror})") from exc
        if not content:
            raise InvalidInput(f"--evidence: {name} is empty")
        files.append((name, content, hashlib.sha256(content).hexdigest()))
    pending = session.scalars(
        select(HardshipRow).where(
            HardshipRow.account_id == account_id,
            HardshipRow.status.in_(("applied", "approved", "active")),
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"account {account_id} already has hardship application {pending.hardship_id}"
            f" ({pending.status})"
        )
    _check_once_a_year(session, policy, account.customer_id, start, exclude=None)
    state = latest_state(session, account_id, as_of)
    now = datetime.now(UTC)
    row = HardshipRow(
        account_id=account_id,
        customer_id=account.customer_id,
        reason_code=reason_code,
        details=details.strip(),
        requested_start=start,
        requested_days=days,
        status="applied",
        applied_via=via,
        applied_by=actor,
        applied_at=now,
        interest_accrues=rules.interest_accrues,
        accrual_estimate_fen=(
            accrual_estimate_fen(state.balance_fen, account.annual_rate_ppm, days)
            if rules.interest_accrues and state is not None
            else 0
        ),
        updated_at=now,
    )
    session.add(row)
    session.flush()
    store = settings.home / "evidence"
    store.mkdir(parents=True, exist_ok=True)
    for name, content, digest in files:
        target = store / digest
        if not target.exists():
            partial = store / f".{digest}.partial"
            partial.write_bytes(content)
            partial.replace(target)
        session.add(
            HardshipEvidenceRow(
                hardship_id=row.hardship_id,
                filename=name,
                sha256=digest,
                size_bytes=len(content),
                uploaded_by=actor,
                uploaded_at=now,
            )
        )
    audit.record(
        session,
        actor=actor,
        action="hardship.applied",
        entity_type="hardship",
        entity_id=str(row.hardship_id),
        after={**_hardship_json(row), "evidence": [d for _, _, d in files]},
        reason=f"{reason_code}: application via {via}",
    )
    return row


def _check_once_a_year(
    session: Session,
    policy: ArrangementPolicy,
    customer_id: str,
    start: date,
    *,
    exclude: int | None,
) -> None:
    """At most one pause per customer in `once_per_months`, counted back from the new pause's
    start (checked when applying and again when approving: two applications of one customer
    on two accounts must not give two pauses)."""
    rules = policy.hardship
    if not rules.once_per_months:
        return
    window = timedelta(days=round(rules.once_per_months * YEAR_DAYS / 12))
    query = select(HardshipRow).where(
        HardshipRow.customer_id == customer_id,
        HardshipRow.status.in_(("approved", "active", "ended")),
        HardshipRow.start_date > start - window,
    )
    if exclude is not None:
        query = query.where(HardshipRow.hardship_id != exclude)
    earlier = session.scalars(query.order_by(HardshipRow.start_date.desc())).first()
    if earlier is not None:
        assert earlier.start_date is not None
        raise NotPermitted(
            f"the customer had a pause from {earlier.start_date} (application"
            f" {earlier.hardship_id}); at most one in {rules.once_per_months} months:"
            f" a new one may start from {earlier.start_date + window}. Offer an instalment plan"
            " or deferral instead"
        )


def _hardship(session: Session, hardship_id: int) -> HardshipRow:
    row = session.get(HardshipRow, hardship_id)
    if row is None:
        raise NotFound(f"hardship application {hardship_id} does not exist")
    return row


_HARDSHIP_NEXT = {
    "applied": ("approved", "rejected", "withdrawn"),
    "approved": ("active", "ended"),
    "active": ("ended",),
}


def _hardship_check(row: HardshipRow, target: str) -> None:
    allowed = _HARDSHIP_NEXT.get(row.status, ())
    if target not in allowed:
        raise Conflict(
            f"hardship application {row.hardship_id} is {row.status}: it cannot become {target}"
            f" (allowed: {', '.join(allowed) or 'nothing (final)'})"
        )


def approve_hardship(
    session: Session,
    policy: ArrangementPolicy,
    hardship_id: int,
    *,
    actor: str,
    reason: str,
    today: date,
    days: int | None = None,
) -> HardshipRow:
    """Approve (possibly for fewer days than asked): the hardship hold covers the pause, so the
    guard blocks every collection contact in it; the pause is active once its start has come."""
    row = _hardship(session, hardship_id)
    _hardship_check(row, "approved")
    granted = row.requested_days if days is None else days
    if not 1 <= granted <= row.requested_days:
        raise InvalidInput(f"--days: grant 1 to {row.requested_days} days (what was asked)")
    role = check_authority(
        session,
        policy,
        actor,
        row.applied_by,
        Needs("hardship", hardship_days=granted),
        f"hardship application {hardship_id}",
    )
    start = max(row.requested_start, today + timedelta(days=1))
    end = start + timedelta(days=granted - 1)
    _check_once_a_year(session, policy, row.customer_id, start, exclude=row.hardship_id)
    hold = holds.place(
        session,
        account_id=row.account_id,
        hold_type="hardship",
        start=start,
        end=end,
        reason=f"缓催 hardship pause {hardship_id} ({row.reason_code})",
        actor=actor,
        source="hardship",
        source_id=str(hardship_id),
    )
    row.status = "approved"
    row.start_date, row.end_date, row.hold_id = start, end, hold.hold_id
    row.decided_by, row.decided_role = actor, role
    row.decided_at = row.updated_at = datetime.now(UTC)
    row.decision_reason = reason.strip() or "approved"
    if (
        row.interest_accrues
        and row.accrual_estimate_fen is not None
        and granted != row.requested_days
    ):
        state = latest_state(session, row.account_id, today)
        account = session.get(AccountRow, row.account_id)
        if state is not None and account is not None:
            row.accrual_estimate_fen = accrual_estimate_fen(
                state.balance_fen, account.annual_rate_ppm, granted
            )
    audit.record(
        session,
        actor=actor,
        action="hardship.approved",
        entity_type="hardship",
        entity_id=str(hardship_id),
        before={"status": "applied"},
        after={**_hardship_json(row), "role": role, "hold_id": hold.hold_id},
        reason=row.decision_reason,
    )
    return row


def decide_no(
    session: Session,
    policy: ArrangementPolicy,
    hardship_id: int,
    *,
    actor: str,
    reason: str,
    target: str,
) -> HardshipRow:
    """Reject (a role of the authority matrix, not the applicant) or withdraw (anyone on
    staff: the customer asked) an application."""
    row = _hardship(session, hardship_id)
    _hardship_check(row, target)
    if not reason.strip():
        raise InvalidInput("--reason: say why")
    user = staff(session, actor)
    if target == "rejected" and actor == row.applied_by:
        raise NotPermitted(f"{actor} recorded application {hardship_id}: someone else decides it")
    if target == "rejected" and user.role not in policy.authority:
        raise NotPermitted(f"{actor} is a {user.role}: that role decides no applications")
    row.status = target
    row.decided_by, row.decided_role = actor, user.role
    row.decided_at = row.updated_at = datetime.now(UTC)
    row.decision_reason = reason.strip()
    audit.record(
        session,
        actor=actor,
        action=f"hardship.{target}",
        entity_type="hardship",
        entity_id=str(hardship_id),
        before={"status": "applied"},
        after={"status": target},
        reason=row.decision_reason,
    )
    return row


def end_hardship(
    session: Session, hardship_id: int, *, actor: str, reason: str, last_day: date
) -> HardshipRow:
    """End a pause early (the customer asked, or is back on their feet): its hold covers
    `last_day` at most, so collection resumes the day after."""
    row = _hardship(session, hardship_id)
    _hardship_check(row, "ended")
    if not reason.strip():
        raise InvalidInput("--reason: say why the pause ends early")
    staff(session, actor)
    before = row.status
    row.status, row.ended_on, row.updated_at = "ended", last_day, datetime.now(UTC)
    row.end_reason = f"ended early: {reason.strip()}"
    if row.hold_id is not None:
        hold = session.get(CaseHoldRow, row.hold_id)
        if hold is not None and hold.released_at is None:
            holds.release(
                session,
                hold.hold_id,
                last_day=last_day,
                actor=actor,
                reason=row.end_reason,
                by_workflow=True,
            )
    audit.record(
        session,
        actor=actor,
        action="hardship.ended",
        entity_type="hardship",
        entity_id=str(hardship_id),
        before={"status": before},
        after={"status": "ended", "ended_on": last_day.isoformat()},
        reason=row.end_reason,
    )
    return row


def show_hardship(session: Session, hardship_id: int) -> dict[str, Any]:
    row = _hardship(session, hardship_id)
    evidence = session.scalars(
        select(HardshipEvidenceRow).where(HardshipEvidenceRow.hardship_id == hardship_id)
    )
    return {
        **_hardship_json(row),
        "details": row.details,
        "applied_by": row.applied_by,
        "decided_by": row.decided_by,
        "decision_reason": row.decision_reason,
        "reminder_on": row.reminder_on.isoformat() if row.reminder_on else None,
        "ended_on": row.ended_on.isoformat() if row.ended_on else None,
        "end_reason": row.end_reason,
        "hold_id": row.hold_id,
        "evidence": [
            {"filename": e.filename, "sha256": e.sha256, "bytes": e.size_bytes} for e in evidence
        ],
        "history": history(session, "hardship", str(hardship_id)),
    }


def list_hardship(
    session: Session, *, account_id: str | None = None, status: str | None = None
) -> list[HardshipRow]:
    query = select(HardshipRow).order_by(HardshipRow.hardship_id)
    if account_id:
        query = query.where(HardshipRow.account_id == account_id)
    if status:
        query = query.where(HardshipRow.status == status)
    return list(session.scalars(query))


def evidence_path(settings: Settings, sha256: str) -> Path:
    return settings.home / "evidence" / sha256
