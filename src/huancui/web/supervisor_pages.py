"""The supervisor's pages: the approvals inbox (arrangements and 缓催 applications this
supervisor may decide under the authority matrix, never their own) and the team page (open
cases per queue and per collector, and today's outcomes per collector)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from huancui.api.deps import PolicyDep
from huancui.arrangements import hardship as hardship_service
from huancui.arrangements import service as arrangement_service
from huancui.arrangements.model import Needs, approving_roles, authority_gaps
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.tables import ArrangementRow, HardshipRow
from huancui.cases import service as cases
from huancui.cases.model import CaseSummary
from huancui.kit.calendar import local_day_bounds
from huancui.kit.errors import HuancuiError, InvalidInput
from huancui.web.collector_pages import Fields, workday
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import (
    DISPLAY_ZONE,
    DbSession,
    Principal,
    flash,
    latest_as_of,
    page_requires,
    redirect,
    render,
)
from huancui.web.sessions import context_of
from huancui.web.team_figures import outcomes_by_collector

router = APIRouter(include_in_schema=False)

Approver = Annotated[Principal, page_requires("arrangement:approve", "hardship:approve")]
ArrangementApprover = Annotated[Principal, page_requires("arrangement:approve")]
HardshipApprover = Annotated[Principal, page_requires("hardship:approve")]
Reason = Annotated[str, Form(max_length=2000)]
# The team page groups at most this many open cases (a page of the queue each time).
TEAM_CASES_MAX = 2000
_PAGE = 200


@dataclass(frozen=True)
class Pending:
    """One item of the inbox: an arrangement or a 缓催 application, what it commits the bank
    to, and whether this supervisor may approve it."""

    kind: str  # "arrangement" | "hardship"
    item_id: int
    account_id: str
    what: str  # the arrangement kind, or "hardship"
    amount_fen: int | None
    term: str
    proposer: str
    proposed_at: datetime
    reason: str
    gaps: tuple[str, ...]  # why this supervisor may not approve (empty: may)
    roles: tuple[str, ...]  # the roles that may
    requested_days: int | None = None

    @property
    def mine_to_decide(self) -> bool:
        return not self.gaps


def _arrangement_needs(row: ArrangementRow) -> Needs:
    return arrangement_service.needs(row)


def _pending(db: Session, policy: ArrangementPolicy, user: Principal) -> tuple[list[Pending], int]:
    """Open items others proposed, with this supervisor's authority over each; and how many
    are this supervisor's own (four eyes: someone else decides them)."""
    limits = policy.authority.get(user.role)
    items: list[Pending] = []
    own = 0

    def gaps_of(needs: Needs) -> tuple[str, ...]:
        if limits is None:
            return (f"the {user.role} role approves nothing",)
        return tuple(authority_gaps(limits, needs))

    for row in arrangement_service.list_arrangements(db, status="proposed"):
        if row.proposed_by == user.username:
            own += 1
            continue
        needs = _arrangement_needs(row)
        items.append(
            Pending(
                kind="arrangement",
                item_id=row.arrangement_id,
                account_id=row.account_id,
                what=row.kind,
                amount_fen=row.total_due_fen,
                term=_term(row),
                proposer=row.proposed_by,
                proposed_at=row.proposed_at,
                reason=row.proposal_reason,
                gaps=gaps_of(needs),
                roles=tuple(approving_roles(policy, needs)),
            )
        )
    for pause in hardship_service.list_hardship(db, status="applied"):
        if pause.applied_by == user.username:
            own += 1
            continue
        needs = Needs("hardship", hardship_days=pause.requested_days)
        items.append(
            Pending(
                kind="hardship",
                item_id=pause.hardship_id,
                account_id=pause.account_id,
                what="hardship",
                amount_fen=pause.accrual_estimate_fen,
                term=_pause_term(pause),
                proposer=pause.applied_by,
                proposed_at=pause.applied_at,
                reason=f"{pause.reason_code}: {pause.details}",
                gaps=gaps_of(needs),
                roles=tuple(approving_roles(policy, needs)),
                requested_days=pause.requested_days,
            )
        )
    items.sort(key=lambda p: p.proposed_at)
    return items, own


