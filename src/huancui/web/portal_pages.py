"""The customer portal's pages (/portal): sign-in by phone and one-time code, my accounts, one
account (what is owed and why), choosing a plan, promising a date, applying for 缓催 with
evidence, and rating the service. Mobile first; zh-CN and en.

The pages are a thin skin over portal.codes and portal.service (the API uses the same), with a
web session of kind "customer" (web/sessions.py) and CSRF on every POST. A refusal from a
service is shown on the form it came from, in the customer's language where we know it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from huancui.api.deps import PolicyDep
from huancui.arrangements.evidence import EVIDENCE_MAX_BYTES
from huancui.kit.errors import Conflict, HuancuiError, InvalidInput, NotPermitted
from huancui.kit.money import parse_yuan
from huancui.portal import codes, service
from huancui.portal.codes import CodeRefused
from huancui.portal.model import CODE_MINUTES
from huancui.web.csrf import CsrfChecked
from huancui.web.deps import (
    CustomerUser,
    DbSession,
    SettingsDep,
    flash,
    latest_as_of,
    redirect,
    render,
    safe_next,
    translator,
)
from huancui.web.sessions import WebContextDep, end_session, set_session_cookie, start_session

router = APIRouter(prefix="/portal", include_in_schema=False)

_CODE_REFUSALS = {
    "wrong": "portal.code.wrong",
    "expired": "portal.code.expired",
    "used": "portal.code.used",
    "too many attempts": "portal.code.too_many",
    "client throttled": "portal.code.client_throttled",
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _field(exc: HuancuiError) -> str:
    """The field an InvalidInput names ('pay_by: ...' → 'pay_by'; 'evidence[1]: …' → evidence)."""
    head = str(exc).split(":", 1)[0]
    return head.split("[", 1)[0] if isinstance(exc, InvalidInput) else ""


def _explain(request: Request, exc: HuancuiError, known: dict[str, str], **values: Any) -> str:
    """The customer's words for a refusal: a known field or kind of refusal in their language,
    otherwise the service's own explanation."""
    t = translator(request)
    key = known.get(_field(exc)) if isinstance(exc, InvalidInput) else None
    if key is None and isinstance(exc, Conflict):
        key = known.get("conflict")
    if key is None and isinstance(exc, NotPermitted):
        key = known.get("not_permitted")
    return t(key, **values) if key else str(exc)


def _as_of(request: Request, db: Session) -> None:
    request.state.as_of = latest_as_of(db)


# --- sign-in -------------------------------------------------------------------------------


@router.get("/login", name="portal_login")
def login_form(request: Request, context: WebContextDep, next: str = "") -> Response:
    if context.session is not None and context.session.kind == "customer":
        return redirect(safe_next(next, default="/portal"))
    return render(request, "portal/login.html", {"next": next, "phone": "", "error": None})


