"""The collector's workbench: my queue, the next case, the account 360 page with its script, and
the forms of a contact — log an outcome, record a promise, propose an instalment plan or apply
for 缓催 (hardship pause) — each with a live quote priced by the arrangements calculators.

Dates: the data are those of the latest snapshot (its as-of date, in the header); the queue is
the work its night's run planned for the next day (strategy.pipeline.planned_date_for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from huancui.access import permissions
from huancui.api.deps import PolicyDep
from huancui.arrangements import hardship as hardship_service
from huancui.arrangements import service as arrangement_service
from huancui.arrangements.model import approving_roles, auto_approved
from huancui.arrangements.policy import ArrangementPolicy
from huancui.arrangements.quote import Method
from huancui.cases import service as cases
from huancui.cases.model import CASE_CHANNELS
from huancui.cases.note_check import NoteFinding, check_note
from huancui.kit.errors import HuancuiError
from huancui.kit.money import MoneyFormatError, parse_yuan
from huancui.kit.settings import Settings
from huancui.strategy.pipeline import planned_date_for
from huancui.web import charts
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import (
    DbSession,
    Principal,
    SettingsDep,
    flash,
    latest_as_of,
    page_requires,
    redirect,
    render,
    translator,
)
from huancui.web.sessions import context_of

router = APIRouter(include_in_schema=False)

Worker = Annotated[Principal, page_requires("case:work")]
Reader = Annotated[Principal, page_requires("queue:read")]
PAGE_SIZE = 20
NOTE_MAX = cases.NOTE_MAX
PLAN_MONTHS = (3, 6, 12, 24, 36, 60)
# The channels an outcome is logged for on the workbench (cases.service.OUTCOME_CHANNELS).
OUTCOME_CHANNELS = cases.OUTCOME_CHANNELS
Text = Annotated[str, Form(max_length=NOTE_MAX)]
Short = Annotated[str, Form(max_length=64)]


@dataclass(frozen=True)
class Workday:
    """The snapshot the workbench shows (`as_of`) and the contact day its run planned (`day`)."""

    as_of: date
    day: date


def workday(db: Session) -> Workday | None:
    as_of = latest_as_of(db)
    return None if as_of is None else Workday(as_of=as_of, day=planned_date_for(as_of))


class FormProblem(Exception):
    """A field the user must correct: its name and a message key (with values)."""

    def __init__(self, field_name: str, key: str, **values: Any) -> None:
        super().__init__(key)
        self.field = field_name
        self.key = key
        self.values = values


class Fields(dict[str, str]):
    """A form's values or errors: a field not in it reads as "" (templates run with
    StrictUndefined, and most fields have no error)."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class FormState:
    """One form of the 360 page as the user sent it, with its errors (translated text)."""

    values: Fields = field(default_factory=Fields)
    errors: Fields = field(default_factory=Fields)  # field (or "form") → message
    quote: dict[str, Any] | None = None


def _no_snapshot(request: Request) -> Response:
    return render(request, "base.html", {"page_notice": "collector.no_snapshot"})


# --- the queue -----------------------------------------------------------------------------