def _term(row: ArrangementRow) -> str:
    if row.kind == "ptp":
        return row.end_date.isoformat()
    if row.term_months:
        return f"{row.term_months}m → {row.end_date.isoformat()}"
    return row.end_date.isoformat()


def _pause_term(row: HardshipRow) -> str:
    return f"{row.requested_start.isoformat()} + {row.requested_days}d"


def _inbox(
    request: Request,
    user: Principal,
    db: Session,
    policy: ArrangementPolicy,
    *,
    errors: dict[str, Fields] | None = None,
    status_code: int = 200,
) -> Response:
    items, own = _pending(db, policy, user)
    mine = [p for p in items if p.mine_to_decide]
    shown = {f"{p.kind}-{p.item_id}" for p in mine}
    errors = errors or {}
    return render(
        request,
        "supervisor/inbox.html",
        {
            "mine": mine,
            "others": [p for p in items if not p.mine_to_decide],
            "own": own,
            "errors": errors,
            # A refusal about an item not in the list (beyond authority, one's own): on top.
            "loose_errors": [e["error"] for key, e in errors.items() if key not in shown],
            "blank": Fields(),
        },
        status_code=status_code,
    )


@router.get("/supervise", name="supervise_inbox")
def inbox_page(request: Request, user: Approver, db: DbSession, policy: PolicyDep) -> Response:
    """What waits for this supervisor's decision, oldest first."""
    return _inbox(request, user, db, policy)


def _bank_today() -> date:
    return datetime.now(DISPLAY_ZONE).date()


def _pause_business_date(db: Session) -> date:
    """The date a pause is approved "on": the newest snapshot's as-of date, so the pause starts
    on the day after it, the contact day the night's plan is for (in production the as-of date
    is yesterday, and the pause covers today's planned contacts too). Without a snapshot, the
    bank's calendar date."""
    return latest_as_of(db) or _bank_today()


def _decided(
    request: Request,
    user: Principal,
    db: Session,
    policy: ArrangementPolicy,
    *,
    form_key: str,
    values: dict[str, str],
    act: Any,
    done_key: str,
    done_values: dict[str, Any],
) -> Response:
    """Run a decision; a refusal (outside authority, four eyes, no reason) comes back inline
    next to the item's form, nothing saved."""
    try:
        act()
    except HuancuiError as refusal:
        db.rollback()
        found = Fields(values)
        found["error"] = str(refusal)
        return _inbox(request, user, db, policy, errors={form_key: found}, status_code=422)
    flash(request, done_key, **done_values)
    return redirect("/supervise")


def _required_reason(reason: str) -> str:
    if not reason.strip():
        raise InvalidInput("reason: say why it is rejected (the customer will be told)")
    return reason.strip()


@router.post("/supervise/arrangements/{arrangement_id}/approve", name="supervise_approve")
def approve_arrangement(
    request: Request,
    user: ArrangementApprover,
    db: DbSession,
    policy: PolicyDep,
    _: CsrfChecked,
    arrangement_id: int,
    reason: Reason = "",
) -> Response:
    return _decided(
        request,
        user,
        db,
        policy,
        form_key=f"arrangement-{arrangement_id}",
        values={"reason": reason},
        act=lambda: arrangement_service.approve(
            db, policy, arrangement_id, actor=user.username, reason=reason
        ),
        done_key="supervisor.approved",
        done_values={"what": f"#{arrangement_id}"},
    )


@router.post("/supervise/arrangements/{arrangement_id}/reject", name="supervise_reject")
def reject_arrangement(
    request: Request,
    user: ArrangementApprover,
    db: DbSession,
    policy: PolicyDep,
    _: CsrfChecked,
    arrangement_id: int,
    reason: Reason = "",
) -> Response:
    return _decided(
        request,
        user,
        db,
        policy,
        form_key=f"arrangement-{arrangement_id}",
        values={"reason": reason},
        act=lambda: arrangement_service.reject(
            db, policy, arrangement_id, actor=user.username, reason=_required_reason(reason)
        ),
        done_key="supervisor.rejected",
        done_values={"what": f"#{arrangement_id}"},
    )


