"""Repayment quotes are exact to the fen and follow the calendar (worked examples, then properties)."""

from __future__ import annotations

import functools
import itertools
import random
from datetime import date
from decimal import Decimal

import holidays
import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.arrangements.quote import (
    Component,
    InstallmentQuote,
    InvalidQuote,
    Method,
    Schedule,
    monthly_burden_fen,
    quote_deferral,
    quote_installment,
    quote_settlement,
    quote_waiver,
)
from huancui.kit.calendar import holiday_name, next_working_day
from huancui.kit.money import parse_yuan, round_half_up

FIRST_DUE = date(2027, 1, 15)
RATE_18 = Decimal("0.18")


def plan(**overrides: object) -> InstallmentQuote:
    """12,000.00 at 18% a year over 12 months, equal instalments, unless overridden."""
    terms: dict[str, object] = {
        "principal_fen": 1_200_000,
        "months": 12,
        "first_due": FIRST_DUE,
        "annual_rate": RATE_18,
    }
    terms.update(overrides)
    return quote_installment(**terms)  # type: ignore[arg-type]


def payments(schedule: Schedule) -> list[int]:
    return [line.payment_fen for line in schedule.lines]


# ---------------------------------------------------------------- worked examples


def test_equal_installment_of_12000_at_18_percent_is_1100_16_a_month() -> None:
    quote = plan(method=Method.EQUAL_INSTALLMENT)
    assert payments(quote.schedule)[:11] == [110_016] * 11
    assert quote.schedule.monthly_payment_fen == 110_016
    last = quote.schedule.lines[-1]
    # The last instalment absorbs what rounding left: its principal is the remaining balance.
    assert (last.principal_fen, last.interest_fen, last.payment_fen) == (108_393, 1_626, 110_019)
    assert quote.schedule.total_principal_fen == 1_200_000
    assert quote.schedule.lines[0].interest_fen == 18_000


def test_equal_principal_of_12000_at_18_percent() -> None:
    quote = plan(method=Method.EQUAL_PRINCIPAL)
    lines = quote.schedule.lines
    assert [line.principal_fen for line in lines] == [100_000] * 12
    assert lines[0].interest_fen == 18_000 and lines[0].payment_fen == 118_000
    assert quote.schedule.total_interest_fen == 117_000
    assert monthly_burden_fen(quote) == 118_000


def test_equal_principal_puts_the_remainder_on_the_last_instalment() -> None:
    quote = plan(principal_fen=100_000, months=3, method=Method.EQUAL_PRINCIPAL)
    assert [line.principal_fen for line in quote.schedule.lines] == [33_333, 33_333, 33_334]


def test_a_monthly_fee_rate_is_a_flat_fee_with_equal_principal() -> None:
    quote = plan(annual_rate=None, monthly_fee_rate=Decimal("0.006"))
    assert quote.method is Method.EQUAL_PRINCIPAL
    assert {
        (line.principal_fen, line.interest_fen, line.fee_fen) for line in quote.schedule.lines
    } == {(100_000, 0, 7_200)}
    assert quote.schedule.total_fees_fen == 86_400
    assert quote.as_json()["totals"]["total_paid"] == "12864.00"


def test_a_down_payment_is_line_0_on_the_start_date_and_the_rest_is_financed() -> None:
    quote = plan(down_payment_fen=200_000, start=date(2026, 12, 20))
    down, first = quote.schedule.lines[:2]
    assert (down.number, down.due_date, down.payment_fen, down.balance_after_fen) == (
        0,
        date(2026, 12, 20),
        200_000,
        1_000_000,
    )
    assert first.interest_fen == 15_000  # 1.5% of the 10,000.00 financed
    assert quote.schedule.total_principal_fen == 1_200_000
    assert monthly_burden_fen(quote) < 200_000  # the down payment is not a monthly burden


def test_half_a_fen_of_interest_rounds_up() -> None:
    # 0.30 yuan at 20% a year: 30 × 0.2 / 12 = 0.5 fen exactly (0.2 / 12 does not terminate).
    quote = plan(principal_fen=30, months=1, annual_rate=Decimal("0.20"))
    assert quote.schedule.lines[0].interest_fen == 1