@router.post("/login", name="portal_login_submit")
def login_submit(
    request: Request,
    _: CsrfChecked,
    db: DbSession,
    settings: SettingsDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Send a code (the page says the same whether or not the number is registered)."""
    try:
        codes.request_code(
            db, settings, phone=phone, now=datetime.now(UTC), client=_client(request)
        )
    except InvalidInput:
        t = translator(request)
        return render(
            request,
            "portal/login.html",
            {"next": next, "phone": phone, "error": t("portal.login.phone_invalid")},
            status_code=422,
        )
    return render(
        request,
        "portal/code.html",
        {"next": next, "phone": phone, "error": None, "minutes": CODE_MINUTES},
    )


@router.post("/login/code", name="portal_code_submit")
def code_submit(
    request: Request,
    _: CsrfChecked,
    context: WebContextDep,
    db: DbSession,
    settings: SettingsDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Trade the code for a customer session; a refused code counts (committed) and is shown."""
    now = datetime.now(UTC)
    t = translator(request)
    try:
        outcome = codes.verify_code(
            db, settings, phone=phone, code=code, now=now, client=_client(request)
        )
    except InvalidInput as exc:
        key = "portal.code.format" if _field(exc) == "code" else "portal.login.phone_invalid"
        return render(
            request,
            "portal/code.html",
            {"next": next, "phone": phone, "error": t(key), "minutes": CODE_MINUTES},
            status_code=422,
        )
    db.commit()  # the attempt and its audit event outlive a refusal
    try:
        customer_id = outcome.value()
    except CodeRefused as refusal:
        key = _CODE_REFUSALS.get(refusal.reason, "portal.code.wrong")
        return render(
            request,
            "portal/code.html",
            {
                "next": next,
                "phone": phone,
                "error": t(key, minutes=CODE_MINUTES),
                "minutes": CODE_MINUTES,
            },
            status_code=401,
        )
    if context.session is not None:  # a new sign-in replaces whatever this browser had
        end_session(db, context.session, now=now, reason="replaced by a new sign-in")
    token = start_session(
        db, kind="customer", principal=customer_id, language=context.language, now=now
    )
    response = redirect(safe_next(next, default="/portal"))
    set_session_cookie(response, request, token, kind="customer")
    return response


# --- my accounts ---------------------------------------------------------------------------


@router.get("", name="portal_home")
def home(request: Request, db: DbSession, customer: CustomerUser) -> Response:
    _as_of(request, db)
    mine = service.my_accounts(db, customer_id=customer.customer_id)
    return render(request, "portal/home.html", {"accounts": mine["accounts"]})


@router.get("/accounts/{account_id}", name="portal_account")
def account(request: Request, account_id: str, db: DbSession, customer: CustomerUser) -> Response:
    _as_of(request, db)
    view = service.account_view(db, customer_id=customer.customer_id, account_id=account_id)
    return render(request, "portal/account.html", {"account": view})


# --- choose a plan -------------------------------------------------------------------------


def _plans_page(
    request: Request,
    db: Session,
    settings: SettingsDep,
    policy: PolicyDep,
    *,
    customer_id: str,
    account_id: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    _as_of(request, db)
    found = service.options(db, settings, policy, customer_id=customer_id, account_id=account_id)
    return render(
        request,
        "portal/plans.html",
        {"account_id": account_id, "plans": found.plans, "error": error},
        status_code=status_code,
    )


@router.get("/accounts/{account_id}/plans", name="portal_plans")
def plans(
    request: Request,
    account_id: str,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: CustomerUser,
) -> Response:
    return _plans_page(
        request, db, settings, policy, customer_id=customer.customer_id, account_id=account_id
    )


@router.post("/accounts/{account_id}/plans", name="portal_plans_submit")
def plans_submit(
    request: Request,
    account_id: str,
    _: CsrfChecked,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: CustomerUser,
    option: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        chosen = service.choose_plan(
            db,
            settings,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            option=option,
            note=note,
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        known = {"option": "portal.plans.not_offered", "conflict": "portal.error.open_arrangement"}
        return _plans_page(
            request,
            db,
            settings,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            error=_explain(request, exc, known),
            status_code=exc.http_status,
        )
    flash(
        request, "portal.plans.done_at_once" if chosen["approved"] else "portal.plans.done_review"
    )
    return redirect(f"/portal/accounts/{account_id}")


# --- promise a date ------------------------------------------------------------------------


def _promise_page(
    request: Request,
    db: Session,
    settings: SettingsDep,
    policy: PolicyDep,
    *,
    customer_id: str,
    account_id: str,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    _as_of(request, db)
    found = service.options(db, settings, policy, customer_id=customer_id, account_id=account_id)
    return render(
        request,
        "portal/promise.html",
        {
            "account_id": account_id,
            "limits": found.promise,
            "form": form or {"pay_by": "", "amount": ""},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/accounts/{account_id}/promise", name="portal_promise")
def promise(
    request: Request,
    account_id: str,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: CustomerUser,
) -> Response:
    return _promise_page(
        request, db, settings, policy, customer_id=customer.customer_id, account_id=account_id
    )


@router.post("/accounts/{account_id}/promise", name="portal_promise_submit")
def promise_submit(
    request: Request,
    account_id: str,
    _: CsrfChecked,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: CustomerUser,
    pay_by: Annotated[str, Form(max_length=10)] = "",
    amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {"pay_by": pay_by, "amount": amount}
    try:
        try:
            day = date.fromisoformat(pay_by)
        except ValueError:
            raise InvalidInput("pay_by: not a date") from None
        try:
            fen = parse_yuan(amount.strip()) if amount.strip() else None
        except (InvalidInput, ValueError):
            raise InvalidInput("amount: not an amount in yuan") from None
        made = service.promise_to_pay(
            db,
            settings,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            pay_by=day,
            amount_fen=fen,
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        limits = service.options(
            db, settings, policy, customer_id=customer.customer_id, account_id=account_id
        ).promise
        known = {
            "pay_by": "portal.promise.date_range",
            "amount": "portal.promise.amount_invalid",
            "conflict": "portal.error.open_arrangement",
        }
        values = (
            {"earliest": limits.earliest.isoformat(), "latest": limits.latest.isoformat()}
            if limits
            else {"earliest": "", "latest": ""}
        )
        if limits is None or not limits.available:
            known["pay_by"] = "portal.promise.unavailable"
        return _promise_page(
            request,
            db,
            settings,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            form=form,
            error=_explain(request, exc, known, **values),
            status_code=exc.http_status,
        )
    flash(
        request, "portal.promise.done_at_once" if made["approved"] else "portal.promise.done_review"
    )
    return redirect(f"/portal/accounts/{account_id}")


# --- apply for 缓催 ------------------------------------------------------------------------


def _hardship_page(
    request: Request,
    db: Session,
    policy: PolicyDep,
    *,
    customer_id: str,
    account_id: str,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    _as_of(request, db)
    service.account_view(db, customer_id=customer_id, account_id=account_id)  # theirs, or 404
    return render(
        request,
        "portal/hardship.html",
        {
            "account_id": account_id,
            "reasons": policy.hardship.reasons,
            "max_days": policy.hardship.max_days,
            "interest_accrues": policy.hardship.interest_accrues,
            "form": form or {"reason_code": "", "details": "", "days": ""},
            "error": error,
            "max_mb": EVIDENCE_MAX_BYTES // 1024 // 1024,
        },
        status_code=status_code,
    )


@router.get("/accounts/{account_id}/hardship", name="portal_hardship")
def hardship(
    request: Request, account_id: str, db: DbSession, policy: PolicyDep, customer: CustomerUser
) -> Response:
    return _hardship_page(
        request, db, policy, customer_id=customer.customer_id, account_id=account_id
    )


@router.post("/accounts/{account_id}/hardship", name="portal_hardship_submit")
def hardship_submit(
    request: Request,
    account_id: str,
    _: CsrfChecked,
    db: DbSession,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: CustomerUser,
    reason_code: Annotated[str, Form(max_length=32)] = "",
    details: Annotated[str, Form(max_length=2000)] = "",
    days: Annotated[str, Form(max_length=4)] = "",
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    form = {"reason_code": reason_code, "details": details, "days": days}
    uploads = [u for u in evidence or [] if u.filename]  # an empty file input sends one blank
    try:
        contents = []
        for index, upload in enumerate(uploads):
            content = upload.file.read(EVIDENCE_MAX_BYTES + 1)
            if len(content) > EVIDENCE_MAX_BYTES:
                raise InvalidInput(f"evidence[{index}]: over the size limit")
            contents.append(content)
        try:
            wanted = int(days) if days.strip() else None
        except ValueError:
            raise InvalidInput("days: not a number") from None
        service.apply_for_hardship(
            db,
            settings,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            reason_code=reason_code,
            details=details,
            days=wanted,
            evidence=contents,
        )
    except (InvalidInput, Conflict, NotPermitted) as exc:
        db.rollback()
        known = {
            "evidence": "portal.hardship.evidence_invalid",
            "--details": "portal.hardship.details_required",
            "--days": "portal.hardship.days_invalid",
            "days": "portal.hardship.days_invalid",
            "conflict": "portal.hardship.already",
            "not_permitted": "portal.hardship.once_a_year",
        }
        return _hardship_page(
            request,
            db,
            policy,
            customer_id=customer.customer_id,
            account_id=account_id,
            form=form,
            error=_explain(request, exc, known, days=policy.hardship.max_days),
            status_code=exc.http_status,
        )
    flash(request, "portal.hardship.done")
    return redirect(f"/portal/accounts/{account_id}")


# --- rate the service ----------------------------------------------------------------------


@router.get("/rate", name="portal_rate")
def rate(request: Request, db: DbSession, customer: CustomerUser) -> Response:
    _as_of(request, db)
    return render(
        request, "portal/rate.html", {"error": None, "form": {"score": "", "comment": ""}}
    )


@router.post("/rate", name="portal_rate_submit")
def rate_submit(
    request: Request,
    _: CsrfChecked,
    db: DbSession,
    customer: CustomerUser,
    score: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        try:
            value = int(score)
        except ValueError:
            raise InvalidInput("score: not a number") from None
        service.rate_service(
            db,
            customer_id=customer.customer_id,
            score=value,
            comment=comment,
            account_id=None,
            channel="portal",
            now=datetime.now(UTC),
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        known = {"score": "portal.rate.score_invalid", "conflict": "portal.rate.already_today"}
        _as_of(request, db)
        return render(
            request,
            "portal/rate.html",
            {"error": _explain(request, exc, known), "form": {"score": score, "comment": comment}},
            status_code=exc.http_status,
        )
    flash(request, "portal.rate.thanks")
    return redirect("/portal")
