"""Month-by-month history of every account: statements and instalments fall due, customers pay in
full, partly, late or not at all, arrears build up, and long arrears are charged off.

Payments settle the oldest unpaid due first; paying more than is due lowers the balance but is no
credit against later dues. Everything is vectorised over accounts; only months are looped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from huancui.portfolio.synthetic.accounts import AccountBook, Calendar
from huancui.portfolio.synthetic.parameters import WorldParameters
from huancui.portfolio.synthetic.schedule import monthly_interest
from huancui.portfolio.synthetic.world import Outcome, draw_outcomes, outcome_cutpoints

NO_DAY = -1
OPEN, CLOSED, CHARGED_OFF = 0, 1, 2
STATUS_CODES = ("open", "closed", "charged_off")
PAYMENT_CHANNELS = ("app", "bank_transfer", "counter", "autopay", "agency", "other")
_APP, _AUTOPAY, _AGENCY = 0, 3, 4
_CHANNEL_WEIGHTS = np.array([0.60, 0.25, 0.08, 0.0, 0.0, 0.07])
# Month outcomes as the truth tables spell them.
OUTCOME_LABELS = (
    "none", "partial", "paid_late", "paid_on_time",  # current accounts
    "none_in_arrears", "partial_in_arrears", "kept_pace", "cured",  # accounts in arrears
    "no_due", "charged_off", "recovery",
)  # fmt: skip
_IN_ARREARS, _NO_DUE, _CHARGED_OFF, _RECOVERY = 4, 8, 9, 10


@dataclass(frozen=True)
class History:
    """Everything the month loop produced for one block of accounts."""

    # dues, (accounts, periods)
    due_emitted: np.ndarray
    due_principal: np.ndarray
    due_interest: np.ndarray
    due_fee: np.ndarray
    statement_balance: np.ndarray
    # payments, (accounts, months); amount 0 means no payment
    paid_amount: np.ndarray
    paid_day: np.ndarray
    paid_channel: np.ndarray
    # the world's own state per month, (accounts, months)
    bucket: np.ndarray
    outcome: np.ndarray
    arrears_after: np.ndarray
    balance_after: np.ndarray
    status_after: np.ndarray
    ability_effective: np.ndarray
    days_past_due_at_due: np.ndarray
    # when the oldest unpaid due fell due, for the contact history, (accounts, months)
    oldest_at_due: np.ndarray
    oldest_after: np.ndarray
    late_day: np.ndarray
    on_time_day: np.ndarray
    # state at the as-of date, (accounts,)
    principal: np.ndarray
    interest: np.ndarray
    fees: np.ndarray
    status: np.ndarray
    charge_off_day: np.ndarray
    charge_off_balance: np.ndarray
    oldest_unpaid_day: np.ndarray
    unpaid: np.ndarray


def round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def oldest_unpaid(unpaid: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    """Due day of the first column still unpaid, or NO_DAY."""
    owing = unpaid > 0
    if owing.shape[1] == 0:
        return np.full(unpaid.shape[0], NO_DAY, dtype=np.int64)
    first = owing.argmax(axis=1)
    day = np.take_along_axis(due_day, first[:, None], axis=1)[:, 0]
    return np.where(owing.any(axis=1), day, NO_DAY)


class _Ledger:
    """Mutable balances of one block while the months are played; internal to this module."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        book: AccountBook,
        calendar: Calendar,
        params: WorldParameters,
    ) -> None:
        n = int(book.is_card.shape[0])
        self.book, self.calendar, self.params = book, calendar, params
        limit = book.credit_limit_fen
        revolving = round_half_up(limit * rng.uniform(0.10, 0.70, size=n))
        one_month = round_half_up(limit * book.spend_share)
        card_start = np.where(book.transactor, one_month, revolving)
        self.principal = np.where(book.is_card, card_start, book.opening_principal)
        self.interest = np.zeros(n, dtype=np.int64)
        self.fees = np.zeros(n, dtype=np.int64)
        self.unpaid = np.zeros((n, calendar.months), dtype=np.int64)
        self.status = np.zeros(n, dtype=np.int8)
        self.revolved = book.is_card & ~book.transactor
        self.shortfall = np.zeros(n, dtype=np.int64)  # unpaid at the last due date
        self.late_days = np.zeros(n, dtype=np.int64)  # days that shortfall stayed unpaid
        self.charge_off_day = np.full(n, NO_DAY, dtype=np.int64)
        self.charge_off_balance = np.zeros(n, dtype=np.int64)

    @property
    def balance(self) -> np.ndarray:
        return np.asarray(self.principal + self.interest + self.fees)

    def charge_off(self, *, t: int, check_day: np.ndarray) -> None:
        oldest = oldest_unpaid(self.unpaid[:, :t], self.book.due_day[:, :t])
        limit = np.where(
            self.book.is_card, self.params.card_charge_off_days, self.params.loan_charge_off_days
        )
        hit = (self.status == OPEN) & (oldest != NO_DAY) & (check_day - oldest >= limit)
        self.status[hit] = CHARGED_OFF
        self.charge_off_day[hit] = check_day[hit]
        self.charge_off_balance[hit] = self.balance[hit]

    def issue_card_statement(
        self, rng: np.random.Generator, *, t: int, mask: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Bill interest, late fee and new spending; return the new minimum payment's parts."""
        book, params = self.book, self.params
        live = mask & book.is_card & (self.status == OPEN)
        fee = np.where(live, round_half_up(self.shortfall * params.card_late_fee_share), 0)
        charged = monthly_interest(balance_fen=self.principal, annual_rate_bp=book.rate_bp)
        interest = np.where(live & self.revolved, charged, 0)
        blocked = (self.unpaid[:, : min(t, self.calendar.months)] > 0).any(axis=1)
        spending = (
            live & ~blocked & (rng.random(int(live.shape[0])) < params.card_activity_probability)
        )
        wanted = book.credit_limit_fen * book.spend_share * rng.lognormal(-0.125, 0.5, live.shape)
        room = np.maximum(book.credit_limit_fen - self.principal, 0)
        self.principal += np.where(spending, np.minimum(round_half_up(wanted), room), 0)
        self.interest += interest
        self.fees += fee
        statement_balance = np.where(live, self.balance, 0)
        arrears = self.unpaid[:, :t].sum(axis=1)
        minimum = np.maximum(
            np.ceil(statement_balance * params.card_min_payment_share),
            params.card_min_payment_floor_fen,
        ).astype(np.int64)
        due = np.where(live, np.minimum(np.maximum(statement_balance - arrears, 0), minimum), 0)
        fee_due = np.minimum(due, fee)
        interest_due = np.minimum(due - fee_due, interest)
        emitted = live & (statement_balance > 0)
        return emitted, due - fee_due - interest_due, interest_due, fee_due, statement_balance

    def issue_loan_instalment(self, *, t: int, future: bool) -> tuple[np.ndarray, ...]:
        """Bill the scheduled instalment plus penalty interest on what was paid late or not."""
        book, params = self.book, self.params
        live = ~book.is_card & (self.status == OPEN)
        in_term = live & book.in_term[:, t]
        penalty_rate = book.rate_bp / 10_000 * params.loan_penalty_rate_multiplier
        penalty = round_half_up(self.shortfall * penalty_rate * self.late_days / 360)
        penalty = np.where(live & (not future), penalty, 0)
        principal_due = np.where(in_term, book.scheduled_principal[:, t], 0)
        interest_due = np.where(in_term, book.scheduled_interest[:, t], 0)
        if not future:
            self.interest += interest_due
            self.fees += penalty  # after the term ends it stays in outstanding_fees, unbilled
        fee_due = np.where(in_term, penalty, 0)
        return in_term, principal_due, interest_due, fee_due, np.zeros_like(principal_due)

    def pay(self, *, t: int, amount: np.ndarray) -> None:
        """Settle dues oldest first, then balances: fees, then interest, then principal."""
        owed = self.unpaid[:, : t + 1]
        left = np.maximum(np.cumsum(owed, axis=1) - amount[:, None], 0)
        self.unpaid[:, : t + 1] = np.minimum(owed, left)
        to_fees = np.minimum(amount, self.fees)
        to_interest = np.minimum(amount - to_fees, self.interest)
        self.fees -= to_fees
        self.interest -= to_interest
        self.principal -= amount - to_fees - to_interest
        self.revolved = np.where(self.book.is_card, self.balance > 0, self.revolved)


def simulate_history(
    rng: np.random.Generator,
    *,
    book: AccountBook,
    ability: np.ndarray,
    willingness: np.ndarray,
    shock: np.ndarray,
    calendar: Calendar,
    params: WorldParameters,
) -> History:
    """Play the history window month by month for one block of accounts.

    `ability` and `willingness` are per account (the owner's), `shock` is (accounts, months).
    """
    n, months, periods = int(book.is_card.shape[0]), calendar.months, calendar.periods
    ledger = _Ledger(rng, book=book, calendar=calendar, params=params)
    dues = {k: np.zeros((n, periods), dtype=np.int64) for k in ("p", "i", "f", "sb")}
    emitted = np.zeros((n, periods), dtype=bool)
    monthly = _MonthlyRecord(n=n, months=months)
    cutpoints = outcome_cutpoints(params)
    for t in range(periods):
        history_month = t < months
        card_now = history_month | (
            (t == months) & (book.statement_day[:, t] <= calendar.as_of_day)
        )
        # Checked before the month's payments can arrive: the statement date for cards, the
        # start of the on-time window for loans.
        loan_check = book.due_day[:, t] - params.on_time_window_days - 1
        check_day = np.where(book.is_card, book.statement_day[:, t], loan_check)
        if t <= months:
            ledger.charge_off(
                t=min(t, months), check_day=np.where(card_now | history_month, check_day, -(10**9))
            )
        card_parts = ledger.issue_card_statement(rng, t=min(t, months), mask=card_now)
        loan_parts = ledger.issue_loan_instalment(t=t, future=not history_month)
        parts = [
            np.where(book.is_card, c, lo) for c, lo in zip(card_parts, loan_parts, strict=True)
        ]
        emitted[:, t] = parts[0].astype(bool)
        for key, column in zip(("p", "i", "f", "sb"), parts[1:], strict=True):
            dues[key][:, t] = column
        if history_month:
            ledger.unpaid[:, t] = parts[1] + parts[2] + parts[3]
            _play_month(
                rng,
                t=t,
                ledger=ledger,
                record=monthly,
                ability=ability - shock[:, t],
                willingness=willingness,
                cutpoints=cutpoints,
            )
    return _finish(ledger, dues=dues, emitted=emitted, record=monthly)


@dataclass
class _MonthlyRecord:
    """Per-month arrays the loop fills in."""

    n: int
    months: int

    def __post_init__(self) -> None:
        shape = (self.n, self.months)
        self.paid_amount = np.zeros(shape, dtype=np.int64)
        self.paid_day = np.full(shape, NO_DAY, dtype=np.int64)
        self.paid_channel = np.zeros(shape, dtype=np.int8)
        self.bucket = np.zeros(shape, dtype=np.int8)
        self.outcome = np.zeros(shape, dtype=np.int8)
        self.arrears_after = np.zeros(shape, dtype=np.int64)
        self.balance_after = np.zeros(shape, dtype=np.int64)
        self.status_after = np.zeros(shape, dtype=np.int8)
        self.ability_effective = np.zeros(shape, dtype=np.float32)
        self.days_past_due_at_due = np.zeros(shape, dtype=np.int32)
        self.oldest_at_due = np.full(shape, NO_DAY, dtype=np.int64)
        self.oldest_after = np.full(shape, NO_DAY, dtype=np.int64)
        self.late_day = np.full(shape, NO_DAY, dtype=np.int64)
        self.on_time_day = np.full(shape, NO_DAY, dtype=np.int64)


def _play_month(
    rng: np.random.Generator,
    *,
    t: int,
    ledger: _Ledger,
    record: _MonthlyRecord,
    ability: np.ndarray,
    willingness: np.ndarray,
    cutpoints: np.ndarray,
) -> None:
    book, params, calendar = ledger.book, ledger.params, ledger.calendar
    n = int(book.is_card.shape[0])
    due_day = book.due_day[:, t]
    owed = ledger.unpaid[:, : t + 1]
    total_due = owed.sum(axis=1)
    bucket = (ledger.unpaid[:, :t] > 0).sum(axis=1)
    first = (owed > 0).argmax(axis=1)
    oldest_amount = np.take_along_axis(owed, first[:, None], axis=1)[:, 0]
    outcome = draw_outcomes(
        rng,
        bucket=bucket,
        ability=ability,
        willingness=willingness,
        shift=np.where(book.is_card, 0.0, params.loan_propensity_shift),
        cutpoints=cutpoints,
        params=params,
    )
    paying = (ledger.status == OPEN) & (total_due > 0)
    current = bucket == 0
    balance = ledger.balance
    amount = _amount(
        rng,
        outcome=outcome,
        current=current,
        total_due=total_due,
        this_due=ledger.unpaid[:, t],
        oldest_amount=oldest_amount,
        balance=balance,
        in_term=book.in_term[:, t],
        book=book,
        params=params,
    )
    amount = np.where(paying, amount, 0)
    recovering = (ledger.status == CHARGED_OFF) & (rng.random(n) < params.recovery_probability)
    recovery = round_half_up(balance * rng.uniform(*params.recovery_share_range, size=n))
    amount = np.minimum(np.where(recovering, recovery, amount), balance)
    late = paying & current & (outcome == Outcome.LATE_OR_KEEP_PACE)
    autopaid = paying & current & (outcome == Outcome.FULL_OR_CURE) & book.autopay
    late_max = np.where(book.is_card, params.card_late_days_max, params.loan_late_days_max)
    early = rng.integers(0, params.on_time_window_days + 1, size=n)
    day = np.where(
        late, due_day + rng.integers(1, late_max + 1), np.where(autopaid, due_day, due_day - early)
    )
    day = np.where(recovering, due_day + rng.integers(0, 8, size=n), day)
    amount = np.where(day <= calendar.as_of_day, amount, 0)  # not paid yet at the as-of date
    paid_by_due = np.where(day <= due_day, amount, 0)
    ledger.shortfall = np.where(paying, np.maximum(total_due - paid_by_due, 0), 0)
    ledger.late_days = np.where(late & (amount > 0), day - due_day, 30)
    oldest_before = oldest_unpaid(owed, book.due_day[:, : t + 1])
    ledger.pay(t=t, amount=amount)
    oldest_after = oldest_unpaid(ledger.unpaid[:, : t + 1], book.due_day[:, : t + 1])
    late_paid = late & (amount > 0)
    at_due = np.where(late_paid, oldest_before, oldest_after)
    record.paid_amount[:, t] = amount
    record.paid_day[:, t] = np.where(amount > 0, day, NO_DAY)
    record.paid_channel[:, t] = _channel(
        rng, autopaid=autopaid, bucket=bucket, recovering=recovering
    )
    record.bucket[:, t] = np.minimum(bucket, 127)
    record.outcome[:, t] = _outcome_code(
        outcome=outcome, current=current, paying=paying, recovering=recovering, status=ledger.status
    )
    record.arrears_after[:, t] = ledger.unpaid[:, : t + 1].sum(axis=1)
    record.balance_after[:, t] = ledger.balance
    record.status_after[:, t] = ledger.status
    record.ability_effective[:, t] = ability
    record.days_past_due_at_due[:, t] = np.where(
        (at_due != NO_DAY) & (at_due < due_day), due_day - at_due, 0
    )
    record.oldest_at_due[:, t] = at_due
    record.oldest_after[:, t] = oldest_after
    record.late_day[:, t] = np.where(late_paid, day, NO_DAY)
    record.on_time_day[:, t] = np.where((amount > 0) & ~late_paid & (day <= due_day), day, NO_DAY)


def _amount(
    rng: np.random.Generator,
    *,
    outcome: np.ndarray,
    current: np.ndarray,
    total_due: np.ndarray,
    this_due: np.ndarray,
    oldest_amount: np.ndarray,
    balance: np.ndarray,
    in_term: np.ndarray,
    book: AccountBook,
    params: WorldParameters,
) -> np.ndarray:
    """How much each account pays this month, given its outcome."""
    n = int(outcome.shape[0])
    base = np.where(current, this_due, np.maximum(this_due, oldest_amount))
    partial = np.minimum(
        round_half_up(base * rng.uniform(*params.partial_share_range, size=n)),
        np.maximum(total_due - 1, 0),
    )
    # Card holders who pay in full pay the statement (transactors) or something in between.
    extra = np.floor(rng.random(n) ** 3 * np.maximum(balance - total_due, 0)).astype(np.int64)
    card_full = np.where(book.transactor, balance, total_due + extra)
    full = np.where(book.is_card & current, card_full, total_due)
    full = np.where(~book.is_card & ~in_term, balance, full)  # matured loan: settle everything
    keep_pace = np.where(current, full, oldest_amount)
    amount: np.ndarray = np.select(
        [outcome == Outcome.NONE, outcome == Outcome.PARTIAL, outcome == Outcome.LATE_OR_KEEP_PACE],
        [np.zeros(n, dtype=np.int64), partial, keep_pace],
        default=full,
    ).astype(np.int64)
    return amount


def _channel(
    rng: np.random.Generator, *, autopaid: np.ndarray, bucket: np.ndarray, recovering: np.ndarray
) -> np.ndarray:
    n = int(autopaid.shape[0])
    weights = _CHANNEL_WEIGHTS / _CHANNEL_WEIGHTS.sum()
    channel = rng.choice(len(PAYMENT_CHANNELS), size=n, p=weights)
    via_agency = (recovering | (bucket >= 2)) & (rng.random(n) < 0.3)
    channel = np.where(via_agency, _AGENCY, channel)
    return np.where(autopaid, _AUTOPAY, channel).astype(np.int8)


def _outcome_code(
    *,
    outcome: np.ndarray,
    current: np.ndarray,
    paying: np.ndarray,
    recovering: np.ndarray,
    status: np.ndarray,
) -> np.ndarray:
    code = np.where(current, outcome, outcome + _IN_ARREARS)
    code = np.where(paying, code, _NO_DUE)
    code = np.where(status == CHARGED_OFF, np.where(recovering, _RECOVERY, _CHARGED_OFF), code)
    return code.astype(np.int8)


def _finish(
    ledger: _Ledger, *, dues: dict[str, np.ndarray], emitted: np.ndarray, record: _MonthlyRecord
) -> History:
    book, calendar = ledger.book, ledger.calendar
    months = calendar.months
    finished = ~book.is_card & ~book.in_term[:, months:].any(axis=1)
    closed = (ledger.status == OPEN) & finished & (ledger.balance == 0)
    ledger.status[closed] = CLOSED
    return History(
        due_emitted=emitted,
        due_principal=dues["p"],
        due_interest=dues["i"],
        due_fee=dues["f"],
        statement_balance=dues["sb"],
        paid_amount=record.paid_amount,
        paid_day=record.paid_day,
        paid_channel=record.paid_channel,
        bucket=record.bucket,
        outcome=record.outcome,
        arrears_after=record.arrears_after,
        balance_after=record.balance_after,
        status_after=record.status_after,
        ability_effective=record.ability_effective,
        days_past_due_at_due=record.days_past_due_at_due,
        oldest_at_due=record.oldest_at_due,
        oldest_after=record.oldest_after,
        late_day=record.late_day,
        on_time_day=record.on_time_day,
        principal=ledger.principal,
        interest=ledger.interest,
        fees=ledger.fees,
        status=ledger.status,
        charge_off_day=ledger.charge_off_day,
        charge_off_balance=ledger.charge_off_balance,
        oldest_unpaid_day=oldest_unpaid(ledger.unpaid, book.due_day[:, :months]),
        unpaid=ledger.unpaid.sum(axis=1),
    )
