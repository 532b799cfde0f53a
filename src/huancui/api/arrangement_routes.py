"""Arrangements over the API: list, show, propose (with an Idempotency-Key), approve, reject.
Thin: each route calls arrangements.service in the request's unit of work; the actor is the
signed-in user, and four eyes and the authority matrix are the service's to enforce."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from huancui.api.deps import (
    NO_NUL,
    Limit,
    Offset,
    PolicyDep,
    Principal,
    RecordId,
    SessionDep,
    SettingsDep,
    require,
)
from huancui.api.idempotency import Idempotency, IdempotencyKey
from huancui.api.quote_routes import Rate, Yuan
from huancui.arrangements import service
from huancui.arrangements.policy import Kind
from huancui.arrangements.quote import Component, Method
from huancui.arrangements.tables import ArrangementRow
from huancui.kit.money import format_yuan, parse_yuan

router = APIRouter(prefix="/arrangements", tags=["arrangements"])
Reader = Annotated[Principal, require("queue:read")]
Proposer = Annotated[Principal, require("arrangement:propose")]
Approver = Annotated[Principal, require("arrangement:approve")]


class ProposalRequest(BaseModel):
    """A proposal as `huancui arrangement propose` takes it; which fields apply depends on the
    kind (docs/api.md). Amounts in yuan and rates as decimal strings."""

    account_id: str = Field(min_length=1, max_length=64)
    as_of: date
    kind: Kind
    reason: str = Field(min_length=1, max_length=2000)
    amount: Yuan | None = None
    pay_by: date | None = None
    months: int | None = Field(default=None, ge=1, le=600)
    method: Method | None = None
    annual_rate: Rate | None = None
    monthly_fee_rate: Rate | None = None
    down_payment: Yuan | None = None
    financed: Yuan | None = None
    holiday_months: int | None = Field(default=None, ge=1, le=600)
    capitalise: bool = True
    components: list[Component] = []
    share: Rate | None = None
    discount_share: Rate | None = None
    lump_sum: Yuan | None = None
    after_hardship: int | None = None

    def proposal(self) -> service.Proposal:
        def fen(value: str | None) -> int | None:
            return None if value is None else parse_yuan(value)

        def dec(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        return service.Proposal(
            kind=self.kind,
            amount_fen=fen(self.amount),
            pay_by=self.pay_by,
            months=self.months,
            method=self.method,
            annual_rate=dec(self.annual_rate),
            monthly_fee_rate=dec(self.monthly_fee_rate),
            down_payment_fen=fen(self.down_payment) or 0,
            financed_fen=fen(self.financed),
            holiday_months=self.holiday_months,
            capitalise=self.capitalise,
            components=tuple(self.components),
            share=dec(self.share),
            discount_share=dec(self.discount_share),
            lump_sum_fen=fen(self.lump_sum),
        )


class Decision(BaseModel):
    reason: str = Field(default="", max_length=2000)


class ArrangementPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _summary(row: ArrangementRow) -> dict[str, Any]:
    return {
        "arrangement_id": row.arrangement_id,
        "account_id": row.account_id,
        "kind": row.kind,
        "status": row.status,
        "segment": row.segment,
        "total_due": format_yuan(row.total_due_fen),
        "end_date": row.end_date.isoformat(),
        "proposed_by": row.proposed_by,
        "decided_by": row.decided_by,
    }


@router.get("", response_model=ArrangementPage)
def list_arrangements(
    session: SessionDep,
    _: Reader,
    account_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    status: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ArrangementPage:
    """Arrangements in id order, filtered by account and status; `total` counts all matches."""
    rows = service.list_arrangements(session, account_id=account_id, status=status)
    page = rows[offset : offset + limit]
    return ArrangementPage(
        items=[_summary(r) for r in page], total=len(rows), limit=limit, offset=offset
    )


@router.get("/{arrangement_id}")
def show(arrangement_id: RecordId, session: SessionDep, _: Reader) -> dict[str, Any]:
    """An arrangement with its lines and history."""
    return service.show(session, arrangement_id)


@router.post("", status_code=201)
def propose(
    body: ProposalRequest,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    user: Proposer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Propose an arrangement; within the policy's automatic limits it is approved at once.
    With an Idempotency-Key, a retry with the same body answers with the first result."""
    once = Idempotency.of(
        session,
        actor=user.username,
        key=idempotency_key,
        method="POST",
        path="/api/arrangements",
        body=body,
    )
    replayed = once.replayed()
    if replayed is not None:
        return replayed
    row = service.propose(
        session,
        settings,
        policy,
        account_id=body.account_id,
        as_of=body.as_of,
        proposal=body.proposal(),
        actor=user.username,
        reason=body.reason,
        hardship_id=body.after_hardship,
    )
    shown = service.show(session, row.arrangement_id)
    once.remember(status_code=201, response=shown)
    response.headers["Location"] = f"/api/arrangements/{row.arrangement_id}"
    return shown


@router.post("/{arrangement_id}/approve")
def approve(
    arrangement_id: RecordId, body: Decision, session: SessionDep, policy: PolicyDep, user: Approver
) -> dict[str, Any]:
    """Approve under the authority matrix; the proposer may not (four eyes)."""
    service.approve(session, policy, arrangement_id, actor=user.username, reason=body.reason)
    return service.show(session, arrangement_id)


@router.post("/{arrangement_id}/reject")
def reject(
    arrangement_id: RecordId, body: Decision, session: SessionDep, policy: PolicyDep, user: Approver
) -> dict[str, Any]:
    """Reject with a reason (the customer will be told); the proposer may not."""
    service.reject(session, policy, arrangement_id, actor=user.username, reason=body.reason)
    return service.show(session, arrangement_id)
