"""The compliance officer's pages: holds (placed here and the bank's own; place and release with
hold:manage), disputes, complaints, what the compliance guard suppressed in each run, and the
audit log (search and chain verification).

Holds change only through contact/holds.py, which audits every change. The pages show account
ids and no personal data: none of these tasks needs a name, phone or ID number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from huancui.access import audit, permissions
from huancui.access.audit_search import MAX_LIMIT, search
from huancui.contact import holds as hold_service
from huancui.contact.holds import CHANNELS, MANUAL_TYPES
from huancui.contact.policy import HARD_HOLDS
from huancui.kit.errors import HuancuiError
from huancui.web import compliance_queries as queries
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import (
    DISPLAY_ZONE,
    DbSession,
    Principal,
    SettingsDep,
    flash,
    page_requires,
    redirect,
    render,
)
from huancui.web.sessions import context_of
from huancui.web.strategy_pages import shown

router = APIRouter(include_in_schema=False)

READ = "compliance:read"
MANAGE = "hold:manage"
AUDIT = "audit:read"
Reader = Annotated[Principal, page_requires(READ)]
HoldManager = Annotated[Principal, page_requires(MANAGE)]
AuditReader = Annotated[Principal, page_requires(AUDIT)]

# Every hold type a run applies (the guard's hard holds, opt-outs, vulnerability).
HOLD_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys([*(kind for kind, _ in HARD_HOLDS), "channel_opt_out", "vulnerable"])
)
TABS = ("holds", "disputes", "complaints", "suppressions", "audit")
PAGE_SIZE = 50
MAX_REASON = 2000


def bank_today() -> date:
    """Today in the bank's zone: the day a hold placed now starts."""
    return datetime.now(DISPLAY_ZONE).date()


def _page(
    request: Request, user: Principal, template: str, tab: str, context: dict[str, Any]
) -> Response:
    return render(
        request,
        template,
        {
            "tab": tab,
            "tabs": [t for t in TABS if t != "audit" or permissions.allowed(user.role, AUDIT)],
            "can_manage": permissions.allowed(user.role, MANAGE),
            "today": bank_today(),
            "shown": shown,
            **context,
        },
    )


@dataclass
class HoldForm:
    """The place-a-hold form as sent, and what is wrong with it (field → message key)."""

    account_id: str = ""
    hold_type: str = "dispute"
    channel: str = ""
    start: str = ""
    end: str = ""
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None  # the service's own explanation (account unknown, ...)
    release_refusal: str | None = None  # why a release was refused (already released, ...)

    def parsed_dates(self) -> tuple[date | None, date | None]:
        start = end = None
        try:
            start = date.fromisoformat(self.start.strip())
        except ValueError:
            self.errors["start"] = "compliance.hold.error.date"
        if self.end.strip():
            try:
                end = date.fromisoformat(self.end.strip())
            except ValueError:
                self.errors["end"] = "compliance.hold.error.date"
        if start is not None and end is not None and end < start:
            self.errors["end"] = "compliance.hold.error.end_before_start"
        return start, end

    def check(self) -> tuple[date | None, date | None]:
        if not self.account_id.strip():
            self.errors["account_id"] = "compliance.hold.error.account"
        if self.hold_type not in MANUAL_TYPES:
            self.errors["hold_type"] = "compliance.hold.error.type"
        if self.hold_type == "channel_opt_out" and self.channel not in CHANNELS:
            self.errors["channel"] = "compliance.hold.error.channel_needed"
        if self.hold_type != "channel_opt_out" and self.channel:
            self.errors["channel"] = "compliance.hold.error.channel_only_opt_out"
        if not self.reason.strip():
            self.errors["reason"] = "compliance.hold.error.reason"
        return self.parsed_dates()


def _holds_page(
    request: Request,
    user: Principal,
    session: DbSession,
    settings: SettingsDep,
    *,
    hold_type: str | None,
    account_id: str | None,
    form: HoldForm,
    status_code: int = 200,
) -> Response:
    found = queries.holds(
        session,
        settings,
        today=bank_today(),
        hold_type=hold_type or None,
        account_id=account_id or None,
    )
    response = _page(
        request,
        user,
        "compliance/holds.html",
        "holds",
        {
            "found": found,
            "hold_types": HOLD_TYPES,
            "manual_types": MANUAL_TYPES,
            "channels": CHANNELS,
            "filter_type": hold_type or "",
            "filter_account": account_id or "",
            "form": form,
        },
    )
    response.status_code = status_code
    return response


@router.get("/compliance")
def compliance_home(request: Request, user: Reader) -> Response:
    return redirect("/compliance/holds")