def test_a_zero_rate_charges_no_interest() -> None:
    quote = plan(principal_fen=100_000, months=3, annual_rate=Decimal(0))
    assert payments(quote.schedule) == [33_333, 33_333, 33_334]
    assert quote.schedule.total_interest_fen == 0


def test_json_gives_amounts_as_two_decimal_strings() -> None:
    data = plan().as_json()
    assert data["annual_rate"] == "0.18" and data["monthly_fee_rate"] is None
    assert data["lines"][0] == {
        "number": 1,
        "due_date": "2027-01-15",
        "principal": "920.16",
        "interest": "180.00",
        "fee": "0.00",
        "capitalised": "0.00",
        "payment": "1100.16",
        "balance_after": "11079.84",
    }
    assert data["totals"]["total_interest"] == "1201.95"
    assert data["totals"]["monthly_payment"] == "1100.16"


# ---------------------------------------------------------------- numpy-financial cross-check

_draw = random.Random(2027)
CASES = [
    (_draw.randint(10_000, 100_000_000), months, Decimal(_draw.randint(1, 3_600)) / 10_000)
    for months in (1, 2, 3, 6, 9, 12, 12, 18, 24, 36, 48, 60)
]


@pytest.mark.parametrize(("principal", "months", "annual_rate"), CASES)
def test_equal_installment_agrees_with_numpy_financial(
    principal: int, months: int, annual_rate: Decimal
) -> None:
    quote = plan(principal_fen=principal, months=months, annual_rate=annual_rate)
    lines = quote.schedule.lines
    rate = float(annual_rate) / 12
    level = lines[0].payment_fen
    if months > 1:
        assert abs(level - npf.pmt(rate, months, -principal)) <= 0.5 + 1e-6
    # Each month's interest is within a fen of the exact interest on the balance that paying the
    # rounded instalment leaves (numpy-financial's future value).
    for line in lines:
        balance = npf.fv(rate, line.number - 1, level, -principal)
        assert abs(line.interest_fen - rate * balance) <= 1
    if months <= 12:
        # Over a year the rounded schedule stays within a fen of the unrounded one (ipmt); over
        # longer terms the half fen of the rounded instalment compounds, and the last line absorbs it.
        exact = npf.ipmt(rate, np.arange(1, months + 1), months, -principal)
        assert np.all(np.abs(np.array([line.interest_fen for line in lines]) - exact) <= 1)


# ---------------------------------------------------------------- due dates


def test_due_dates_keep_the_day_of_month_or_the_months_last_day() -> None:
    quote = plan(first_due=date(2027, 12, 31), months=4)
    assert [line.due_date for line in quote.schedule.lines] == [
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
    ]


def test_a_due_date_in_the_national_day_holiday_moves_to_the_next_working_day() -> None:
    moved = plan(first_due=date(2026, 10, 1), holiday_country="CN")
    fixed = plan(first_due=date(2026, 10, 1))
    assert moved.schedule.lines[0].due_date == date(2026, 10, 8)
    assert moved.schedule.lines[1].due_date == date(2026, 11, 2)  # 1 November 2026 is a Sunday
    # The move changes dates only: interest is per month and paying on the moved day is on time.
    assert payments(moved.schedule) == payments(fixed.schedule)


def test_next_working_day_keeps_a_moved_working_saturday() -> None:
    assert next_working_day(date(2026, 10, 10), "CN") == date(2026, 10, 10)  # 调休 Saturday
    assert next_working_day(date(2026, 10, 4), "CN") == date(2026, 10, 8)  # Sunday in the block
    assert next_working_day(date(2027, 1, 16), "CN") == date(2027, 1, 18)  # ordinary Saturday
    assert next_working_day(date(2026, 12, 31), "CN") == date(2026, 12, 31)


def test_an_unknown_holiday_country_names_the_field() -> None:
    with pytest.raises(InvalidQuote, match="holiday_country: no public-holiday calendar"):
        plan(holiday_country="XX")


