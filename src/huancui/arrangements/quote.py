"""Repayment quotes in exact fen: instalment plans (分期还款), deferrals (延期还款), interest and fee
waivers (减免利息) and settlements (一次性结清). Pure calculators; nothing is stored or sent.

Money is integer fen; rates and shares are Decimal (never float), computed with 40 significant
digits. Rounding, always half-up to the fen (huancui.kit.money.round_half_up):

- A month's interest is round_half_up(balance × annual rate / 12), on the balance before the line.
- Equal instalment (等额本息): the payment P·r/(1−(1+r)^−n), r = annual rate / 12, is rounded once;
  each line's principal is payment − interest. The LAST line's principal is the remaining balance
  and its payment that principal + its interest, so principal sums exactly to P. The half fen of
  the rounded payment compounds: over 60 months at 36% the last payment can differ from the others
  by up to about a yuan. At a zero rate the payment is P / n, rounded.
- Equal principal (等额本金): P // n fen each month; the last instalment absorbs the remainder.
- Monthly fee rate (信用卡分期手续费): no interest; a flat fee round_half_up(P × fee rate) every
  month in its own column, principal as equal principal.
- A down payment is line 0, due on the start date (principal only); the rest is scheduled.

Dates: line k is due k−1 months after `first_due`, on first_due's day of the month or the month's
last day (31 Jan → 28/29 Feb → 31 Mar: each from first_due, never from the previous date). With a
`holiday_country`, a date that is not a working day (public holiday, or weekend that is not a 调休
working day) moves to the next working day. The move does not change the interest: interest is
per month, and a customer paying on the moved day is not late.

Deferral: during the payment holiday interest accrues each month. Capitalised, it is added to the
balance (compounding; the line shows it under `capitalised` and a zero payment). Not capitalised,
it is still due: the holiday lines are interest-only. After the holiday the balance is amortised
again over the remaining term. Waivers and settlements reduce penalty interest, then fees, then
interest (then, for a settlement only, principal): the bank gives up income before capital.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any

from huancui.kit.calendar import next_working_day
from huancui.kit.errors import InvalidInput
from huancui.kit.money import format_yuan, round_half_up

DEFAULT_MAX_TERM_MONTHS = 60  # the 5-year cap on personalised instalment agreements for cards
_PRECISION = 40
_SHARE_PLACES = Decimal("0.0001")


class InvalidQuote(InvalidInput, ValueError):
    """An input a quote cannot be made from; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Method(StrEnum):
    EQUAL_INSTALLMENT = "equal-installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal-principal"  # 等额本金


class Component(StrEnum):
    """Parts of what a customer owes, in the order a waiver or discount reduces them."""

    PENALTY_INTEREST = "penalty_interest"  # 罚息
    FEES = "fees"  # 费用
    INTEREST = "interest"  # 利息
    PRINCIPAL = "principal"  # 本金: never waived; a settlement discounts it last


def _rate_text(rate: Decimal | None) -> str | None:
    return None if rate is None else format(rate.normalize(), "f")


# ---------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class ScheduleLine:
    """One due date. payment = principal + interest + fee; capitalised interest is not paid."""

    number: int  # 0: the down payment
    due_date: date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    balance_after_fen: int
    capitalised_fen: int = 0

    @property
    def payment_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": format_yuan(self.principal_fen),
            "interest": format_yuan(self.interest_fen),
            "fee": format_yuan(self.fee_fen),
            "capitalised": format_yuan(self.capitalised_fen),
            "payment": format_yuan(self.payment_fen),
            "balance_after": format_yuan(self.balance_after_fen),
        }


