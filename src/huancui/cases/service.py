"""Use cases of casework: a collector's queue, taking the next case (one collector per case),
giving it back, logging what a contact came to; the account 360 view (built in views.py).

A case is an account with open call or visit work items due by the day that no hard hold stops.
A claim (case_claims, one row per account) holds it for one collector for a lease (default 30
minutes); an outcome completes the day's work items and ends the claim, so the case leaves the
queue. Services take the caller's session and never commit; every change is an audit event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from huancui.access import audit, permissions
from huancui.access.users import staff
from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.cases import repository as repo
from huancui.cases.model import (
    CASE_CHANNELS,
    DEFAULT_LEASE,
    CasePage,
    CaseSummary,
    OutcomeCode,
    Page,
    aware,
    check_page,
    outcome_code,
    shipped_outcome_codes,
)
from huancui.cases.note_check import check_note, refusal
from huancui.cases.tables import CaseClaimRow, ContactOutcomeRow

# The view is built in views.py; it is part of this interface.
from huancui.cases.views import account_360 as account_360
from huancui.cases.views import outcome_json as outcome_json
from huancui.contact import holds
from huancui.contact.tables import CaseHoldRow, WorkItemRow
from huancui.kit.calendar import zone
from huancui.kit.errors import Conflict, InvalidInput, NotFound, NotPermitted
from huancui.kit.settings import Settings
from huancui.portfolio.tables import AccountRow, CustomerRow

# Roles that may work any case (log an outcome on a case someone else holds, force a release).
SUPERVISOR_ROLES = frozenset({"supervisor", "manager"})
# Channels an outcome may be logged for: the case's own, or the customer calling in.
OUTCOME_CHANNELS = (*CASE_CHANNELS, "inbound")
NOTE_MAX = 2000
# SQLite serialises writers; a writer that waited past the busy timeout is retried this often.
SQLITE_LOCK_RETRIES = 5
_CANDIDATES = 50


def _need_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{name}: {moment.isoformat()} has no time zone; give one (UTC)")
    return moment


def outcome_codes() -> list[OutcomeCode]:
    """Every outcome code a collector may log (cases/outcomes.yaml)."""
    return list(shipped_outcome_codes())


# ---------------------------------------------------------------------------------------------
# Queues and claims


def _summaries(
    session: Session,
    order: list[tuple[str, float | None]],
    *,
    day: date,
    queue: str | None,
) -> list[CaseSummary]:
    ids = [account_id for account_id, _ in order]
    items: dict[str, list[WorkItemRow]] = {}
    for item in repo.items_of(session, ids, day=day, queue=queue):
        items.setdefault(item.account_id, []).append(item)
    claims = repo.claims_of(session, ids)
    states = repo.states_of(session, ids, day)
    found = []
    for account_id in ids:
        mine = items.get(account_id)
        if not mine:  # completed between the two queries
            continue
        top = mine[0]
        state = states.get(account_id)
        claim = claims.get(account_id)
        found.append(
            CaseSummary(
                account_id=account_id,
                customer_id=top.customer_id,
                queue=top.queue,
                priority=top.priority,
                segment=top.segment,
                stage=top.stage,
                template=top.template,
                tone=top.tone,
                channel=top.channel,
                contact_date=top.contact_date,
                days_past_due=state.days_past_due if state else None,
                amount_overdue_fen=state.arrears_fen if state else None,
                bucket=state.bucket if state else None,
                claimed_by=claim.collector if claim else None,
                claim_expires_at=aware(claim.expires_at) if claim else None,
                work_item_ids=tuple(i.work_item_id for i in mine),
            )
        )
    return found


def queue(
    session: Session,
    *,
    collector: str,
    as_of: date,
    queue: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    include_claimed: bool = False,
) -> CasePage:
    """The open cases of `as_of` that `collector` may work, highest priority first: unclaimed,
    held by them, or whose claim lapsed by `now`. `include_claimed` lists every case with its
    holder (a supervisor's overview)."""
    check_page(limit, offset)
    moment = _need_aware(now, "now") if now is not None else datetime.now(UTC)
    order, total = repo.case_rows(
        session,
        day=as_of,
        collector=collector,
        queue=queue,
        now=moment,
        include_claimed=include_claimed,
        limit=limit,
        offset=offset,
    )
    items = _summaries(session, order, day=as_of, queue=queue)
    return Page(items=items, total=total, limit=limit, offset=offset)


def _claim_json(collector: str, expires_at: datetime) -> dict[str, Any]:
    return {"collector": collector, "expires_at": expires_at.isoformat()}


def _worker(session: Session, actor: str, permission: str) -> str:
    """The actor's role; NotPermitted unless they are active staff with `permission`."""
    role = staff(session, actor).role
    permissions.require(role, permission)
    return role


def _claim_one(
    session: Session, *, account_id: str, collector: str, now: datetime, expires_at: datetime
) -> tuple[bool, str | None]:
    """(won, previous holder) for one candidate."""
    if repo.insert_claim(
        session, account_id=account_id, collector=collector, now=now, expires_at=expires_at
    ):
        return True, None
    previous = repo.take_over_claim(
        session, account_id=account_id, collector=collector, now=now, expires_at=expires_at
    )
    return previous is not None, previous


def _take_next_once(
    session: Session,
    *,
    collector: str,
    as_of: date,
    now: datetime,
    queue_name: str | None,
    lease: timedelta,
) -> CaseSummary | None:
    expires_at = now + lease
    held = {c.account_id for c in repo.held_by(session, collector)}
    seen: set[str] = set()
    limit = _CANDIDATES
    while True:
        order, _ = repo.case_rows(
            session,
            day=as_of,
            collector=collector,
            queue=queue_name,
            now=now,
            include_claimed=False,
            limit=limit,
            offset=0,
        )
        # The case the collector already holds comes first, then the others by priority.
        candidates = [a for a, _ in order if a in held and a not in seen] + [
            a for a, _ in order if a not in held and a not in seen
        ]
        for account_id in candidates:
            seen.add(account_id)
            won, previous = _claim_one(
                session, account_id=account_id, collector=collector, now=now, expires_at=expires_at
            )
            if not won:
                continue
            audit.record(
                session,
                actor=collector,
                action="case.renew" if previous == collector else "case.claim",
                entity_type="case",
                entity_id=account_id,
                before=None if previous is None else {"collector": previous},
                after=_claim_json(collector, expires_at),
                reason=(
                    f"claim of {previous} lapsed"
                    if previous not in (None, collector)
                    else "take next case"
                ),
            )
            found = _summaries(session, [(account_id, None)], day=as_of, queue=queue_name)
            if found:
                return found[0]
        if len(order) < limit:
            return None
        # Every candidate was lost to others (their claims not yet visible): look further.
        limit = len(seen) + _CANDIDATES


def take_next(
    session: Session,
    *,
    collector: str,
    as_of: date,
    now: datetime,
    queue: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> CaseSummary | None:
    """Claim the next case for `collector` and return it (None: nothing left). The case they
    already hold comes first (its lease renewed); then the highest-priority case nobody holds
    or whose claim lapsed. Safe with many collectors at once: a claim is an insert that does
    nothing when another collector's claim exists, and the loser moves to the next candidate."""
    _need_aware(now, "now")
    if lease <= timedelta(0):
        raise InvalidInput(f"lease: {lease} is not positive")
    _worker(session, collector, "case:work")
    sqlite = session.get_bind().dialect.name == "sqlite"
    for attempt in range(SQLITE_LOCK_RETRIES):
        try:
            return _take_next_once(
                session, collector=collector, as_of=as_of, now=now, queue_name=queue, lease=lease
            )
        except OperationalError as exc:
            # Past the busy timeout SQLite gives up on the write lock; nothing of ours was
            # written (the claim is the first write), so trying again is safe.
            if not sqlite or "locked" not in str(exc) or attempt + 1 == SQLITE_LOCK_RETRIES:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None  # pragma: no cover (the loop returns or raises)


def _claim_row(session: Session, account_id: str) -> CaseClaimRow | None:
    return repo.claims_of(session, [account_id]).get(account_id)


def release(
    session: Session,
    *,
    account_id: str,
    collector: str,
    now: datetime,
    reason: str,
    force: bool = False,
) -> None:
    """Give a case back to the queue. Only its holder may, or a supervisor with `force`."""
    _need_aware(now, "now")
    if not reason.strip():
        raise InvalidInput("reason: say why the case goes back to the queue")
    role = _worker(session, collector, "case:work")
    claim = _claim_row(session, account_id)
    if claim is None:
        raise NotFound(f"nobody holds the case of account {account_id}")
    if claim.collector != collector:
        if not force:
            raise Conflict(
                f"the case of account {account_id} is held by {claim.collector}, not"
                f" {collector}; they release it, or a supervisor forces it"
            )
        if role not in SUPERVISOR_ROLES:
            raise NotPermitted(f"{collector} ({role}) may not release another collector's case")
    before = _claim_json(claim.collector, aware(claim.expires_at))
    repo.delete_claim(session, account_id)
    audit.record(
        session,
        actor=collector,
        action="case.release",
        entity_type="case",
        entity_id=account_id,
        before=before,
        after=None,
        reason=reason.strip(),
    )


# ---------------------------------------------------------------------------------------------
# Outcomes


@dataclass(frozen=True)
class _Checked:
    code: OutcomeCode
    note: str | None
    account: AccountRow
    customer: CustomerRow
    day: date


def _check_outcome(
    session: Session,
    *,
    account_id: str,
    outcome: str,
    note: str | None,
    channel: str,
    occurred_at: datetime,
    work_item_id: int | None,
    arrangement_id: int | None,
    hardship_id: int | None,
    now: datetime,
) -> _Checked:
    code = outcome_code(outcome)
    if channel not in OUTCOME_CHANNELS:
        raise InvalidInput(f"channel: {channel!r} is not one of {', '.join(OUTCOME_CHANNELS)}")
    _need_aware(occurred_at, "occurred_at")
    if occurred_at > now + timedelta(minutes=5):
        raise InvalidInput(f"occurred_at: {occurred_at.isoformat()} is in the future")
    text = (note or "").strip() or None
    if code.note_required and text is None:
        raise InvalidInput(
            f"note: required for {code.code} ({code.label('en')}, {code.label('zh-CN')})"
        )
    if text is not None:
        if len(text) > NOTE_MAX:
            raise InvalidInput(f"note: {len(text)} characters; at most {NOTE_MAX}")
        findings = check_note(text)
        if findings:
            raise refusal(findings)
    account = session.get(AccountRow, account_id)
    if account is None:
        raise NotFound(f"account {account_id} does not exist")
    customer = session.get(CustomerRow, account.customer_id)
    assert customer is not None
    if work_item_id is not None:
        item = session.get(WorkItemRow, work_item_id)
        if item is None or item.account_id != account_id:
            raise InvalidInput(f"work_item_id: {work_item_id} is not a work item of {account_id}")
    _check_references(session, code, account_id, arrangement_id, hardship_id)
    day = occurred_at.astimezone(zone(customer.timezone)).date()
    return _Checked(code, text, account, customer, day)


def _check_references(
    session: Session,
    code: OutcomeCode,
    account_id: str,
    arrangement_id: int | None,
    hardship_id: int | None,
) -> None:
    if code.effect == "promise":
        if arrangement_id is None:
            raise InvalidInput(
                "arrangement_id: a promise_to_pay outcome references the promise; propose it"
                " first (huancui arrangement propose / POST /api/arrangements)"
            )
        arrangement = session.get(ArrangementRow, arrangement_id)
        if arrangement is None:
            raise NotFound(f"arrangement {arrangement_id} does not exist")
        if arrangement.account_id != account_id:
            raise InvalidInput(
                f"arrangement_id: {arrangement_id} is about account {arrangement.account_id},"
                f" not {account_id}"
            )
        if arrangement.status in ("rejected", "cancelled"):
            raise Conflict(f"arrangement {arrangement_id} is {arrangement.status}")
    elif arrangement_id is not None:
        raise InvalidInput(f"arrangement_id: only promise_to_pay references one, not {code.code}")
    if hardship_id is not None:
        if code.effect != "hardship":
            raise InvalidInput(f"hardship_id: only hardship_claim references one, not {code.code}")
        application = session.get(HardshipRow, hardship_id)
        if application is None:
            raise NotFound(f"hardship application {hardship_id} does not exist")
        if application.account_id != account_id:
            raise InvalidInput(
                f"hardship_id: {hardship_id} is about account {application.account_id},"
                f" not {account_id}"
            )


def _place_hold(
    session: Session, checked: _Checked, row: ContactOutcomeRow, hold_type: str
) -> CaseHoldRow:
    what = "disputed the debt" if hold_type == "dispute" else "was reported deceased"
    return holds.place(
        session,
        account_id=row.account_id,
        hold_type=hold_type,
        start=checked.day,
        end=None,
        reason=f"the customer {what} (contact outcome {row.outcome_id}); compliance to review",
        actor=row.actor,
        source="manual",
        source_id=f"outcome-{row.outcome_id}",
    )


def log_outcome(
    session: Session,
    settings: Settings,
    *,
    account_id: str,
    outcome: str,
    note: str | None,
    actor: str,
    occurred_at: datetime,
    channel: str = "call",
    work_item_id: int | None = None,
    arrangement_id: int | None = None,
    hardship_id: int | None = None,
) -> ContactOutcomeRow:
    """Record what a contact came to and apply its effect: the account's open calls and visits
    due by that day are done, the claim ends (the case leaves the queue), and a dispute or a
    reported death places its hold. The actor must hold the case, unless a supervisor."""
    now = datetime.now(UTC)
    checked = _check_outcome(
        session,
        account_id=account_id,
        outcome=outcome,
        note=note,
        channel=channel,
        occurred_at=occurred_at,
        work_item_id=work_item_id,
        arrangement_id=arrangement_id,
        hardship_id=hardship_id,
        now=now,
    )
    role = _worker(session, actor, "outcome:write")
    claim = _claim_row(session, account_id)
    if role not in SUPERVISOR_ROLES and (claim is None or claim.collector != actor):
        holder = f"it is held by {claim.collector}" if claim else "nobody holds it"
        raise NotPermitted(
            f"{actor} does not hold the case of account {account_id} ({holder}); take it"
            " first (huancui case next / POST /api/cases/next)"
        )
    row = ContactOutcomeRow(
        account_id=account_id,
        customer_id=checked.account.customer_id,
        work_item_id=work_item_id,
        channel=channel,
        outcome=checked.code.code,
        note=checked.note,
        arrangement_id=arrangement_id,
        hardship_id=hardship_id,
        actor=actor,
        occurred_at=occurred_at.astimezone(UTC),
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    done = repo.open_case_items(session, account_id, checked.day)
    for item in done:
        item.status = "done"
        item.status_reason = f"outcome {checked.code.code} (contact outcome {row.outcome_id})"
        item.assigned_to = item.assigned_to or actor
        item.updated_at = now
    if claim is not None:
        repo.delete_claim(session, account_id)
    hold = None
    if checked.code.effect == "dispute_hold":
        hold = _place_hold(session, checked, row, "dispute")
    elif checked.code.effect == "deceased_hold":
        hold = _place_hold(session, checked, row, "deceased")
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="outcome.logged",
        entity_type="contact_outcome",
        entity_id=str(row.outcome_id),
        before=None if claim is None else {"claimed_by": claim.collector},
        # The note stays out of the append-only log: it is free text about a person.
        after={
            "account_id": account_id,
            "outcome": row.outcome,
            "channel": channel,
            "effect": checked.code.effect,
            "work_items_done": [i.work_item_id for i in done],
            "hold_id": hold.hold_id if hold else None,
            "arrangement_id": arrangement_id,
            "hardship_id": hardship_id,
            "phone_flagged": checked.code.effect == "phone_flag",
        },
        reason=f"contact outcome {row.outcome}",
    )
    return row


def list_outcomes(
    session: Session,
    *,
    account_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[ContactOutcomeRow]:
    """Outcomes newest first; `since` inclusive, `until` exclusive (on occurred_at)."""
    check_page(limit, offset)
    if since is not None and until is not None and until <= since:
        raise InvalidInput(f"until: {until.isoformat()} is not after since {since.isoformat()}")
    query = repo.outcomes_query(
        account_ids=None if account_id is None else [account_id],
        actor=actor,
        since=since,
        until=until,
    )
    rows, total = repo.page_of_outcomes(session, query, limit=limit, offset=offset)
    return Page(items=rows, total=total, limit=limit, offset=offset)