# ---------------------------------------------------------------- refused inputs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"months": 61}, "months: 61 months is outside 1 to 60 months"),
        ({"months": 0}, "months: 0 months is outside 1 to 60"),
        ({"months": 72, "max_term_months": 48}, "outside 1 to 48 months"),
        ({"principal_fen": -1}, "principal_fen: -0.01 is negative"),
        ({"principal_fen": 0}, "principal_fen: 0.00 leaves nothing to pay"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate: -0.01 is not a rate"),
        ({"monthly_fee_rate": Decimal("0.006")}, "exactly one of an annual rate and a monthly fee"),
        ({"annual_rate": None}, "exactly one of an annual rate and a monthly fee"),
        ({"down_payment_fen": 1_200_000}, "down_payment_fen: 12000.00 leaves nothing"),
        ({"start": FIRST_DUE}, "start: 2027-01-15 is not before the first due date"),
        (
            {
                "annual_rate": None,
                "monthly_fee_rate": Decimal("0.006"),
                "method": Method.EQUAL_INSTALLMENT,
            },
            "method: a monthly fee rate is charged with equal principal",
        ),
    ],
)
def test_refused_instalment_plans_say_what_is_wrong(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan(**overrides)


def test_a_longer_maximum_term_allows_a_longer_plan() -> None:
    assert len(plan(months=72, max_term_months=72).schedule.lines) == 72


# ---------------------------------------------------------------- instalment properties

principals = st.integers(min_value=1, max_value=10**10)
annual_rates = st.integers(min_value=0, max_value=3_600).map(lambda bp: Decimal(bp) / 10_000)
fee_rates = st.integers(min_value=0, max_value=200).map(lambda bp: Decimal(bp) / 10_000)
due_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def installment_plans(draw: st.DrawFn) -> InstallmentQuote:
    principal = draw(principals)
    by_fee = draw(st.booleans())
    return quote_installment(
        principal_fen=principal,
        months=draw(st.integers(min_value=1, max_value=60)),
        first_due=draw(due_days),
        annual_rate=None if by_fee else draw(annual_rates),
        monthly_fee_rate=draw(fee_rates) if by_fee else None,
        method=None if by_fee else draw(st.sampled_from(Method)),
        down_payment_fen=draw(st.integers(min_value=0, max_value=principal - 1)),
        holiday_country=draw(st.sampled_from([None, "CN"])),
    )


AMOUNTS = ("principal", "interest", "fee", "capitalised", "payment", "balance_after")


def assert_lines_add_up(schedule: Schedule) -> None:
    """Every line, as the JSON shows it: payment = principal + interest + fee, nothing negative."""
    for line in schedule.lines:
        amounts = {key: parse_yuan(text) for key, text in line.as_json().items() if key in AMOUNTS}
        assert amounts["payment"] == amounts["principal"] + amounts["interest"] + amounts["fee"]
        assert min(amounts.values()) >= 0
    totals = schedule.totals_json()
    assert parse_yuan(totals["total_paid"]) == sum(
        parse_yuan(totals[key]) for key in ("total_principal", "total_interest", "total_fees")
    )


@functools.cache
def calendar_of(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def assert_working_days(days: list[date], country: str) -> None:
    for day in days:
        calendar = calendar_of(country, day.year)
        weekend_off = day.weekday() >= 5 and day not in calendar.weekend_workdays
        assert holiday_name(day, country) is None and not weekend_off, day


# The first look-up of a year's holiday calendar takes a few hundred ms (cached afterwards).
@settings(deadline=None)
@given(installment_plans())
def test_an_instalment_plan_repays_exactly_the_principal(quote: InstallmentQuote) -> None:
    schedule = quote.schedule
    assert schedule.total_principal_fen == quote.principal_fen
    assert schedule.lines[-1].balance_after_fen == 0
    assert_lines_add_up(schedule)
    balances = [quote.principal_fen] + [line.balance_after_fen for line in schedule.lines]
    assert balances == sorted(balances, reverse=True)
    days = [line.due_date for line in schedule.lines]
    assert days == sorted(set(days))
    if quote.holiday_country:
        assert_working_days(days, quote.holiday_country)


@given(
    principal=st.integers(min_value=10_000, max_value=10**10),
    months=st.integers(min_value=2, max_value=60),
    annual_rate=annual_rates,
)
def test_equal_installment_is_the_same_every_month_but_the_last(
    principal: int, months: int, annual_rate: Decimal
) -> None:
    quote = plan(principal_fen=principal, months=months, annual_rate=annual_rate)
    assert len(set(payments(quote.schedule)[:-1])) == 1


# ---------------------------------------------------------------- deferral


def test_a_deferral_not_capitalised_pays_interest_only_during_the_holiday() -> None:
    quote = quote_deferral(
        principal_fen=1_000_000, annual_rate=RATE_18, remaining_months=10, holiday_months=3,
        first_due=FIRST_DUE, capitalise=False,
    )  # fmt: skip
    holiday = quote.schedule.lines[:3]
    assert [(line.principal_fen, line.payment_fen) for line in holiday] == [(0, 15_000)] * 3
    after = quote.schedule.lines[3:]
    assert [line.due_date for line in after][:2] == [date(2027, 4, 15), date(2027, 5, 15)]
    # Afterwards the original schedule, three months later: the holiday's interest is the extra.
    assert payments(Schedule(after)) == payments(quote.without_deferral)
    assert quote.extra_cost_fen == 45_000
    assert quote.as_json()["extra_cost"] == "450.00"


def test_a_capitalised_deferral_adds_the_holidays_interest_to_the_balance() -> None:
    quote = quote_deferral(
        principal_fen=1_000_000, annual_rate=RATE_18, remaining_months=10, holiday_months=2,
        first_due=FIRST_DUE, capitalise=True,
    )  # fmt: skip
    first, second = quote.schedule.lines[:2]
    assert (first.payment_fen, first.capitalised_fen, first.balance_after_fen) == (
        0,
        15_000,
        1_015_000,
    )
    assert (second.capitalised_fen, second.balance_after_fen) == (15_225, 1_030_225)  # compounds
    assert quote.schedule.total_principal_fen == 1_030_225
    assert quote.as_json()["totals"]["total_capitalised"] == "302.25"


def test_a_deferral_must_fit_the_maximum_term() -> None:
    with pytest.raises(InvalidQuote, match=r"holiday_months: 6 months.*60-month maximum term"):
        quote_deferral(
            principal_fen=1_000_000, annual_rate=RATE_18, remaining_months=55, holiday_months=6,
            first_due=FIRST_DUE, capitalise=False,
        )  # fmt: skip


# The first look-up of a year's holiday calendar takes a few hundred ms (cached afterwards).
@settings(deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**10),
    annual_rate=annual_rates,
    remaining_months=st.integers(min_value=1, max_value=48),
    holiday_months=st.integers(min_value=1, max_value=12),
    method=st.sampled_from(Method),
    first_due=due_days,
    country=st.sampled_from([None, "CN"]),
)
def test_a_deferral_repays_the_balance_and_capitalising_costs_more(
    principal: int,
    annual_rate: Decimal,
    remaining_months: int,
    holiday_months: int,
    method: Method,
    first_due: date,
    country: str | None,
) -> None:
    quotes = {
        capitalise: quote_deferral(
            principal_fen=principal, annual_rate=annual_rate, remaining_months=remaining_months,
            holiday_months=holiday_months, first_due=first_due, capitalise=capitalise,
            method=method, holiday_country=country,
        )
        for capitalise in (True, False)
    }  # fmt: skip
    for quote in quotes.values():
        schedule = quote.schedule
        assert schedule.total_principal_fen == principal + schedule.total_capitalised_fen
        assert schedule.lines[-1].balance_after_fen == 0
        assert all(line.principal_fen == 0 for line in schedule.lines[:holiday_months])
        assert_lines_add_up(schedule)
        days = [line.due_date for line in schedule.lines]
        assert days == sorted(set(days))
        if country:
            assert_working_days(days, country)
    # Not capitalised, the rest of the schedule is the original one: the holiday's interest is
    # exactly the extra cost.
    month_interest = round_half_up(principal * annual_rate / 12)
    assert quotes[False].extra_cost_fen == holiday_months * month_interest
    # Capitalised, interest is charged on interest. Each schedule rounds its own lines, so on a
    # few yuan, or at a rate near zero, capitalising can come out a fen or so cheaper: allow a fen
    # per remaining instalment (the worked examples show the real difference).
    gap = quotes[True].schedule.total_paid_fen - quotes[False].schedule.total_paid_fen
    assert gap >= -remaining_months


def test_capitalising_a_realistic_deferral_costs_more_than_paying_the_interest() -> None:
    terms = {"principal_fen": 1_000_000, "annual_rate": RATE_18, "remaining_months": 10,
             "holiday_months": 3, "first_due": FIRST_DUE}  # fmt: skip
    capitalised = quote_deferral(capitalise=True, **terms)  # type: ignore[arg-type]
    paid = quote_deferral(capitalise=False, **terms)  # type: ignore[arg-type]
    assert (capitalised.extra_cost_fen, paid.extra_cost_fen) == (49_532, 45_000)


# ---------------------------------------------------------------- waiver


def test_a_waiver_by_amount_takes_penalty_interest_then_fees_then_interest() -> None:
    quote = quote_waiver(
        penalty_interest_fen=30_000, interest_fen=120_000, fees_fen=5_000, principal_fen=1_000_000,
        amount_fen=40_000,
    )  # fmt: skip
    waived = {line.component: line.reduced_fen for line in quote.lines}
    assert waived == {
        Component.PENALTY_INTEREST: 30_000,
        Component.FEES: 5_000,
        Component.INTEREST: 5_000,
        Component.PRINCIPAL: 0,
    }
    data = quote.as_json()
    assert (data["customer_saves"], data["bank_forgoes"]) == ("400.00", "400.00")
    assert (data["amount_due_before"], data["amount_due_after"]) == ("11550.00", "11150.00")
    assert data["lines"][2] == {
        "component": "interest", "before": "1200.00", "waived": "50.00", "after": "1150.00"
    }  # fmt: skip


def test_a_waiver_by_share_rounds_each_component_half_up() -> None:
    quote = quote_waiver(
        penalty_interest_fen=30_001, interest_fen=120_000, fees_fen=5_001,
        components=[Component.PENALTY_INTEREST, Component.FEES], share=Decimal("0.5"),
    )  # fmt: skip
    assert [line.reduced_fen for line in quote.lines] == [15_001, 2_501, 0, 0]
    assert quote.customer_saves_fen == quote.bank_forgoes_fen == 17_502


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"components": [Component.PRINCIPAL], "share": Decimal(1)}, "principal is never waived"),
        ({"components": [], "share": Decimal(1)}, "components: choose what to waive"),
        ({"share": Decimal("1.01")}, "share: 101% is not a share from 0% to 100%"),
        (
            {"amount_fen": 15_501},
            "155.01 is more than the 155.00 of penalty_interest, fees, interest that may be",
        ),
        ({"amount_fen": 1, "share": Decimal("0.1")}, "exactly one of an amount and a share"),
        ({"amount_fen": -1}, "amount_fen: -0.01 is negative"),
    ],
)
def test_refused_waivers_say_what_is_wrong(terms: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidQuote, match=message):
        quote_waiver(penalty_interest_fen=3_000, interest_fen=12_000, fees_fen=500, **terms)  # type: ignore[arg-type]