@dataclass(frozen=True)
class Schedule:
    lines: tuple[ScheduleLine, ...]

    @property
    def total_principal_fen(self) -> int:
        return sum(line.principal_fen for line in self.lines)

    @property
    def total_interest_fen(self) -> int:
        return sum(line.interest_fen for line in self.lines)

    @property
    def total_fees_fen(self) -> int:
        return sum(line.fee_fen for line in self.lines)

    @property
    def total_capitalised_fen(self) -> int:
        return sum(line.capitalised_fen for line in self.lines)

    @property
    def total_paid_fen(self) -> int:
        return sum(line.payment_fen for line in self.lines)

    @property
    def monthly_payment_fen(self) -> int:
        """The typical month: the first line after any down payment that repays principal."""
        regular = [line for line in self.lines if line.number >= 1 and line.principal_fen > 0]
        return regular[0].payment_fen if regular else 0

    def totals_json(self) -> dict[str, str]:
        return {
            "total_principal": format_yuan(self.total_principal_fen),
            "total_interest": format_yuan(self.total_interest_fen),
            "total_fees": format_yuan(self.total_fees_fen),
            "total_capitalised": format_yuan(self.total_capitalised_fen),
            "total_paid": format_yuan(self.total_paid_fen),
            "monthly_payment": format_yuan(self.monthly_payment_fen),
        }


@dataclass(frozen=True)
class InstallmentQuote:
    """分期还款: `principal_fen` less the down payment is financed over `months`."""

    method: Method
    principal_fen: int
    down_payment_fen: int
    months: int
    annual_rate: Decimal | None
    monthly_fee_rate: Decimal | None
    first_due: date
    holiday_country: str | None
    schedule: Schedule

    @property
    def financed_fen(self) -> int:
        return self.principal_fen - self.down_payment_fen

    def as_json(self) -> dict[str, Any]:
        return {
            "arrangement": "installment",
            "method": str(self.method),
            "principal": format_yuan(self.principal_fen),
            "down_payment": format_yuan(self.down_payment_fen),
            "financed": format_yuan(self.financed_fen),
            "months": self.months,
            "annual_rate": _rate_text(self.annual_rate),
            "monthly_fee_rate": _rate_text(self.monthly_fee_rate),
            "first_due": self.first_due.isoformat(),
            "holiday_country": self.holiday_country,
            "lines": [line.as_json() for line in self.schedule.lines],
            "totals": self.schedule.totals_json(),
        }


@dataclass(frozen=True)
class DeferralQuote:
    """延期还款: `holiday_months` without principal, then the rest over `remaining_months`."""

    method: Method
    principal_fen: int
    annual_rate: Decimal
    remaining_months: int
    holiday_months: int
    capitalise: bool
    first_due: date
    holiday_country: str | None
    schedule: Schedule
    without_deferral: Schedule  # the same balance paid from first_due, for comparison

    @property
    def extra_cost_fen(self) -> int:
        """What the deferral costs the customer over paying on the original schedule."""
        return self.schedule.total_paid_fen - self.without_deferral.total_paid_fen

    def as_json(self) -> dict[str, Any]:
        return {
            "arrangement": "deferral",
            "method": str(self.method),
            "principal": format_yuan(self.principal_fen),
            "annual_rate": _rate_text(self.annual_rate),
            "remaining_months": self.remaining_months,
            "holiday_months": self.holiday_months,
            "capitalise": self.capitalise,
            "first_due": self.first_due.isoformat(),
            "holiday_country": self.holiday_country,
            "lines": [line.as_json() for line in self.schedule.lines],
            "totals": self.schedule.totals_json(),
            "without_deferral": self.without_deferral.totals_json(),
            "extra_cost": format_yuan(self.extra_cost_fen),
        }


def monthly_burden_fen(quote: InstallmentQuote | DeferralQuote) -> int:
    """The largest payment of any month after the down payment: what the customer must afford."""
    return max((line.payment_fen for line in quote.schedule.lines if line.number >= 1), default=0)


