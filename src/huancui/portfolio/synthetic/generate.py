"""`generate_portfolio`: build a whole synthetic delivery block by block and report on it.

Blocks have a fixed size and each draws from its own seeded stream, so the files depend only on
the arguments (same arguments, byte-identical files) and memory stays flat for any portfolio size.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from huancui.portfolio.synthetic import delivery, truth
from huancui.portfolio.synthetic.accounts import AccountBook, Calendar, day_number, open_accounts
from huancui.portfolio.synthetic.contacts import Reach, contacts_table, draw_contacts
from huancui.portfolio.synthetic.feedback import draw_feedback, feedback_table
from huancui.portfolio.synthetic.history import (
    CHARGED_OFF,
    CLOSED,
    NO_DAY,
    History,
    simulate_history,
)
from huancui.portfolio.synthetic.holds import contact_blocks, draw_holds, holds_table
from huancui.portfolio.synthetic.life_events import LifeEvents, draw_disasters, simulate_life_events
from huancui.portfolio.synthetic.parameters import DEFAULT_PARAMETERS, WorldParameters
from huancui.portfolio.synthetic.people import (
    People,
    customer_ids,
    customers_table,
    draw_people,
    employment_status,
)
from huancui.portfolio.synthetic.writer import DeliveryWriter

BLOCK_ACCOUNTS = 200_000
MAX_MONTHS = 120
_DISASTER_STREAM = 2**31 - 1  # a stream key no block index reaches
_GRADE_D, _GRADE_E = 3, 4

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class GenerationReport:
    """What was written, how long it took, and a few facts about the world at the as-of date."""

    out_dir: Path
    accounts: int
    customers: int
    months: int
    seed: int
    as_of: datetime.date
    rows: dict[str, int]  # per delivery file name (without .csv)
    elapsed_seconds: float
    share_delinquent: float  # accounts with any due unpaid at as-of, of accounts not closed
    share_30_plus: float  # ... 30 or more days past due (charged-off accounts included)
    card_balance_30_plus_share: float  # card balances 30+ DPD / card balances, open cards only
    charged_off_accounts: int
    customers_in_hardship_share: float  # a life event is running in the last history month


@dataclass
class _Tally:
    customers: int = 0
    payments: int = 0
    contacts: int = 0
    holds: int = 0
    feedback: int = 0
    not_closed: int = 0
    delinquent: int = 0
    thirty_plus: int = 0
    card_balance: int = 0
    card_balance_30_plus: int = 0
    charged_off: int = 0
    in_hardship: int = 0


def generate_portfolio(
    *,
    accounts: int,
    months: int,
    seed: int,
    as_of: datetime.date,
    out: Path,
    on_progress: ProgressCallback | None = None,
    parameters: WorldParameters = DEFAULT_PARAMETERS,
) -> GenerationReport:
    """Write a synthetic delivery (one CSV file per contract file) and its truth/ into `out`."""
    _check_arguments(accounts=accounts, months=months, seed=seed)
    started = time.perf_counter()
    report = on_progress or (lambda stage, fraction: None)
    calendar = Calendar(
        as_of_day=day_number(as_of), months=months, extra=max(1, parameters.future_loan_dues)
    )
    disasters = draw_disasters(
        np.random.default_rng([seed, _DISASTER_STREAM]), months=months, params=parameters
    )
    sizes = [min(BLOCK_ACCOUNTS, accounts - s) for s in range(0, accounts, BLOCK_ACCOUNTS)]
    tally = _Tally()
    with DeliveryWriter(out) as writer:
        for block, size in enumerate(sizes):

            def stage(name: str, done: float, block: int = block) -> None:
                report(name, (block + done) / len(sizes))

            _generate_block(
                np.random.default_rng([seed, block]),
                size=size,
                first_account=block * BLOCK_ACCOUNTS,
                calendar=calendar,
                disasters=disasters,
                params=parameters,
                writer=writer,
                tally=tally,
                stage=stage,
            )
    report("done", 1.0)
    return GenerationReport(
        out_dir=out,
        accounts=accounts,
        customers=tally.customers,
        months=months,
        seed=seed,
        as_of=as_of,
        rows=dict(writer.rows),  # complete: leaving the with-block waited for every write
        elapsed_seconds=time.perf_counter() - started,
        share_delinquent=tally.delinquent / max(tally.not_closed, 1),
        share_30_plus=tally.thirty_plus / max(tally.not_closed, 1),
        card_balance_30_plus_share=tally.card_balance_30_plus / max(tally.card_balance, 1),
        charged_off_accounts=tally.charged_off,
        customers_in_hardship_share=tally.in_hardship / max(tally.customers, 1),
    )


def _check_arguments(*, accounts: int, months: int, seed: int) -> None:
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, got {months}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")


def _owners(rng: np.random.Generator, *, size: int, params: WorldParameters) -> np.ndarray:
    """Block-local owner index per account: most customers hold one account, some two or three."""
    weights = np.array(params.accounts_per_customer_weights)
    per_customer = rng.choice(np.arange(1, weights.size + 1), size=size, p=weights / weights.sum())
    customers = int(np.searchsorted(np.cumsum(per_customer), size)) + 1
    return np.repeat(np.arange(customers), per_customer[:customers])[:size]


def _generate_block(
    rng: np.random.Generator,
    *,
    size: int,
    first_account: int,
    calendar: Calendar,
    disasters: np.ndarray,
    params: WorldParameters,
    writer: DeliveryWriter,
    tally: _Tally,
    stage: ProgressCallback,
) -> None:
    stage("people", 0.0)
    owner = _owners(rng, size=size, params=params)
    people = draw_people(rng, n=int(owner[-1]) + 1, as_of_day=calendar.as_of_day, params=params)
    events = simulate_life_events(
        rng, province=people.province, months=calendar.months, disasters=disasters, params=params
    )
    book = open_accounts(
        rng,
        customer=owner,
        grade=people.traits.grade[owner],
        ability=people.traits.ability[owner],
        income_fen=people.income_fen[owner],
        calendar=calendar,
        params=params,
    )
    stage("history", 0.2)
    history = simulate_history(
        rng,
        book=book,
        ability=people.traits.ability[owner],
        willingness=people.traits.willingness[owner],
        shock=events.shock[owner],
        calendar=calendar,
        params=params,
    )
    stage("contacts", 0.6)
    dpd = np.where(
        (history.oldest_unpaid_day != NO_DAY) & (history.oldest_unpaid_day < calendar.as_of_day),
        calendar.as_of_day - history.oldest_unpaid_day,
        0,
    )
    customer_numbers = tally.customers + 1 + np.arange(people.male.shape[0])
    account_numbers = first_account + 1 + np.arange(size)
    ids = delivery.account_ids(account_numbers)
    hardship_kind = events.last_kind[owner].astype(np.int64)
    holds = draw_holds(
        rng,
        delinquent=(dpd > 0) & (history.status != CLOSED),
        hardship_kind=hardship_kind,
        as_of_day=calendar.as_of_day,
        params=params,
    )
    reach = Reach(
        consent_sms=people.consent_sms[owner],
        consent_call=people.consent_call[owner],
        urumqi_time=people.urumqi_time[owner],
        willingness=people.traits.willingness[owner],
        in_hardship=hardship_kind >= 0,
    )
    contacts = draw_contacts(
        rng,
        history=history,
        book=book,
        calendar=calendar,
        reach=reach,
        blocks=contact_blocks(holds, accounts=size),
        params=params,
    )
    stage("writing", 0.7)
    grade = _grade_at_as_of(people=people, owner=owner, dpd=dpd, status=history.status)
    employment = employment_status(
        rng, people=people, as_of_day=calendar.as_of_day, jobless=events.last_kind == 0
    )
    guarantor = _guarantors(
        rng, book=book, owner=owner, customer_numbers=customer_numbers, params=params
    )
    # Drawn last, so the other files do not depend on the feedback model.
    feedback = draw_feedback(
        rng,
        contacts=contacts,
        history=history,
        willingness=reach.willingness,
        as_of_day=calendar.as_of_day,
        params=params,
    )
    contacts_file = contacts_table(contacts, account_ids=ids, first_number=tally.contacts + 1)
    tables = {
        "customers": customers_table(
            people=people, numbers=customer_numbers, grade=grade, employment=employment
        ),
        "accounts": delivery.accounts_table(
            book=book,
            history=history,
            ids=ids,
            owner_numbers=customer_numbers[owner],
            owner_city=people.city[owner],
            guarantor_numbers=guarantor,
        ),
        "dues": delivery.dues_table(book=book, history=history, ids=ids),
        "payments": delivery.payments_table(
            history=history, ids=ids, first_number=tally.payments + 1
        ),
        "contacts": contacts_file,
        "holds": holds_table(holds, account_ids=ids, first_number=tally.holds + 1, params=params),
        "feedback": feedback_table(
            feedback,
            account_ids=ids,
            contact_ids=contacts_file.column("contact_id").combine_chunks(),
            first_number=tally.feedback + 1,
        ),
    }
    stage("truth", 0.9)
    writer.write_block(
        delivery=tables,
        truth=_truth_tables(
            people=people,
            events=events,
            book=book,
            history=history,
            ids=ids,
            customer_numbers=customer_numbers,
            owner=owner,
            dpd=dpd,
            calendar=calendar,
            params=params,
        ),
    )
    _count(
        tally,
        people=people,
        events=events,
        book=book,
        history=history,
        dpd=dpd,
        payments=int((history.paid_amount > 0).sum()),
        contacts=contacts.account.shape[0],
        holds=holds.account.shape[0],
        feedback=feedback.account.shape[0],
    )


def _grade_at_as_of(
    *, people: People, owner: np.ndarray, dpd: np.ndarray, status: np.ndarray
) -> np.ndarray:
    """The bank downgrades customers whose accounts are seriously behind."""
    account_grade = np.where(
        (dpd >= 90) | (status == CHARGED_OFF), _GRADE_E, np.where(dpd >= 30, _GRADE_D, 0)
    )
    grade = people.traits.grade.astype(np.int64).copy()
    np.maximum.at(grade, owner, account_grade)
    return grade


def _guarantors(
    rng: np.random.Generator,
    *,
    book: AccountBook,
    owner: np.ndarray,
    customer_numbers: np.ndarray,
    params: WorldParameters,
) -> np.ndarray:
    """Global customer number of a guarantor (another customer of the block) or -1."""
    n = int(owner.shape[0])
    chosen = ~book.is_card & (rng.random(n) < params.guarantor_share_of_loans)
    other = (owner + rng.integers(1, max(customer_numbers.size, 2), size=n)) % customer_numbers.size
    return np.where(chosen & (other != owner), customer_numbers[other], -1)


def _truth_tables(
    *,
    people: People,
    events: LifeEvents,
    book: AccountBook,
    history: History,
    ids: pa.Array,
    customer_numbers: np.ndarray,
    owner: np.ndarray,
    dpd: np.ndarray,
    calendar: Calendar,
    params: WorldParameters,
) -> dict[str, pa.Table]:
    owner_ids = customer_ids(customer_numbers)
    return {
        "customers": truth.customers_truth(people=people, events=events, ids=owner_ids),
        "life_events": truth.life_events_truth(
            events=events, ids=owner_ids, calendar=calendar, params=params
        ),
        "accounts": truth.accounts_truth(
            book=book,
            history=history,
            ids=ids,
            owner_ids=owner_ids.take(pa.array(owner)),
            days_past_due=dpd,
        ),
        "account_months": truth.account_months_truth(
            book=book, history=history, ids=ids, months=calendar.months
        ),
    }


def _count(
    tally: _Tally,
    *,
    people: People,
    events: LifeEvents,
    book: AccountBook,
    history: History,
    dpd: np.ndarray,
    payments: int,
    contacts: int,
    holds: int,
    feedback: int,
) -> None:
    not_closed = history.status != CLOSED
    open_card = book.is_card & (history.status == 0)
    balance = history.principal + history.interest + history.fees
    tally.customers += people.male.shape[0]
    tally.payments += payments
    tally.contacts += contacts
    tally.holds += holds
    tally.feedback += feedback
    tally.not_closed += int(not_closed.sum())
    tally.delinquent += int((not_closed & (dpd > 0)).sum())
    tally.thirty_plus += int((not_closed & (dpd >= 30)).sum())
    tally.card_balance += int(balance[open_card].sum())
    tally.card_balance_30_plus += int(balance[open_card & (dpd >= 30)].sum())
    tally.charged_off += int((history.status == CHARGED_OFF).sum())
    tally.in_hardship += int((events.last_kind >= 0).sum())