amounts = st.integers(min_value=0, max_value=10**9)
waivable = st.lists(
    st.sampled_from([Component.PENALTY_INTEREST, Component.FEES, Component.INTEREST]),
    min_size=1,
    unique=True,
)
shares = st.integers(min_value=0, max_value=10_000).map(lambda bp: Decimal(bp) / 10_000)


@given(
    balances=st.tuples(amounts, amounts, amounts, amounts),
    components=waivable,
    by_share=st.booleans(),
    share=shares,
    data=st.data(),
)
def test_a_waiver_never_touches_principal_and_saves_what_the_bank_forgoes(
    balances: tuple[int, int, int, int],
    components: list[Component],
    by_share: bool,
    share: Decimal,
    data: st.DataObject,
) -> None:
    penalty, fees, interest, principal = balances
    chosen = {
        Component.PENALTY_INTEREST: penalty,
        Component.FEES: fees,
        Component.INTEREST: interest,
    }
    available = sum(chosen[c] for c in components)
    amount = None if by_share else data.draw(st.integers(min_value=0, max_value=available))
    quote = quote_waiver(
        penalty_interest_fen=penalty, interest_fen=interest, fees_fen=fees,
        principal_fen=principal, components=components, amount_fen=amount,
        share=share if by_share else None,
    )  # fmt: skip
    for line in quote.lines:
        assert 0 <= line.reduced_fen <= line.before_fen
        assert line.after_fen == line.before_fen - line.reduced_fen
        if line.component not in components:
            assert line.reduced_fen == 0
    assert quote.customer_saves_fen == quote.bank_forgoes_fen
    assert quote.amount_due_after_fen == quote.amount_due_before_fen - quote.customer_saves_fen
    assert quote.amount_due_before_fen == sum(balances)
    if amount is not None:
        assert quote.customer_saves_fen == amount
        # In order: a later component is waived only once the earlier chosen ones are cleared.
        waived = [line for line in quote.lines if line.component in components]
        for earlier, later in itertools.pairwise(waived):
            assert later.reduced_fen == 0 or earlier.after_fen == 0


