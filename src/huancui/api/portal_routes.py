"""The customer portal over the API (/api/portal): a one-time code by SMS, traded for a
customer's access token; then the customer's own accounts only (docs/portal.md).

Customer routes need a customer's token (permission `portal:self`): a staff token answers 403
here, and a customer's token answers 401 on every staff route (access.tokens.verify refuses it).
An account that is not the customer's answers 404, exactly like one that does not exist."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from huancui.access import tokens
from huancui.access.tokens import TokenRejected
from huancui.api.deps import (
    PolicyDep,
    Principal,
    Requirement,
    SessionDep,
    SettingsDep,
    current_user,
)
from huancui.api.idempotency import Idempotency, IdempotencyKey
from huancui.api.problems import SignInRequired
from huancui.arrangements.evidence import EVIDENCE_MAX_BYTES
from huancui.kit.errors import InvalidInput
from huancui.kit.money import parse_yuan
from huancui.portal import codes, service
from huancui.portal.codes import CodeRefused
from huancui.portal.model import CODE_MINUTES

router = APIRouter(prefix="/portal", tags=["portal"])
_customer_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CustomerToken",
    description="A customer's access token from POST /api/portal/token.",
)


def current_customer(
    settings: SettingsDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_customer_bearer)],
) -> Principal:
    """The signed-in customer (username = customer_id, role customer). A genuine staff token
    yields its staff user, whom the route's requirement then refuses (403)."""
    if credentials is None or not credentials.credentials:
        raise TokenRejected("missing")
    token = credentials.credentials
    try:
        claims = tokens.verify_customer(settings, token, now=datetime.now(UTC))
    except TokenRejected as exc:
        if exc.reason != tokens.STAFF_TOKEN:
            raise
        return current_user(settings, session, token)
    return Principal(username=claims.username, role=claims.role)


class CustomerRequirement(Requirement):
    """`portal:self` for the signed-in customer (the permission matrix test finds it)."""

    def __call__(self, user: Annotated[Principal, Depends(current_customer)]) -> Principal:
        return super().__call__(user)


Customer = Annotated[Principal, Depends(CustomerRequirement("portal:self"))]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class CodeRequestBody(BaseModel):
    phone: str = Field(max_length=32, description="The mobile number the bank has for you.")


class CodeRequested(BaseModel):
    detail: str
    expires_in: int  # seconds a code stays valid


class TokenRequest(BaseModel):
    phone: str = Field(max_length=32)
    code: str = Field(max_length=16, description="The 6-digit code from the SMS.")


class CustomerToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


@router.post("/code", status_code=202, response_model=CodeRequested)
def request_code(
    body: CodeRequestBody, request: Request, session: SessionDep, settings: SettingsDep
) -> CodeRequested:
    """Send a sign-in code by SMS. The answer is the same whether or not the number is
    registered (and when too many codes were asked for)."""
    codes.request_code(
        session, settings, phone=body.phone, now=datetime.now(UTC), client=_client(request)
    )
    return CodeRequested(detail=codes.REQUESTED, expires_in=CODE_MINUTES * 60)