def quote_installment(
    *,
    principal_fen: int,
    months: int,
    first_due: date,
    annual_rate: Decimal | None = None,
    monthly_fee_rate: Decimal | None = None,
    method: Method | None = None,
    down_payment_fen: int = 0,
    start: date | None = None,
    holiday_country: str | None = None,
    max_term_months: int = DEFAULT_MAX_TERM_MONTHS,
) -> InstallmentQuote:
    """An instalment plan priced by an annual rate or a monthly fee rate (exactly one of them).

    `method` defaults to equal instalment with an annual rate; a fee rate is always charged with
    equal principal. `start` (the down payment's due date) defaults to a month before first_due.
    """
    _check_term("months", months, max_term_months)
    _check_amount("principal_fen", principal_fen, positive=True)
    _check_amount("down_payment_fen", down_payment_fen)
    if down_payment_fen >= principal_fen:
        raise InvalidQuote(
            "down_payment_fen",
            f"{format_yuan(down_payment_fen)} leaves nothing of {format_yuan(principal_fen)}"
            " to pay in instalments; lower the down payment",
        )
    method = _pricing_method(annual_rate, monthly_fee_rate, method)
    start_day = start or _add_months(first_due, -1)
    if start_day >= first_due:
        raise InvalidQuote("start", f"{start_day} is not before the first due date {first_due}")
    lines = _amortise(
        balance_fen=principal_fen - down_payment_fen,
        due_dates=_due_dates(first_due, months, offset=0, country=holiday_country),
        first_number=1,
        method=method,
        annual_rate=annual_rate or Decimal(0),
        monthly_fee_rate=monthly_fee_rate or Decimal(0),
    )
    if down_payment_fen:
        down = ScheduleLine(
            number=0,
            due_date=_working(start_day, holiday_country),
            principal_fen=down_payment_fen,
            interest_fen=0,
            fee_fen=0,
            balance_after_fen=principal_fen - down_payment_fen,
        )
        lines.insert(0, down)
    return InstallmentQuote(
        method=method,
        principal_fen=principal_fen,
        down_payment_fen=down_payment_fen,
        months=months,
        annual_rate=annual_rate,
        monthly_fee_rate=monthly_fee_rate,
        first_due=first_due,
        holiday_country=holiday_country,
        schedule=Schedule(tuple(lines)),
    )


def _pricing_method(
    annual_rate: Decimal | None, monthly_fee_rate: Decimal | None, method: Method | None
) -> Method:
    """Check that exactly one rate is given; a fee rate goes with equal principal only."""
    if (annual_rate is None) == (monthly_fee_rate is None):
        raise InvalidQuote(
            "annual_rate", "give exactly one of an annual rate and a monthly fee rate"
        )
    if annual_rate is not None:
        _check_rate("annual_rate", annual_rate)
        return method or Method.EQUAL_INSTALLMENT
    assert monthly_fee_rate is not None
    _check_rate("monthly_fee_rate", monthly_fee_rate)
    if method is Method.EQUAL_INSTALLMENT:
        raise InvalidQuote(
            "method", "a monthly fee rate is charged with equal principal (等额本金) lines"
        )
    return Method.EQUAL_PRINCIPAL


