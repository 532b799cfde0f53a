"""The accounts, dues and payments files of one block, shaped exactly as the data contract says."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from huancui.portfolio.contract import ACCOUNTS, DUES, PAYMENTS, PROVINCE_CODES
from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.accounts import PRODUCT_NAMES, AccountBook
from huancui.portfolio.synthetic.geography import places
from huancui.portfolio.synthetic.history import PAYMENT_CHANNELS, STATUS_CODES, History
from huancui.portfolio.synthetic.people import customer_ids

PRODUCTS = ACCOUNTS.column("product").values  # credit_card, instalment_loan


def account_ids(numbers: np.ndarray) -> pa.Array:
    return fmt.prefixed_ids("A", numbers, width=10)


def branch_codes() -> tuple[str, ...]:
    """One branch per city, named after its province: GD001, GD002, ..."""
    table = places()
    rank = np.arange(table.city_province.size) - table.city_first[table.city_province]
    return tuple(
        f"{PROVINCE_CODES[p]}{r + 1:03d}" for p, r in zip(table.city_province, rank, strict=True)
    )


def accounts_table(
    *,
    book: AccountBook,
    history: History,
    ids: pa.Array,
    owner_numbers: np.ndarray,
    owner_city: np.ndarray,
    guarantor_numbers: np.ndarray,
) -> pa.Table:
    """accounts.csv rows; `guarantor_numbers` is -1 where a loan has no guarantor."""
    card, loan = book.is_card, ~book.is_card
    columns = {
        "account_id": ids,
        "customer_id": customer_ids(owner_numbers),
        "product": fmt.labels(PRODUCTS, loan.astype(np.int64)),
        "product_name": fmt.labels(PRODUCT_NAMES, book.product_name),
        "open_date": fmt.dates(book.open_day),
        "currency": fmt.labels(("CNY",), np.zeros(card.shape[0], dtype=np.int64)),
        "credit_limit": fmt.money(book.credit_limit_fen, valid=card),
        "loan_amount": fmt.money(book.loan_amount_fen, valid=loan),
        "term_months": fmt.integers(book.term_months, valid=loan),
        "annual_rate": fmt.rate(book.rate_bp),
        "outstanding_principal": fmt.money(history.principal),
        "outstanding_interest": fmt.money(history.interest),
        "outstanding_fees": fmt.money(history.fees),
        "status": fmt.labels(STATUS_CODES, history.status),
        "branch": fmt.labels(branch_codes(), owner_city),
        "guarantor_customer_id": pc.if_else(
            pa.array(guarantor_numbers >= 0),
            customer_ids(np.maximum(guarantor_numbers, 0)),
            pa.scalar(None, pa.string()),
        ),
    }
    return fmt.contract_table(ACCOUNTS, columns)


def dues_table(*, book: AccountBook, history: History, ids: pa.Array) -> pa.Table:
    rows, period = np.nonzero(history.due_emitted)
    card = book.is_card[rows]
    columns = {
        "account_id": ids.take(pa.array(rows)),
        "period_no": fmt.integers(book.first_period[rows] + period),
        "statement_date": fmt.dates(np.maximum(book.statement_day[rows, period], 0), valid=card),
        "due_date": fmt.dates(book.due_day[rows, period]),
        "principal_due": fmt.money(history.due_principal[rows, period]),
        "interest_due": fmt.money(history.due_interest[rows, period]),
        "fee_due": fmt.money(history.due_fee[rows, period]),
        "statement_balance": fmt.money(history.statement_balance[rows, period], valid=card),
    }
    return fmt.contract_table(DUES, columns)


def payments_table(*, history: History, ids: pa.Array, first_number: int) -> pa.Table:
    rows, month = np.nonzero(history.paid_amount > 0)
    columns = {
        "payment_id": fmt.prefixed_ids("P", first_number + np.arange(rows.size), width=12),
        "account_id": ids.take(pa.array(rows)),
        "paid_date": fmt.dates(history.paid_day[rows, month]),
        "amount": fmt.money(history.paid_amount[rows, month]),
        "channel": fmt.labels(PAYMENT_CHANNELS, history.paid_channel[rows, month]),
    }
    return fmt.contract_table(PAYMENTS, columns)
