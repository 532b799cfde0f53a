"""Repayment quotes (pure calculators of arrangements/quote.py): nothing is stored. Amounts are
decimal strings in yuan ("12000.00"), rates and shares decimal strings ("0.18"), never floats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from huancui.api.deps import require
from huancui.arrangements import quote
from huancui.arrangements.quote import Component, Method
from huancui.kit.money import parse_yuan

# Any staff role that works or watches cases may price a plan: a quote shows no personal data.
QUOTE_PERMISSIONS = ("queue:read", "arrangement:propose")
router = APIRouter(prefix="/quotes", tags=["quotes"], dependencies=[require(*QUOTE_PERMISSIONS)])

Yuan = Annotated[
    str,
    Field(pattern=r"^\d{1,13}(\.\d{1,2})?$", examples=["12000.00"], description="yuan"),
]
Rate = Annotated[
    str, Field(pattern=r"^\d{1,3}(\.\d{1,10})?$", examples=["0.18"], description="a fraction")
]


def _fen(value: str | None) -> int | None:
    return None if value is None else parse_yuan(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class InstallmentRequest(BaseModel):
    principal: Yuan
    months: int = Field(ge=1, le=600)
    first_due: date
    annual_rate: Rate | None = None
    monthly_fee_rate: Rate | None = None
    method: Method | None = None
    down_payment: Yuan = "0"
    start: date | None = None
    holiday_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class DeferralRequest(BaseModel):
    principal: Yuan
    annual_rate: Rate
    remaining_months: int = Field(ge=1, le=600)
    holiday_months: int = Field(ge=1, le=600)
    first_due: date
    capitalise: bool = True
    method: Method = Method.EQUAL_INSTALLMENT
    holiday_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class WaiverRequest(BaseModel):
    penalty_interest: Yuan = "0"
    interest: Yuan = "0"
    fees: Yuan = "0"
    principal: Yuan = "0"
    components: list[Component] = [Component.FEES, Component.INTEREST]
    amount: Yuan | None = None
    share: Rate | None = None


class SettlementRequest(BaseModel):
    principal: Yuan
    interest: Yuan = "0"
    fees: Yuan = "0"
    penalty_interest: Yuan = "0"
    deadline: date
    discount_share: Rate | None = None
    lump_sum: Yuan | None = None
    holiday_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


@router.post("/installment")
def installment(body: InstallmentRequest) -> dict[str, Any]:
    """分期还款: an equal-instalment or equal-principal plan."""
    return quote.quote_installment(
        principal_fen=parse_yuan(body.principal),
        months=body.months,
        first_due=body.first_due,
        annual_rate=_decimal(body.annual_rate),
        monthly_fee_rate=_decimal(body.monthly_fee_rate),
        method=body.method,
        down_payment_fen=parse_yuan(body.down_payment),
        start=body.start,
        holiday_country=body.holiday_country,
    ).as_json()


@router.post("/deferral")
def deferral(body: DeferralRequest) -> dict[str, Any]:
    """延期还款: a payment holiday, then the balance amortised again."""
    return quote.quote_deferral(
        principal_fen=parse_yuan(body.principal),
        annual_rate=Decimal(body.annual_rate),
        remaining_months=body.remaining_months,
        holiday_months=body.holiday_months,
        first_due=body.first_due,
        capitalise=body.capitalise,
        method=body.method,
        holiday_country=body.holiday_country,
    ).as_json()


@router.post("/waiver")
def waiver(body: WaiverRequest) -> dict[str, Any]:
    """减免: waive an amount or a share of penalty interest, fees and interest."""
    return quote.quote_waiver(
        penalty_interest_fen=parse_yuan(body.penalty_interest),
        interest_fen=parse_yuan(body.interest),
        fees_fen=parse_yuan(body.fees),
        principal_fen=parse_yuan(body.principal),
        components=tuple(body.components),
        amount_fen=_fen(body.amount),
        share=_decimal(body.share),
    ).as_json()


@router.post("/settlement")
def settlement(body: SettlementRequest) -> dict[str, Any]:
    """一次性结清: settle the balance with one payment by a deadline."""
    return quote.quote_settlement(
        principal_fen=parse_yuan(body.principal),
        interest_fen=parse_yuan(body.interest),
        fees_fen=parse_yuan(body.fees),
        penalty_interest_fen=parse_yuan(body.penalty_interest),
        deadline=body.deadline,
        discount_share=_decimal(body.discount_share),
        lump_sum_fen=_fen(body.lump_sum),
        holiday_country=body.holiday_country,
    ).as_json()
