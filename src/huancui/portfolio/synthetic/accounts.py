"""Accounts of the fake customers: product terms, open dates and the calendar of their dues.

Cards get a statement day and a due date `card_grace_days` later; loans fall due on the day of the
month they were paid out. Every account was opened before the history window starts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from huancui.portfolio.synthetic.parameters import WorldParameters
from huancui.portfolio.synthetic.schedule import iterate_schedule

CARD_NAMES = ("白金信用卡", "金卡", "标准信用卡", "标准信用卡", "青春信用卡")  # by grade A..E
LOAN_NAMES = ("个人消费贷", "薪享贷", "装修分期贷")
PRODUCT_NAMES = CARD_NAMES + LOAN_NAMES
EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class Calendar:
    """The history window: `months` dues up to the as-of date, then `extra` later periods."""

    as_of_day: int  # days since 1970-01-01
    months: int
    extra: int

    @property
    def periods(self) -> int:
        return self.months + self.extra

    @property
    def as_of_month(self) -> int:
        day = np.datetime64(self.as_of_day, "D")
        return int(day.astype("datetime64[M]").astype(np.int64))


def day_number(date: datetime.date) -> int:
    return (date - EPOCH).days


def month_day(month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970 of day `day` (1..28) of month `month` (months since 1970-01)."""
    first = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + day.astype(np.int64) - 1


@dataclass(frozen=True)
class AccountBook:
    """One block of accounts: terms, calendar and (for loans) the contractual schedule."""

    customer: np.ndarray  # block-local customer index
    is_card: np.ndarray
    open_day: np.ndarray
    credit_limit_fen: np.ndarray  # 0 for loans
    loan_amount_fen: np.ndarray  # 0 for cards
    term_months: np.ndarray  # 0 for cards
    rate_bp: np.ndarray
    product_name: np.ndarray  # index into PRODUCT_NAMES
    first_period: np.ndarray  # period number of history month 0
    statement_day: np.ndarray  # (accounts, periods); -1 for loans
    due_day: np.ndarray  # (accounts, periods)
    in_term: np.ndarray  # (accounts, periods): a contractual instalment exists (cards: True)
    scheduled_principal: np.ndarray  # (accounts, periods); 0 for cards
    scheduled_interest: np.ndarray
    opening_principal: np.ndarray  # principal at the start of the window
    spend_share: np.ndarray  # cards: monthly spend as share of the limit
    transactor: np.ndarray  # cards: pays statements in full when able
    autopay: np.ndarray