# ---------------------------------------------------------------- settlement


def test_a_settlement_discount_comes_off_penalty_fees_and_interest_before_principal() -> None:
    quote = quote_settlement(
        principal_fen=1_000_000, interest_fen=80_000, fees_fen=10_000, penalty_interest_fen=30_000,
        discount_share=Decimal("0.2"), deadline=date(2026, 12, 31),
    )  # fmt: skip
    assert [line.after_fen for line in quote.lines] == [0, 0, 0, 896_000]
    assert quote.as_json() | {"lines": None} == {
        "arrangement": "settlement",
        "deadline": "2026-12-31",
        "lines": None,
        "balance": "11200.00",
        "discount": "2240.00",
        "discount_share": "0.2000",
        "lump_sum": "8960.00",
    }


def test_a_settlement_for_a_lump_sum_reports_the_discount_share_to_four_places() -> None:
    quote = quote_settlement(
        principal_fen=300_000, interest_fen=0, fees_fen=0, penalty_interest_fen=0,
        lump_sum_fen=200_000, deadline=date(2026, 10, 1), holiday_country="CN",
    )  # fmt: skip
    assert (quote.discount_fen, quote.discount_share) == (100_000, Decimal("0.3333"))
    assert quote.deadline == date(2026, 10, 8)  # the deadline follows the calendar too


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"discount_share": Decimal("1.2")}, "discount_share: 120% is not a share"),
        ({"lump_sum_fen": 1_100_01}, "lump_sum_fen: 1100.01 is more than the balance 1100.00"),
        ({}, "exactly one of a discount share and a lump sum"),
    ],
)
def test_refused_settlements_say_what_is_wrong(terms: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidQuote, match=message):
        quote_settlement(
            principal_fen=100_000, interest_fen=10_000, fees_fen=0, penalty_interest_fen=0,
            deadline=date(2026, 12, 31), **terms,  # type: ignore[arg-type]
        )  # fmt: skip