@router.post("/supervise/hardship/{hardship_id}/approve", name="supervise_hardship_approve")
def approve_pause(
    request: Request,
    user: HardshipApprover,
    db: DbSession,
    policy: PolicyDep,
    _: CsrfChecked,
    hardship_id: int,
    reason: Reason = "",
    days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    def act() -> None:
        granted: int | None = None
        if days.strip():
            try:
                granted = int(days)
            except ValueError:
                raise InvalidInput(f"days: {days!r} is not a whole number") from None
        hardship_service.approve_hardship(
            db,
            policy,
            hardship_id,
            actor=user.username,
            reason=reason,
            today=_pause_business_date(db),
            days=granted,
        )

    return _decided(
        request,
        user,
        db,
        policy,
        form_key=f"hardship-{hardship_id}",
        values={"reason": reason, "days": days},
        act=act,
        done_key="supervisor.approved",
        done_values={"what": f"缓催 #{hardship_id}"},
    )


@router.post("/supervise/hardship/{hardship_id}/reject", name="supervise_hardship_reject")
def reject_pause(
    request: Request,
    user: HardshipApprover,
    db: DbSession,
    policy: PolicyDep,
    _: CsrfChecked,
    hardship_id: int,
    reason: Reason = "",
) -> Response:
    return _decided(
        request,
        user,
        db,
        policy,
        form_key=f"hardship-{hardship_id}",
        values={"reason": reason},
        act=lambda: hardship_service.decide_no(
            db,
            policy,
            hardship_id,
            actor=user.username,
            reason=_required_reason(reason),
            target="rejected",
        ),
        done_key="supervisor.rejected",
        done_values={"what": f"缓催 #{hardship_id}"},
    )


# --- the team page -------------------------------------------------------------------------


def _open_cases(db: Session, supervisor: str, day: date) -> tuple[list[CaseSummary], int]:
    """Every open case of `day` with its holder (up to TEAM_CASES_MAX), and how many there are."""
    found: list[CaseSummary] = []
    total = 0
    now = datetime.now(UTC)
    while len(found) < TEAM_CASES_MAX:
        page = cases.queue(
            db,
            collector=supervisor,
            as_of=day,
            limit=_PAGE,
            offset=len(found),
            now=now,
            include_claimed=True,
        )
        total = page.total
        found += page.items
        if len(page.items) < _PAGE:
            break
    return found, total


@router.get("/supervise/team", name="supervise_team")
def team_page(request: Request, user: ArrangementApprover, db: DbSession) -> Response:
    """Who holds what, how full each queue is, and how today's contacts went per collector."""
    wd = workday(db)
    if wd is None:
        return render(request, "base.html", {"page_notice": "collector.no_snapshot"})
    open_cases, total = _open_cases(db, user.username, wd.day)
    now = datetime.now(UTC)
    queues: dict[str, dict[str, int]] = {}
    holders: dict[str, list[CaseSummary]] = {}
    for case in open_cases:
        counts = queues.setdefault(case.queue, {"open": 0, "held": 0})
        counts["open"] += 1
        live = case.claimed_by and case.claim_expires_at and case.claim_expires_at > now
        if live and case.claimed_by:
            counts["held"] += 1
            holders.setdefault(case.claimed_by, []).append(case)
    today = _bank_today()
    since, until = local_day_bounds(today, str(DISPLAY_ZONE))
    codes = cases.outcome_codes()
    figures = outcomes_by_collector(
        db,
        since=since.replace(tzinfo=UTC),
        until=until.replace(tzinfo=UTC),
        codes=codes,
    )
    language = context_of(request).language
    return render(
        request,
        "supervisor/team.html",
        {
            "workday": wd,
            "today": today,
            "total": total,
            "shown": len(open_cases),
            "queues": sorted(queues.items()),
            "holders": sorted(holders.items()),
            "figures": figures,
            "codes": [(c.code, c.label(language)) for c in codes],
        },
    )