def quote_deferral(
    *,
    principal_fen: int,
    annual_rate: Decimal,
    remaining_months: int,
    holiday_months: int,
    first_due: date,
    capitalise: bool,
    method: Method = Method.EQUAL_INSTALLMENT,
    holiday_country: str | None = None,
    max_term_months: int = DEFAULT_MAX_TERM_MONTHS,
) -> DeferralQuote:
    """A payment holiday of `holiday_months` from the next instalment (due `first_due`).

    The new schedule (holiday plus remaining term) must fit in `max_term_months`.
    """
    _check_amount("principal_fen", principal_fen, positive=True)
    _check_rate("annual_rate", annual_rate)
    _check_term("remaining_months", remaining_months, max_term_months)
    if not 1 <= holiday_months <= max_term_months - remaining_months:
        raise InvalidQuote(
            "holiday_months",
            f"{holiday_months} months: a payment holiday is 1 month or more, and with the"
            f" {remaining_months} remaining months must fit the {max_term_months}-month maximum term",
        )
    balance = principal_fen
    holiday: list[ScheduleLine] = []
    holiday_dates = _due_dates(first_due, holiday_months, offset=0, country=holiday_country)
    for number, due in enumerate(holiday_dates, start=1):
        accrued = _interest(balance, annual_rate)
        if capitalise:
            balance += accrued
            holiday.append(ScheduleLine(number, due, 0, 0, 0, balance, capitalised_fen=accrued))
        else:
            holiday.append(ScheduleLine(number, due, 0, accrued, 0, balance))
    after = _amortise(
        balance_fen=balance,
        due_dates=_due_dates(
            first_due, remaining_months, offset=holiday_months, country=holiday_country
        ),
        first_number=holiday_months + 1,
        method=method,
        annual_rate=annual_rate,
        monthly_fee_rate=Decimal(0),
    )
    without = _amortise(
        balance_fen=principal_fen,
        due_dates=_due_dates(first_due, remaining_months, offset=0, country=holiday_country),
        first_number=1,
        method=method,
        annual_rate=annual_rate,
        monthly_fee_rate=Decimal(0),
    )
    return DeferralQuote(
        method=method,
        principal_fen=principal_fen,
        annual_rate=annual_rate,
        remaining_months=remaining_months,
        holiday_months=holiday_months,
        capitalise=capitalise,
        first_due=first_due,
        holiday_country=holiday_country,
        schedule=Schedule(tuple(holiday + after)),
        without_deferral=Schedule(tuple(without)),
    )


def _amortise(
    *,
    balance_fen: int,
    due_dates: Sequence[date],
    first_number: int,
    method: Method,
    annual_rate: Decimal,
    monthly_fee_rate: Decimal,
) -> list[ScheduleLine]:
    months = len(due_dates)
    with localcontext(prec=_PRECISION):
        fee = round_half_up(balance_fen * monthly_fee_rate)
    level = _level_payment(balance_fen, annual_rate, months)
    balance = balance_fen
    lines = []
    for index, due in enumerate(due_dates):
        interest = _interest(balance, annual_rate)
        if index == months - 1:
            principal = balance
        elif method is Method.EQUAL_INSTALLMENT:
            # Never below zero (the payment covers a month's interest on at most P); the cap only
            # bites on a few fen, where the rounded payment would overshoot the balance.
            principal = min(level - interest, balance)
        else:
            principal = balance_fen // months
        balance -= principal
        lines.append(ScheduleLine(first_number + index, due, principal, interest, fee, balance))
    return lines


def _interest(balance_fen: int, annual_rate: Decimal) -> int:
    # Multiply before dividing so that an exact half fen stays exact (r = 0.2/12 does not end).
    with localcontext(prec=_PRECISION):
        return round_half_up(balance_fen * annual_rate / 12)


def _level_payment(balance_fen: int, annual_rate: Decimal, months: int) -> int:
    with localcontext(prec=_PRECISION):
        if annual_rate == 0:
            return round_half_up(Decimal(balance_fen) / months)
        r = annual_rate / 12
        return round_half_up(balance_fen * r / (1 - (1 + r) ** -months))


def _due_dates(first_due: date, count: int, *, offset: int, country: str | None) -> list[date]:
    return [_working(_add_months(first_due, offset + k), country) for k in range(count)]


def _add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _working(day: date, country: str | None) -> date:
    if country is None:
        return day
    try:
        return next_working_day(day, country)
    except ValueError as exc:
        raise InvalidQuote("holiday_country", str(exc)) from None


# ---------------------------------------------------------------- waivers and settlements

_REDUCTION_ORDER = (Component.PENALTY_INTEREST, Component.FEES, Component.INTEREST)


@dataclass(frozen=True)
class ComponentLine:
    """One component of the balance: before, how much is waived or discounted, after."""

    component: Component
    before_fen: int
    reduced_fen: int

    @property
    def after_fen(self) -> int:
        return self.before_fen - self.reduced_fen

    def as_json(self, reduced_as: str) -> dict[str, str]:
        return {
            "component": str(self.component),
            "before": format_yuan(self.before_fen),
            reduced_as: format_yuan(self.reduced_fen),
            "after": format_yuan(self.after_fen),
        }