@router.get("/work", name="work_queue")
def queue_page(
    request: Request,
    user: Worker,
    db: DbSession,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    queue: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """My cases in priority order: unclaimed ones and those I hold."""
    wd = workday(db)
    if wd is None:
        return _no_snapshot(request)
    page = cases.queue(
        db,
        collector=user.username,
        as_of=wd.day,
        queue=queue or None,
        limit=PAGE_SIZE,
        offset=offset,
        now=datetime.now(UTC),
    )
    return render(
        request,
        "collector/queue.html",
        {"page": page, "workday": wd, "queue": queue or "", "me": user.username},
    )


@router.post("/work/next", name="work_next")
def next_case(
    request: Request,
    user: Worker,
    db: DbSession,
    _: CsrfChecked,
    queue: Short = "",
) -> Response:
    """Claim the next case (the one I hold first) and open it; two collectors clicking at once
    never get the same case (cases.service.take_next)."""
    wd = workday(db)
    if wd is None:
        return _no_snapshot(request)
    case = cases.take_next(
        db, collector=user.username, as_of=wd.day, now=datetime.now(UTC), queue=queue or None
    )
    if case is None:
        flash(request, "collector.queue.empty")
        return redirect("/work")
    return redirect(f"/work/accounts/{case.account_id}")


# --- the account 360 page ------------------------------------------------------------------


def _note_message(t: Any, findings: list[NoteFinding], language: str) -> str:
    words = (
        "、".join(f"“{f.matched}”" for f in findings)
        if language == "zh-CN"
        else ", ".join(f"'{f.matched}'" for f in findings)
    )
    kinds = sorted({f.label_zh if language == "zh-CN" else f.label_en for f in findings})
    return str(t("collector.note.refused", words=words, kinds=", ".join(kinds)))


def _outcome_choices(language: str) -> list[dict[str, Any]]:
    """The codes the outcome form offers: every code but the promise, which has its own form
    (it references the promise it records)."""
    return [
        {"code": c.code, "label": c.label(language), "note_required": c.note_required}
        for c in cases.outcome_codes()
        if c.effect != "promise"
    ]


def _account_page(
    request: Request,
    user: Principal,
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    account_id: str,
    *,
    forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    wd = workday(db)
    if wd is None:
        return _no_snapshot(request)
    language = context_of(request).language
    t = translator(request)
    view = cases.account_360(
        db, settings, account_id=account_id, as_of=wd.as_of, role=user.role, language=language
    )
    claim = view["claim"]
    may_work = permissions.allowed(user.role, "case:work")
    holds_case = claim is not None and claim["collector"] == user.username
    state = {name: FormState() for name in ("outcome", "promise", "plan", "hardship", "release")}
    state.update(forms or {})
    offers = view.get("offers") or {}
    ptp = next((o for o in offers.get("options", []) if o["kind"] == "ptp"), None)
    if not state["promise"].values and ptp and ptp.get("terms"):
        state["promise"].values = Fields(
            amount=str(ptp["terms"].get("amount", "")),
            pay_by=str(ptp["terms"].get("pay_by", "")),
        )
    return render(
        request,
        "collector/account.html",
        {
            "view": view,
            "workday": wd,
            "may_work": may_work,
            "holds_case": holds_case,
            "supervisor": user.role in cases.SUPERVISOR_ROLES,
            "forms": state,
            "outcomes": _outcome_choices(language),
            "outcome_labels": {c.code: c.label(language) for c in cases.outcome_codes()},
            "channels": OUTCOME_CHANNELS,
            "plan_months": PLAN_MONTHS,
            "methods": [m.value for m in Method],
            "hardship_reasons": policy.hardship.reasons,
            "hardship_max_days": policy.hardship.max_days,
            "chart": charts.dpd_history_figure(
                view["dpd_history"], t, view.get("bucket_history", ())
            ),
            "chart_config": charts.CONFIG,
        },
        status_code=status_code,
    )


@router.get("/work/accounts/{account_id}", name="work_account")
def account_page(
    request: Request,
    user: Reader,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    account_id: str,
) -> Response:
    """Everything about the account on one page, personal data masked for the role."""
    return _account_page(request, user, db, settings, policy, account_id)


def _refused(
    request: Request,
    user: Principal,
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    account_id: str,
    form: str,
    values: dict[str, str],
    *,
    error: FormProblem | HuancuiError | None = None,
    quote: dict[str, Any] | None = None,
) -> Response:
    """The page again, nothing saved: the form as sent, the error next to the field (a
    FormProblem) or above the form (a refusal by a service)."""
    db.rollback()  # whatever the refused attempt wrote goes
    errors = Fields()
    if error is not None:
        errors.update(_error_fields(request, error))
    state = FormState(values=Fields(values), errors=errors, quote=quote)
    return _account_page(
        request,
        user,
        db,
        settings,
        policy,
        account_id,
        forms={form: state},
        status_code=422 if errors else 200,
    )


def _error_fields(request: Request, error: FormProblem | HuancuiError) -> dict[str, str]:
    """Where an error shows: a FormProblem next to its field, a service's refusal as "form"."""
    if isinstance(error, FormProblem):
        t = translator(request)
        text = error.values["message"] if error.key == "raw" else t(error.key, **error.values)
        return {error.field: text}
    return {"form": str(error)}


def _checked_text(request: Request, field_name: str, text: str, *, required: bool) -> str:
    """Free text about a person, checked for abusive or unlawful wording before anything is
    saved; raises FormProblem naming what was found."""
    cleaned = text.strip()
    if required and not cleaned:
        raise FormProblem(field_name, "collector.form.required")
    findings = check_note(cleaned) if cleaned else []
    if findings:
        language = context_of(request).language
        message = _note_message(translator(request), findings, language)
        raise FormProblem(field_name, "raw", message=message)
    return cleaned


@router.post("/work/accounts/{account_id}/outcome", name="work_outcome")
def log_outcome(
    request: Request,
    user: Worker,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    _: CsrfChecked,
    account_id: str,
    outcome: Short = "",
    channel: Short = "call",
    note: Text = "",
) -> Response:
    """Log what the contact came to; the case leaves the queue. A refused note is not saved:
    the form comes back with the wording named."""
    values = {"outcome": outcome, "channel": channel, "note": note}
    codes = {c["code"]: c for c in _outcome_choices(context_of(request).language)}
    try:
        if outcome not in codes:
            raise FormProblem("outcome", "collector.outcome.choose")
        text = _checked_text(request, "note", note, required=codes[outcome]["note_required"])
        cases.log_outcome(
            db,
            settings,
            account_id=account_id,
            outcome=outcome,
            note=text or None,
            actor=user.username,
            occurred_at=datetime.now(UTC),
            channel=channel,
        )
    except (FormProblem, HuancuiError) as error:
        return _refused(
            request, user, db, settings, policy, account_id, "outcome", values, error=error
        )
    flash(request, "collector.outcome.logged", account=account_id, outcome=codes[outcome]["label"])
    return redirect("/work")


@router.post("/work/accounts/{account_id}/release", name="work_release")
def release_case(
    request: Request,
    user: Worker,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    _: CsrfChecked,
    account_id: str,
    reason: Text = "",
) -> Response:
    """Give the case back to the queue (someone else may take it)."""
    values = {"reason": reason}
    try:
        text = _checked_text(request, "reason", reason, required=True)
        cases.release(
            db,
            account_id=account_id,
            collector=user.username,
            now=datetime.now(UTC),
            reason=text,
            force=user.role in cases.SUPERVISOR_ROLES,
        )
    except (FormProblem, HuancuiError) as error:
        return _refused(
            request, user, db, settings, policy, account_id, "release", values, error=error
        )
    flash(request, "collector.release.done", account=account_id)
    return redirect("/work")


# --- proposals and their live quote ----------------------------------------------------------


def _yuan(field_name: str, text: str, *, required: bool) -> int | None:
    cleaned = text.strip().replace(",", "").replace("¥", "")
    if not cleaned:
        if required:
            raise FormProblem(field_name, "collector.form.required")
        return None
    try:
        fen = parse_yuan(cleaned)
    except (MoneyFormatError, ValueError):
        raise FormProblem(field_name, "collector.form.bad_amount") from None
    if fen < 0:
        raise FormProblem(field_name, "collector.form.bad_amount")
    return fen


def _day(field_name: str, text: str, *, required: bool) -> date | None:
    if not text.strip():
        if required:
            raise FormProblem(field_name, "collector.form.required")
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FormProblem(field_name, "collector.form.bad_date") from None


def _whole(field_name: str, text: str, *, low: int, high: int) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise FormProblem(field_name, "collector.form.bad_number", low=low, high=high) from None
    if not low <= number <= high:
        raise FormProblem(field_name, "collector.form.bad_number", low=low, high=high)
    return number


def _proposal(kind: str, values: dict[str, str]) -> arrangement_service.Proposal:
    """The arrangements service's proposal from a form (promise or instalment plan)."""
    if kind == "ptp":
        return arrangement_service.Proposal(
            "ptp",
            amount_fen=_yuan("amount", values.get("amount", ""), required=True),
            pay_by=_day("pay_by", values.get("pay_by", ""), required=True),
        )
    method_text = values.get("method", "") or Method.EQUAL_INSTALLMENT.value
    if method_text not in {m.value for m in Method}:
        raise FormProblem("method", "collector.form.choose")
    return arrangement_service.Proposal(
        "installment",
        months=_whole("months", values.get("months", "12") or "12", low=1, high=600),
        method=Method(method_text),
        down_payment_fen=_yuan("down_payment", values.get("down_payment", ""), required=False) or 0,
    )


def _approval(policy: ArrangementPolicy, needs: Any) -> dict[str, Any]:
    if auto_approved(policy, needs):
        return {"automatic": True, "roles": []}
    return {"automatic": False, "roles": approving_roles(policy, needs)}


def price_preview(
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    account_id: str,
    as_of: date,
    proposal: arrangement_service.Proposal,
) -> dict[str, Any]:
    """The quote of a proposal on this account, nothing saved: its lines (priced by the
    calculators of arrangements/quote.py through arrangements.service.price), what the customer
    pays, whether the policy allows it and who must approve it."""
    facts = arrangement_service.account_facts(db, settings, account_id, as_of)
    priced = arrangement_service.price(facts, proposal)
    problems = arrangement_service.eligibility_problems(db, policy, facts, proposal, priced)
    income = facts.customer.monthly_income_fen
    return {
        "kind": proposal.kind,
        "lines": [
            {"due": due, "amount_fen": amount, "principal_fen": p, "interest_fen": i, "fee_fen": f}
            for due, amount, p, i, f in priced.lines
        ],
        "total_due_fen": priced.total_due_fen,
        "burden_fen": priced.burden_fen,
        "burden_share": (f"{Decimal(priced.burden_fen) / Decimal(income):.0%}" if income else None),
        "problems": problems,
        "approval": _approval(policy, priced.needs),
    }


def hardship_preview(
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    account_id: str,
    as_of: date,
    start: date | None,
    days: int,
) -> dict[str, Any]:
    """What a 缓催 pause of `days` would mean: its dates and the interest that accrues."""
    facts = arrangement_service.account_facts(db, settings, account_id, as_of)
    first = start or as_of + timedelta(days=1)
    accrues = policy.hardship.interest_accrues
    return {
        "kind": "hardship",
        "start": first,
        "end": first + timedelta(days=days - 1),
        "days": days,
        "interest_accrues": accrues,
        "accrual_fen": (
            hardship_service.accrual_estimate_fen(
                facts.snapshot.balance_fen, facts.account.annual_rate_ppm, days
            )
            if accrues
            else 0
        ),
    }


def _quote_for(
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    account_id: str,
    as_of: date,
    kind: str,
    values: dict[str, str],
) -> dict[str, Any]:
    if kind == "hardship":
        days = _whole(
            "days",
            values.get("days", "") or str(policy.hardship.max_days),
            low=1,
            high=policy.hardship.max_days,
        )
        start = _day("start", values.get("start", ""), required=False)
        return hardship_preview(
            db, settings, policy, account_id=account_id, as_of=as_of, start=start, days=days
        )
    return price_preview(
        db,
        settings,
        policy,
        account_id=account_id,
        as_of=as_of,
        proposal=_proposal(kind, values),
    )


@router.get("/work/accounts/{account_id}/quote", name="work_quote")
def quote_fragment(
    request: Request,
    user: Worker,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    account_id: str,
    kind: Annotated[str, Query(pattern="^(ptp|installment|hardship)$")],
    amount: Annotated[str, Query(max_length=32)] = "",
    pay_by: Annotated[str, Query(max_length=32)] = "",
    months: Annotated[str, Query(max_length=8)] = "",
    method: Annotated[str, Query(max_length=32)] = "",
    down_payment: Annotated[str, Query(max_length=32)] = "",
    days: Annotated[str, Query(max_length=8)] = "",
    start: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """The quote as an HTML fragment, for the forms' live preview (workbench.js fetches it as
    the collector types). Reads only: nothing is saved, so it is a GET without a CSRF token."""
    wd = workday(db)
    values = {
        "amount": amount,
        "pay_by": pay_by,
        "months": months,
        "method": method,
        "down_payment": down_payment,
        "days": days,
        "start": start,
    }
    t = translator(request)
    quote: dict[str, Any] | None = None
    error: str | None = None
    if wd is None:
        error = t("collector.no_snapshot")
    else:
        try:
            quote = _quote_for(db, settings, policy, account_id, wd.as_of, kind, values)
        except (FormProblem, HuancuiError) as problem:
            error = next(iter(_error_fields(request, problem).values()))
    return render(request, "collector/quote.html", {"quote": quote, "quote_error": error})


def _propose_and_log(
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    *,
    user: Principal,
    account_id: str,
    as_of: date,
    proposal: arrangement_service.Proposal,
    reason: str,
) -> int:
    """Record the proposal and the contact's outcome (promise to pay, referencing it) in one
    unit of work: both or neither. Returns the arrangement id."""
    row = arrangement_service.propose(
        db,
        settings,
        policy,
        account_id=account_id,
        as_of=as_of,
        proposal=proposal,
        actor=user.username,
        reason=reason,
    )
    cases.log_outcome(
        db,
        settings,
        account_id=account_id,
        outcome="promise_to_pay",
        note=reason,
        actor=user.username,
        occurred_at=datetime.now(UTC),
        arrangement_id=row.arrangement_id,
    )
    return row.arrangement_id


def _proposal_route(
    request: Request,
    user: Principal,
    db: Session,
    settings: Settings,
    policy: ArrangementPolicy,
    account_id: str,
    form: str,
    kind: str,
    values: dict[str, str],
    action: str,
) -> Response:
    """Shared by the promise and plan forms: `action=preview` shows the quote (the no-script
    path of the live quote), anything else records the proposal and the outcome."""
    wd = workday(db)
    if wd is None:
        return _no_snapshot(request)
    quote: dict[str, Any] | None = None
    try:
        quote = _quote_for(db, settings, policy, account_id, wd.as_of, kind, values)
        if action == "preview":
            return _refused(
                request, user, db, settings, policy, account_id, form, values, quote=quote
            )
        reason = _checked_text(request, "reason", values.get("reason", ""), required=True)
        arrangement_id = _propose_and_log(
            db,
            settings,
            policy,
            user=user,
            account_id=account_id,
            as_of=wd.as_of,
            proposal=_proposal(kind, values),
            reason=reason,
        )
    except (FormProblem, HuancuiError) as error:
        return _refused(
            request,
            user,
            db,
            settings,
            policy,
            account_id,
            form,
            values,
            error=error,
            quote=quote,
        )
    flash(request, f"collector.{form}.recorded", account=account_id, arrangement=arrangement_id)
    return redirect("/work")


@router.post("/work/accounts/{account_id}/promise", name="work_promise")
def propose_promise(
    request: Request,
    user: Worker,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    _: CsrfChecked,
    account_id: str,
    amount: Short = "",
    pay_by: Short = "",
    reason: Text = "",
    action: Short = "save",
) -> Response:
    """A promise to pay (amount by a date) and the outcome promise_to_pay: the case is done."""
    values = {"amount": amount, "pay_by": pay_by, "reason": reason}
    return _proposal_route(
        request, user, db, settings, policy, account_id, "promise", "ptp", values, action
    )


@router.post("/work/accounts/{account_id}/plan", name="work_plan")
def propose_plan(
    request: Request,
    user: Worker,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    _: CsrfChecked,
    account_id: str,
    months: Short = "12",
    method: Short = "",
    down_payment: Short = "",
    reason: Text = "",
    action: Short = "save",
) -> Response:
    """An instalment plan (等额本息 or 等额本金) proposed for approval, and the outcome
    promise_to_pay referencing it: the case is done."""
    values = {"months": months, "method": method, "down_payment": down_payment, "reason": reason}
    return _proposal_route(
        request, user, db, settings, policy, account_id, "plan", "installment", values, action
    )


@router.post("/work/accounts/{account_id}/hardship", name="work_hardship")
def apply_hardship(
    request: Request,
    user: Annotated[Principal, page_requires("hardship:apply")],
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    _: CsrfChecked,
    account_id: str,
    reason_code: Short = "",
    days: Short = "",
    start: Short = "",
    details: Text = "",
    action: Short = "save",
) -> Response:
    """A 缓催 (hardship pause) application on the customer's behalf, and the outcome
    hardship_claim referencing it: the case is done; a supervisor decides the application."""
    values = {"reason_code": reason_code, "days": days, "start": start, "details": details}
    wd = workday(db)
    if wd is None:
        return _no_snapshot(request)
    quote: dict[str, Any] | None = None
    try:
        quote = _quote_for(db, settings, policy, account_id, wd.as_of, "hardship", values)
        if action == "preview":
            return _refused(
                request, user, db, settings, policy, account_id, "hardship", values, quote=quote
            )
        if reason_code not in policy.hardship.reasons:
            raise FormProblem("reason_code", "collector.form.choose")
        text = _checked_text(request, "details", details, required=True)
        row = hardship_service.apply_hardship(
            db,
            settings,
            policy,
            account_id=account_id,
            as_of=wd.as_of,
            reason_code=reason_code,
            details=text,
            start=quote["start"],
            days=quote["days"],
            evidence=[],
            actor=user.username,
            via="web",
        )
        cases.log_outcome(
            db,
            settings,
            account_id=account_id,
            outcome="hardship_claim",
            note=text,
            actor=user.username,
            occurred_at=datetime.now(UTC),
            hardship_id=row.hardship_id,
        )
    except (FormProblem, HuancuiError) as error:
        return _refused(
            request,
            user,
            db,
            settings,
            policy,
            account_id,
            "hardship",
            values,
            error=error,
            quote=quote,
        )
    flash(request, "collector.hardship.recorded", account=account_id, hardship=row.hardship_id)
    return redirect("/work")


__all__ = ["CASE_CHANNELS", "Workday", "hardship_preview", "price_preview", "router", "workday"]