@router.get("/compliance/holds")
def holds_page(
    request: Request,
    user: Reader,
    session: DbSession,
    settings: SettingsDep,
    type: Annotated[str, Query(max_length=32)] = "",
    account: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    form = HoldForm(account_id=account, start=bank_today().isoformat())
    return _holds_page(
        request,
        user,
        session,
        settings,
        hold_type=type if type in HOLD_TYPES else None,
        account_id=account.strip() or None,
        form=form,
    )


@router.post("/compliance/holds")
def place_hold(
    request: Request,
    user: HoldManager,
    session: DbSession,
    settings: SettingsDep,
    _: CsrfChecked,
    account_id: Annotated[str, Form(max_length=32)] = "",
    hold_type: Annotated[str, Form(max_length=32)] = "",
    channel: Annotated[str, Form(max_length=8)] = "",
    start: Annotated[str, Form(max_length=20)] = "",
    end: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Place a hold by hand (contact/holds.py place: audited as hold.place)."""
    form = HoldForm(account_id.strip(), hold_type, channel, start, end, reason)
    first, last = form.check()
    if not form.errors and first is not None:
        try:
            row = hold_service.place(
                session,
                account_id=form.account_id,
                hold_type=form.hold_type,
                start=first,
                end=last,
                reason=form.reason,
                actor=user.username,
                channel=form.channel or None,
            )
        except HuancuiError as exc:
            form.refusal = str(exc)
        else:
            flash(
                request,
                "compliance.hold.placed",
                hold_id=row.hold_id,
                account=row.account_id,
                type=row.hold_type,
            )
            return redirect(f"/compliance/holds?account={row.account_id}")
    return _holds_page(
        request,
        user,
        session,
        settings,
        hold_type=None,
        account_id=None,
        form=form,
        status_code=422,
    )


@router.post("/compliance/holds/{hold_id}/release")
def release_hold(
    request: Request,
    user: HoldManager,
    session: DbSession,
    settings: SettingsDep,
    _: CsrfChecked,
    hold_id: int,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    last_day: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """End a hold placed here (contact/holds.py release: audited as hold.release). Its last
    day defaults to today: the next night's run plans contact from tomorrow."""
    problem: str | None = None
    try:
        day = date.fromisoformat(last_day.strip()) if last_day.strip() else bank_today()
    except ValueError:
        problem = "compliance.release.error.date"
    if problem is None and not reason.strip():
        problem = "compliance.release.error.reason"
    if problem is None:
        try:
            row = hold_service.release(
                session, hold_id, last_day=day, actor=user.username, reason=reason
            )
        except HuancuiError as exc:
            form = HoldForm(start=bank_today().isoformat(), release_refusal=str(exc))
            return _holds_page(
                request,
                user,
                session,
                settings,
                hold_type=None,
                account_id=None,
                form=form,
                status_code=exc.http_status,
            )
        flash(request, "compliance.release.done", hold_id=row.hold_id, account=row.account_id)
        return redirect(f"/compliance/holds?account={row.account_id}")
    flash(request, problem, hold_id=hold_id)
    return redirect(f"/compliance/holds#hold-case-{hold_id}")


@router.get("/compliance/disputes")
def disputes_page(
    request: Request, user: Reader, session: DbSession, settings: SettingsDep
) -> Response:
    held = queries.holds(session, settings, today=bank_today(), hold_type="dispute")
    outcomes, outcome_total = queries.dispute_outcomes(session)
    return _page(
        request,
        user,
        "compliance/disputes.html",
        "disputes",
        {"found": held, "outcomes": outcomes, "outcome_total": outcome_total},
    )


@router.get("/compliance/complaints")
def complaints_page(
    request: Request, user: Reader, session: DbSession, settings: SettingsDep
) -> Response:
    return _page(
        request,
        user,
        "compliance/complaints.html",
        "complaints",
        {"complaints": queries.complaints(session, settings)},
    )


@router.get("/compliance/suppressions")
def suppressions_page(
    request: Request,
    user: Reader,
    session: DbSession,
    settings: SettingsDep,
    run: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    runs = queries.recent_runs(session)
    chosen = run if run is not None else (runs[0].run_id if runs else None)
    language = context_of(request).language
    detail = (
        queries.run_suppressions(session, settings, chosen, language=language)
        if chosen is not None
        else None
    )
    return _page(
        request,
        user,
        "compliance/suppressions.html",
        "suppressions",
        {"runs": runs, "chosen": chosen, "detail": detail, "examples": queries.EXAMPLES_PER_RULE},
    )


@dataclass
class AuditFilter:
    """The audit search form as sent; dates are days in the bank's zone, both inclusive."""

    actor: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def moment(self, name: str, value: str, *, end_of_day: bool) -> datetime | None:
        if not value.strip():
            return None
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            self.errors[name] = "compliance.audit.error.date"
            return None
        return datetime.combine(day, time.max if end_of_day else time.min, DISPLAY_ZONE)

    def query(self) -> str:
        pairs = [
            (k, v)
            for k, v in (
                ("actor", self.actor),
                ("action", self.action),
                ("entity_type", self.entity_type),
                ("entity_id", self.entity_id),
                ("since", self.since),
                ("until", self.until),
            )
            if v
        ]
        return urlencode(pairs)


Text64 = Annotated[str, Query(max_length=64)]


@router.get("/compliance/audit")
def audit_page(
    request: Request,
    user: AuditReader,
    session: DbSession,
    actor: Text64 = "",
    action: Text64 = "",
    entity_type: Text64 = "",
    entity_id: Text64 = "",
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
    verify: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """Search the audit log (access/audit_search.py: personal values masked) and, on request,
    verify its hash chain (access/audit.py)."""
    form = AuditFilter(
        actor.strip(),
        action.strip(),
        entity_type.strip(),
        entity_id.strip(),
        since.strip(),
        until.strip(),
    )
    start = form.moment("since", form.since, end_of_day=False)
    stop = form.moment("until", form.until, end_of_day=True)
    events: list[dict[str, Any]] = []
    total = 0
    if not form.errors:
        events, total = search(
            session,
            actor=form.actor or None,
            action=form.action or None,
            entity_type=form.entity_type or None,
            entity_id=form.entity_id or None,
            since=start,
            until=stop,
            limit=min(PAGE_SIZE, MAX_LIMIT),
            offset=offset,
        )
    chain = audit.verify(session) if verify == "1" else None
    return _page(
        request,
        user,
        "compliance/audit.html",
        "audit",
        {
            "form": form,
            "events": events,
            "total": total,
            "limit": PAGE_SIZE,
            "offset": offset,
            "base": "/compliance/audit?" + (form.query() + "&" if form.query() else ""),
            "chain": chain,
        },
    )