@dataclass(frozen=True)
class WaiverQuote:
    """减免: what is waived of each component. The customer saves exactly what the bank forgoes:
    the same fen, seen as a saving by one and as booked income given up by the other."""

    lines: tuple[ComponentLine, ...]
    share: Decimal | None
    amount_fen: int | None

    @property
    def customer_saves_fen(self) -> int:
        return sum(line.reduced_fen for line in self.lines)

    @property
    def bank_forgoes_fen(self) -> int:
        return self.customer_saves_fen

    @property
    def amount_due_before_fen(self) -> int:
        return sum(line.before_fen for line in self.lines)

    @property
    def amount_due_after_fen(self) -> int:
        return sum(line.after_fen for line in self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "arrangement": "waiver",
            "share": _rate_text(self.share),
            "amount": None if self.amount_fen is None else format_yuan(self.amount_fen),
            "lines": [line.as_json("waived") for line in self.lines],
            "customer_saves": format_yuan(self.customer_saves_fen),
            "bank_forgoes": format_yuan(self.bank_forgoes_fen),
            "amount_due_before": format_yuan(self.amount_due_before_fen),
            "amount_due_after": format_yuan(self.amount_due_after_fen),
        }


def quote_waiver(
    *,
    penalty_interest_fen: int,
    interest_fen: int,
    fees_fen: int,
    principal_fen: int = 0,
    components: Collection[Component] = _REDUCTION_ORDER,
    amount_fen: int | None = None,
    share: Decimal | None = None,
) -> WaiverQuote:
    """Waive `amount_fen` (penalty interest, then fees, then interest) or `share` of each chosen
    component (rounded half-up per component). Principal is owed in full either way."""
    balances = {
        Component.PENALTY_INTEREST: penalty_interest_fen,
        Component.FEES: fees_fen,
        Component.INTEREST: interest_fen,
        Component.PRINCIPAL: principal_fen,
    }
    for component, fen in balances.items():
        _check_amount(f"{component}_fen", fen)
    if Component.PRINCIPAL in components:
        raise InvalidQuote("components", "principal is never waived; choose among " + _names())
    if not components:
        raise InvalidQuote("components", "choose what to waive among " + _names())
    if (amount_fen is None) == (share is None):
        raise InvalidQuote("amount_fen", "give exactly one of an amount and a share to waive")
    chosen = [c for c in _REDUCTION_ORDER if c in components]
    if share is not None:
        _check_share("share", share)
        with localcontext(prec=_PRECISION):
            waived = {c: round_half_up(balances[c] * share) for c in chosen}
    else:
        assert amount_fen is not None
        _check_amount("amount_fen", amount_fen)
        available = sum(balances[c] for c in chosen)
        if amount_fen > available:
            raise InvalidQuote(
                "amount_fen",
                f"{format_yuan(amount_fen)} is more than the {format_yuan(available)} of"
                f" {', '.join(chosen)} that may be waived",
            )
        waived = dict(
            zip(chosen, _take_in_order(amount_fen, [balances[c] for c in chosen]), strict=True)
        )
    lines = tuple(ComponentLine(c, fen, waived.get(c, 0)) for c, fen in balances.items())
    return WaiverQuote(lines=lines, share=share, amount_fen=amount_fen)


@dataclass(frozen=True)
class SettlementQuote:
    """一次性结清: the balance settled by one payment of `lump_sum_fen` by `deadline`."""

    lines: tuple[ComponentLine, ...]
    deadline: date

    @property
    def balance_fen(self) -> int:
        return sum(line.before_fen for line in self.lines)

    @property
    def discount_fen(self) -> int:
        return sum(line.reduced_fen for line in self.lines)

    @property
    def lump_sum_fen(self) -> int:
        return self.balance_fen - self.discount_fen

    @property
    def discount_share(self) -> Decimal:
        """Discount / balance to four places, half-up."""
        with localcontext(prec=_PRECISION):
            share = Decimal(self.discount_fen) / self.balance_fen
        return share.quantize(_SHARE_PLACES, rounding=ROUND_HALF_UP)

    def as_json(self) -> dict[str, Any]:
        return {
            "arrangement": "settlement",
            "deadline": self.deadline.isoformat(),
            "lines": [line.as_json("discount") for line in self.lines],
            "balance": format_yuan(self.balance_fen),
            "discount": format_yuan(self.discount_fen),
            "discount_share": str(self.discount_share),
            "lump_sum": format_yuan(self.lump_sum_fen),
        }