def open_accounts(
    rng: np.random.Generator,
    *,
    customer: np.ndarray,
    grade: np.ndarray,
    ability: np.ndarray,
    income_fen: np.ndarray,
    calendar: Calendar,
    params: WorldParameters,
) -> AccountBook:
    """Draw product terms for accounts whose owners' grade, ability and income are given."""
    n = int(customer.shape[0])
    is_card = rng.random(n) < params.card_share
    term = np.where(
        is_card,
        0,
        rng.choice(params.loan_terms_months, size=n, p=np.array(params.loan_term_weights)),
    )
    rate = np.where(
        is_card, params.card_annual_rate_bp, _loan_rate(rng, grade=grade, params=params)
    )
    limit = np.where(is_card, _credit_limit(rng, grade=grade, income_fen=income_fen), 0)
    amount = np.where(is_card, 0, _loan_amount(rng, income_fen=income_fen))
    day_of_month = rng.integers(1, 29, size=n)
    statement, due, last_month = _due_calendar(
        is_card=is_card, day_of_month=day_of_month, calendar=calendar, params=params
    )
    first_month = last_month - (calendar.months - 1)
    paid_before = np.where(is_card, 0, rng.integers(0, np.maximum(term, 1)))
    card_age = rng.integers(3, 121, size=n)
    open_day = np.where(
        is_card,
        month_day(first_month - card_age, rng.integers(1, 29, size=n)),
        month_day(first_month - paid_before - 1, day_of_month),
    )
    window = _loan_window(
        amount=amount, rate=rate, term=term, paid_before=paid_before, calendar=calendar
    )
    transactor = rng.random(n) < _sigmoid(
        params.transactor_intercept + params.transactor_ability_slope * ability
    )
    return AccountBook(
        customer=customer,
        is_card=is_card,
        open_day=open_day,
        credit_limit_fen=limit,
        loan_amount_fen=amount,
        term_months=term,
        rate_bp=rate,
        product_name=np.where(
            is_card, grade, len(CARD_NAMES) + rng.integers(0, len(LOAN_NAMES), size=n)
        ),
        first_period=np.where(is_card, card_age, paid_before + 1),
        statement_day=statement,
        due_day=due,
        in_term=window[0],
        scheduled_principal=window[1],
        scheduled_interest=window[2],
        opening_principal=np.where(is_card, 0, window[3]),
        spend_share=rng.uniform(*params.card_spend_share_range, size=n),
        transactor=is_card & transactor,
        autopay=rng.random(n) < params.autopay_share,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _loan_rate(
    rng: np.random.Generator, *, grade: np.ndarray, params: WorldParameters
) -> np.ndarray:
    base = np.array(params.loan_rate_bp_by_grade, dtype=np.int64)[grade]
    rate: np.ndarray = base + 5 * rng.integers(-10, 11, size=int(grade.shape[0]))
    return rate


def _credit_limit(
    rng: np.random.Generator, *, grade: np.ndarray, income_fen: np.ndarray
) -> np.ndarray:
    grade_factor: np.ndarray = np.array([1.6, 1.3, 1.0, 0.8, 0.6])[grade]
    yuan = income_fen / 100 * rng.uniform(1.5, 6.0, size=int(grade.shape[0])) * grade_factor
    limit: np.ndarray = (np.clip(np.round(yuan / 1000), 3, 300) * 100_000).astype(np.int64)
    return limit


def _loan_amount(rng: np.random.Generator, *, income_fen: np.ndarray) -> np.ndarray:
    yuan: np.ndarray = income_fen / 100 * rng.uniform(3.0, 20.0, size=int(income_fen.shape[0]))
    return (np.clip(np.round(yuan / 1000), 5, 500) * 1000 * 100).astype(np.int64)


def _due_calendar(
    *, is_card: np.ndarray, day_of_month: np.ndarray, calendar: Calendar, params: WorldParameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Statement and due days per period, with the last history due on or before the as-of date."""
    grace = np.where(is_card, params.card_grace_days, 0)
    last_month = np.full(is_card.shape[0], calendar.as_of_month - 3, dtype=np.int64)
    # Walk back from the as-of month; the first month whose due date has passed is the last.
    for back in (2, 1, 0):
        month = np.full_like(last_month, calendar.as_of_month - back)
        passed = month_day(month, day_of_month) + grace <= calendar.as_of_day
        last_month = np.where(passed, month, last_month)
    months = last_month[:, None] - (calendar.months - 1) + np.arange(calendar.periods)
    anchor = month_day(months, np.broadcast_to(day_of_month[:, None], months.shape))
    statement = np.where(is_card[:, None], anchor, -1)
    return statement, anchor + grace[:, None], last_month


def _loan_window(
    *,
    amount: np.ndarray,
    rate: np.ndarray,
    term: np.ndarray,
    paid_before: np.ndarray,
    calendar: Calendar,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The part of each loan's schedule that falls inside the window, and the opening principal."""
    n, periods = amount.shape[0], calendar.periods
    in_term = np.ones((n, periods), dtype=bool)
    principal = np.zeros((n, periods), dtype=np.int64)
    interest = np.zeros((n, periods), dtype=np.int64)
    opening = np.zeros(n, dtype=np.int64)
    loans = np.flatnonzero(term > 0)
    instalment_no = paid_before[loans, None] + 1 + np.arange(periods)
    in_term[loans] = instalment_no <= term[loans, None]
    for period, principal_part, interest_part, balance in iterate_schedule(
        principal_fen=amount[loans], annual_rate_bp=rate[loans], term_months=term[loans]
    ):
        column = period - paid_before[loans] - 1
        inside = (column >= 0) & (column < periods)
        rows = loans[inside]
        principal[rows, column[inside]] = principal_part[inside]
        interest[rows, column[inside]] = interest_part[inside]
        starts_here = column == 0
        opening[loans[starts_here]] = balance[starts_here]
    return in_term, principal, interest, opening
