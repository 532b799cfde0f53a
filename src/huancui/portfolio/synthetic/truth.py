"""The latent truth written to DIR/truth/ for evaluating strategies and models — never read by the
product itself: customers' ability and willingness, their life events, and each account's own
month-by-month state as the world sees it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.accounts import AccountBook, Calendar
from huancui.portfolio.synthetic.delivery import PRODUCTS
from huancui.portfolio.synthetic.history import NO_DAY, OUTCOME_LABELS, STATUS_CODES, History
from huancui.portfolio.synthetic.life_events import LifeEvents
from huancui.portfolio.synthetic.parameters import WorldParameters
from huancui.portfolio.synthetic.people import GRADES, People


def customers_truth(*, people: People, events: LifeEvents, ids: pa.Array) -> pa.Table:
    return pa.table(
        {
            "customer_id": ids,
            "ability": pa.array(people.traits.ability),
            "willingness": pa.array(people.traits.willingness),
            "grade_at_origination": fmt.labels(GRADES, people.traits.grade),
            "monthly_income_fen": pa.array(people.income_fen),
            "in_hardship_at_as_of": pa.array(events.last_kind >= 0),
        }
    )


def life_events_truth(
    *, events: LifeEvents, ids: pa.Array, calendar: Calendar, params: WorldParameters
) -> pa.Table:
    first_month = calendar.as_of_month - (calendar.months - 1)
    month_start = (
        (first_month + events.start_month)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    return pa.table(
        {
            "customer_id": ids.take(pa.array(events.customer)),
            "event_type": fmt.labels(tuple(e.name for e in params.life_events), events.kind),
            "start_month": pa.array(events.start_month),  # 0 = first month of the history window
            "start_month_date": fmt.dates(month_start),
            "duration_months": pa.array(events.duration),
        }
    )


def accounts_truth(
    *,
    book: AccountBook,
    history: History,
    ids: pa.Array,
    owner_ids: pa.Array,
    days_past_due: np.ndarray,
) -> pa.Table:
    charged = history.charge_off_day != NO_DAY
    return pa.table(
        {
            "account_id": ids,
            "customer_id": owner_ids,
            "product": fmt.labels(PRODUCTS, (~book.is_card).astype(np.int64)),
            "transactor": pa.array(book.transactor),
            "autopay": pa.array(book.autopay),
            "days_past_due_at_as_of": pa.array(days_past_due.astype(np.int32)),
            "unpaid_due_fen": pa.array(history.unpaid),
            "balance_fen": pa.array(history.principal + history.interest + history.fees),
            "status": fmt.labels(STATUS_CODES, history.status),
            "charge_off_date": fmt.dates(np.maximum(history.charge_off_day, 0), valid=charged),
            "charge_off_balance_fen": pa.array(history.charge_off_balance),
        }
    )


def account_months_truth(
    *, book: AccountBook, history: History, ids: pa.Array, months: int
) -> pa.Table:
    n = int(book.is_card.shape[0])
    rows = np.repeat(np.arange(n), months)
    paid_day = history.paid_day.reshape(-1)
    due = (history.due_principal + history.due_interest + history.due_fee)[:, :months]
    return pa.table(
        {
            "account_id": ids.take(pa.array(rows)),
            "month_no": pa.array(np.tile(np.arange(months, dtype=np.int16), n)),
            "due_date": fmt.dates(book.due_day[:, :months].reshape(-1)),
            "arrears_bucket": pa.array(history.bucket.reshape(-1)),
            "outcome": fmt.labels(OUTCOME_LABELS, history.outcome.reshape(-1)),
            "due_fen": pa.array(due.reshape(-1)),
            "paid_fen": pa.array(history.paid_amount.reshape(-1)),
            "paid_date": fmt.dates(np.maximum(paid_day, 0), valid=paid_day != NO_DAY),
            "arrears_after_fen": pa.array(history.arrears_after.reshape(-1)),
            "balance_after_fen": pa.array(history.balance_after.reshape(-1)),
            "status": fmt.labels(STATUS_CODES, history.status_after.reshape(-1)),
            "ability_effective": pa.array(history.ability_effective.reshape(-1)),
            "days_past_due_at_due": pa.array(history.days_past_due_at_due.reshape(-1)),
        }
    )