def quote_settlement(
    *,
    principal_fen: int,
    interest_fen: int,
    fees_fen: int,
    penalty_interest_fen: int,
    deadline: date,
    discount_share: Decimal | None = None,
    lump_sum_fen: int | None = None,
    holiday_country: str | None = None,
) -> SettlementQuote:
    """Settle for `lump_sum_fen`, or for the balance less `discount_share` of it (rounded half-up).

    The discount reduces penalty interest, fees and interest before principal. With a
    `holiday_country` a deadline that is not a working day moves to the next working day.
    """
    balances = {
        Component.PENALTY_INTEREST: penalty_interest_fen,
        Component.FEES: fees_fen,
        Component.INTEREST: interest_fen,
        Component.PRINCIPAL: principal_fen,
    }
    for component, fen in balances.items():
        _check_amount(f"{component}_fen", fen)
    balance = sum(balances.values())
    if balance == 0:
        raise InvalidQuote("principal_fen", "the balance is zero: there is nothing to settle")
    if (discount_share is None) == (lump_sum_fen is None):
        raise InvalidQuote("discount_share", "give exactly one of a discount share and a lump sum")
    if discount_share is not None:
        _check_share("discount_share", discount_share)
        with localcontext(prec=_PRECISION):
            discount = round_half_up(balance * discount_share)
    else:
        assert lump_sum_fen is not None
        _check_amount("lump_sum_fen", lump_sum_fen)
        if lump_sum_fen > balance:
            raise InvalidQuote(
                "lump_sum_fen",
                f"{format_yuan(lump_sum_fen)} is more than the balance {format_yuan(balance)}",
            )
        discount = balance - lump_sum_fen
    discounts = _take_in_order(discount, list(balances.values()))
    lines = tuple(
        ComponentLine(c, fen, cut)
        for (c, fen), cut in zip(balances.items(), discounts, strict=True)
    )
    return SettlementQuote(lines=lines, deadline=_working(deadline, holiday_country))


def _take_in_order(amount_fen: int, balances: Sequence[int]) -> list[int]:
    """Spread `amount_fen` over `balances`, each in full before the next."""
    taken = []
    for balance in balances:
        part = min(amount_fen, balance)
        taken.append(part)
        amount_fen -= part
    return taken


def _names() -> str:
    return ", ".join(_REDUCTION_ORDER)


# ---------------------------------------------------------------------------- checks


def _check_amount(field: str, fen: int, *, positive: bool = False) -> None:
    if fen < 0:
        raise InvalidQuote(field, f"{format_yuan(fen)} is negative; amounts are zero or more")
    if positive and fen == 0:
        raise InvalidQuote(field, "0.00 leaves nothing to pay; give an amount above zero")


def _check_rate(field: str, rate: Decimal) -> None:
    if not rate.is_finite() or rate < 0:
        raise InvalidQuote(field, f"{rate} is not a rate; rates are zero or more")


def _check_share(field: str, share: Decimal) -> None:
    if not share.is_finite() or not 0 <= share <= 1:
        raise InvalidQuote(field, f"{share:%} is not a share from 0% to 100%")


def _check_term(field: str, months: int, max_term_months: int) -> None:
    if max_term_months < 1:
        raise InvalidQuote("max_term_months", f"{max_term_months} must be 1 month or more")
    if not 1 <= months <= max_term_months:
        raise InvalidQuote(
            field,
            f"{months} months is outside 1 to {max_term_months} months (the maximum term;"
            " personalised instalment agreements for cards are capped at 5 years)",
        )