@router.post("/token", response_model=CustomerToken)
def token(
    body: TokenRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> CustomerToken:
    """Trade the code for a customer's access token (15 minutes, no refresh: ask for a new
    code). A wrong, expired or spent code answers 401 and counts as an attempt."""
    now = datetime.now(UTC)
    outcome = codes.verify_code(
        session, settings, phone=body.phone, code=body.code, now=now, client=_client(request)
    )
    session.commit()  # the attempt and its audit event outlive the refusal
    try:
        customer_id = outcome.value()
    except CodeRefused as refusal:
        raise SignInRequired(str(refusal)) from None
    access = tokens.issue_customer_access(settings, customer_id, now=now)
    claims = tokens.verify_customer(settings, access, now=now)
    return CustomerToken(
        access_token=access, expires_in=int((claims.expires_at - now).total_seconds())
    )


@router.get("/accounts")
def accounts(session: SessionDep, customer: Customer) -> dict[str, Any]:
    """Your accounts, with what is overdue on each."""
    return service.my_accounts(session, customer_id=customer.username)


@router.get("/accounts/{account_id}")
def account(account_id: str, session: SessionDep, customer: Customer) -> dict[str, Any]:
    """One of your accounts: what is owed and why, your arrangement and its next payment,
    your 缓催 applications, pauses on collection, and the messages we sent."""
    return service.account_view(session, customer_id=customer.username, account_id=account_id)


@router.get("/accounts/{account_id}/offers")
def offers(
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: Customer,
) -> dict[str, Any]:
    """The plans you may choose (monthly amount, total to pay) and the dates a promise may
    name."""
    found = service.options(
        session, settings, policy, customer_id=customer.username, account_id=account_id
    )
    return found.as_json(account_id)


class PlanChoice(BaseModel):
    option: str = Field(
        max_length=32, description="An `option` of the offers, e.g. installment-12."
    )
    note: str = Field(default="", max_length=500)


class PromiseBody(BaseModel):
    pay_by: date
    amount: str | None = Field(
        default=None, max_length=20, description="Yuan, e.g. 1150.00; default: what is overdue."
    )
    note: str = Field(default="", max_length=500)


def _once(
    session: SessionDep, customer: Principal, key: str | None, path: str, body: BaseModel
) -> Idempotency:
    return Idempotency.of(
        session,
        actor=service.actor_of(customer.username),
        key=key,
        method="POST",
        path=path,
        body=body,
    )


@router.post("/accounts/{account_id}/plans", status_code=201)
def choose_plan(
    account_id: str,
    body: PlanChoice,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: Customer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Choose one of the offered plans. Within the bank's automatic limits it is approved at
    once; otherwise it waits for a person with the authority (status proposed)."""
    once = _once(
        session, customer, idempotency_key, f"/api/portal/accounts/{account_id}/plans", body
    )
    replayed = once.replayed()
    if replayed is not None:
        return replayed
    result = service.choose_plan(
        session,
        settings,
        policy,
        customer_id=customer.username,
        account_id=account_id,
        option=body.option,
        note=body.note,
    )
    once.remember(status_code=201, response=result)
    return result


@router.post("/accounts/{account_id}/promises", status_code=201)
def promise(
    account_id: str,
    body: PromiseBody,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: Customer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Promise to pay (by default what is overdue) by a date within the offered range."""
    once = _once(
        session, customer, idempotency_key, f"/api/portal/accounts/{account_id}/promises", body
    )
    replayed = once.replayed()
    if replayed is not None:
        return replayed
    amount = None
    if body.amount is not None:
        try:
            amount = parse_yuan(body.amount)
        except (InvalidInput, ValueError):
            raise InvalidInput(
                f"amount: {body.amount!r} is not an amount in yuan, e.g. 1150.00"
            ) from None
    result = service.promise_to_pay(
        session,
        settings,
        policy,
        customer_id=customer.username,
        account_id=account_id,
        pay_by=body.pay_by,
        amount_fen=amount,
        note=body.note,
    )
    once.remember(status_code=201, response=result)
    return result


def _read_limited(upload: UploadFile, index: int) -> bytes:
    """The upload's bytes, refusing (without reading on) one over the size limit."""
    content = upload.file.read(EVIDENCE_MAX_BYTES + 1)
    if len(content) > EVIDENCE_MAX_BYTES:
        raise InvalidInput(
            f"evidence[{index}]: the file is over {EVIDENCE_MAX_BYTES // 1024 // 1024} MB"
        )
    return content


@router.post("/hardship", status_code=201)
def apply_hardship(
    account_id: Annotated[str, Form(max_length=32)],
    reason_code: Annotated[str, Form(max_length=32)],
    details: Annotated[str, Form(max_length=2000)],
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    customer: Customer,
    days: Annotated[int | None, Form(ge=1, le=366)] = None,
    evidence: Annotated[list[UploadFile] | None, File()] = None,
) -> dict[str, Any]:
    """Apply for 缓催, the hardship pause, with evidence (multipart: PDF, JPEG or PNG files of
    at most 5 MB each). The bank decides it; collection pauses once it is approved."""
    contents = [_read_limited(upload, i) for i, upload in enumerate(evidence or [])]
    return service.apply_for_hardship(
        session,
        settings,
        policy,
        customer_id=customer.username,
        account_id=account_id,
        reason_code=reason_code,
        details=details,
        days=days,
        evidence=contents,
    )


class RatingBody(BaseModel):
    score: int = Field(description="1 (poor) to 5 (excellent).")
    comment: str | None = Field(default=None, max_length=1000)
    account_id: str | None = Field(default=None, max_length=32)


@router.post("/ratings", status_code=201)
def rate(body: RatingBody, session: SessionDep, customer: Customer) -> dict[str, Any]:
    """Rate the service (CSAT 1–5, optional comment): once a day."""
    return service.rate_service(
        session,
        customer_id=customer.username,
        score=body.score,
        comment=body.comment,
        account_id=body.account_id,
        channel="api",
        now=datetime.now(UTC),
    )