@given(balances=st.tuples(amounts, amounts, amounts, amounts), share=shares, data=st.data())
def test_a_settlement_lump_sum_and_discount_make_up_the_balance(
    balances: tuple[int, int, int, int], share: Decimal, data: st.DataObject
) -> None:
    principal, interest, fees, penalty = balances
    total = sum(balances)
    if total == 0:
        return
    by_share = data.draw(st.booleans())
    lump_sum = None if by_share else data.draw(st.integers(min_value=0, max_value=total))
    quote = quote_settlement(
        principal_fen=principal, interest_fen=interest, fees_fen=fees, penalty_interest_fen=penalty,
        deadline=date(2026, 12, 31), discount_share=share if by_share else None,
        lump_sum_fen=lump_sum,
    )  # fmt: skip
    assert quote.lump_sum_fen + quote.discount_fen == quote.balance_fen == total
    assert quote.lump_sum_fen >= 0 and all(line.after_fen >= 0 for line in quote.lines)
    if by_share:
        assert quote.discount_fen == round_half_up(total * share)
    else:
        assert quote.lump_sum_fen == lump_sum
    assert abs(quote.discount_share - Decimal(quote.discount_fen) / total) <= Decimal("0.00005")
    principal_line = quote.lines[-1]
    if principal_line.reduced_fen > 0:
        assert all(line.after_fen == 0 for line in quote.lines[:-1])
