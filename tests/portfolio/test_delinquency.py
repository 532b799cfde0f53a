"""The delinquency engine against worked examples and a day-by-day reference computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huancui.portfolio.delinquency import EVENTS, compute_delinquency
from huancui.portfolio.policy import DelinquencyPolicy


@dataclass(frozen=True)
class Due:
    due_date: date
    amount_fen: int  # all principal, to keep the reference simple
    statement_date: date | None = None  # None: billed policy.billing_lead_days before due


@dataclass(frozen=True)
class Payment:
    paid_date: date
    amount_fen: int


@dataclass(frozen=True)
class Case:
    product: str
    dues: tuple[Due, ...]
    payments: tuple[Payment, ...]


def run_engine(
    cases: list[Case], *, as_of: date, policy: DelinquencyPolicy
) -> tuple[dict[str, tuple[int, str, bool]], dict[str, list[tuple[str, str, date, date | None]]]]:
    """Feed cases to the real engine through the tables the importer builds."""
    con = duckdb.connect()
    ids = [f"A{i:04d}" for i in range(len(cases))]
    con.register(
        "_a",
        pa.table(
            {
                "account_id": ids,
                "customer_id": ["C1"] * len(cases),
                "product": [c.product for c in cases],
                "status": ["open"] * len(cases),
                "outstanding_principal": [0] * len(cases),
                "outstanding_interest": [0] * len(cases),
                "outstanding_fees": [0] * len(cases),
            }
        ),
    )
    con.execute("CREATE TABLE valid_accounts AS SELECT * FROM _a")
    con.execute(
        "CREATE TABLE valid_customers AS SELECT 'C1' AS customer_id, 'B' AS credit_grade, "
        "'GD' AS province"
    )
    dues = [(a, n, d.statement_date, d.due_date, d.amount_fen)
            for a, c in zip(ids, cases, strict=True)
            for n, d in enumerate(c.dues, start=1)]  # fmt: skip
    con.execute(
        "CREATE TABLE valid_dues (account_id VARCHAR, period_no BIGINT, statement_date DATE, "
        "due_date DATE, principal_due BIGINT, interest_due BIGINT, fee_due BIGINT)"
    )
    if dues:
        con.executemany("INSERT INTO valid_dues VALUES (?, ?, ?, ?, ?, 0, 0)", dues)
    pays = [(f"{a}-{n:03d}", a, p.paid_date, p.amount_fen) for a, c in zip(ids, cases, strict=True)
            for n, p in enumerate(c.payments)]  # fmt: skip
    con.execute(
        "CREATE TABLE valid_payments (payment_id VARCHAR, account_id VARCHAR, paid_date DATE, "
        "amount BIGINT)"
    )
    if pays:
        con.executemany("INSERT INTO valid_payments VALUES (?, ?, ?, ?)", pays)
    compute_delinquency(con, as_of=as_of, policy=policy)
    state = {
        a: (int(dpd), b, bool(co))
        for a, dpd, b, co in con.execute(
            "SELECT account_id, days_past_due, bucket, charged_off FROM account_state"
        ).fetchall()
    }
    spells: dict[str, list[tuple[str, str, date, date | None]]] = {a: [] for a in ids}
    for a, bucket, event, start, end in con.execute(
        "SELECT account_id, bucket, event, started_on, ended_on FROM delinquency_spells "
        "ORDER BY account_id, started_on"
    ).fetchall():
        spells[a].append((event, bucket, start, end))
    return state, spells


def reference_applied(case: Case, day: date, policy: DelinquencyPolicy) -> int:
    """Money applied to dues by `day`: each payment, in order, only up to what was billed then."""
    billed_on: list[date] = []
    for due in case.dues:  # dues are in due-date order; billing dates never go back
        own = due.statement_date or due.due_date - timedelta(days=policy.billing_lead_days)
        billed_on.append(max([own, *billed_on[-1:]]))
    applied = 0
    ordered = sorted(enumerate(case.payments), key=lambda p: (p[1].paid_date, p[0]))
    for _, payment in ordered:
        if payment.paid_date > day:
            break
        billed = sum(d.amount_fen for d, b in zip(case.dues, billed_on, strict=True)
                     if b <= payment.paid_date)  # fmt: skip
        applied = min(applied + payment.amount_fen, billed)
    return applied


def reference_dpd(case: Case, day: date, policy: DelinquencyPolicy) -> int:
    """Days past due on `day`, computed the slow obvious way."""
    paid = reference_applied(case, day, policy)
    owed = 0
    for due in case.dues:
        if due.due_date > day:
            break
        owed += due.amount_fen
        if owed - paid > policy.tolerance_fen:
            late = (day - due.due_date).days
            return late if late > policy.grace_days else 0
    return 0


def reference_history(
    case: Case, *, as_of: date, policy: DelinquencyPolicy
) -> tuple[int, list[tuple[str, str, date, date | None]]]:
    """Walk day by day: bucket runs become spells; charge-off freezes the account."""
    if not case.dues:
        return 0, []
    rank = {b.name: i for i, b in enumerate(policy.buckets)}
    charge_off = policy.charge_off_dpd[case.product]  # type: ignore[index]
    spells: list[tuple[str, str, date, date | None]] = []
    current: str | None = None
    day = min(d.due_date for d in case.dues)
    dpd = 0
    while day <= as_of:
        dpd = reference_dpd(case, day, policy)
        bucket = policy.bucket_for(dpd)
        if dpd >= charge_off:
            if spells and spells[-1][3] is None:
                spells[-1] = (*spells[-1][:3], day)
            spells.append(("charged_off", bucket, day, None))
            return reference_dpd(case, as_of, policy), spells
        if bucket != current and not (current is None and dpd == 0):
            if spells and spells[-1][3] is None:
                spells[-1] = (*spells[-1][:3], day)
            if dpd == 0:
                event = "cured"
            elif current is None or rank[current] == 0:
                event = "entered"
            else:
                event = "rolled_forward" if rank[bucket] > rank[current] else "rolled_back"
            spells.append((event, bucket, day, None))
            current = bucket
        day += timedelta(days=1)
    return dpd, spells


AS_OF = date(2026, 11, 27)
START = date(2025, 11, 1)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_dues = draw(st.integers(min_value=0, max_value=10))
    first = START + timedelta(days=draw(st.integers(0, 60)))
    gaps = draw(st.lists(st.integers(1, 45), min_size=n_dues, max_size=n_dues))
    dates, day = [], first
    for gap in gaps:
        dates.append(day)
        day += timedelta(days=gap)
    amounts = draw(st.lists(st.integers(0, 300_000), min_size=n_dues, max_size=n_dues))
    product = draw(st.sampled_from(["credit_card", "instalment_loan"]))
    # cards carry statement dates some days before the due date; loans use the policy's lead
    leads = draw(st.lists(st.integers(0, 25), min_size=n_dues, max_size=n_dues))
    dues = tuple(
        Due(d, a, d - timedelta(days=lead) if product == "credit_card" else None)
        for d, a, lead in zip(dates, amounts, leads, strict=True)
    )
    payments = tuple(
        Payment(START + timedelta(days=o), a)
        for o, a in draw(
            st.lists(
                st.tuples(st.integers(0, (AS_OF - START).days), st.integers(1, 400_000)),
                max_size=8,
            )
        )
    )
    return Case(product, dues, payments)


policies = st.builds(
    DelinquencyPolicy,
    grace_days=st.integers(0, 5),
    tolerance_yuan=st.sampled_from(["0", "0.50", "10.00"]),
    billing_lead_days=st.integers(0, 31),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolio=st.lists(cases(), min_size=1, max_size=12), policy=policies)
def test_engine_matches_day_by_day_reference(
    portfolio: list[Case], policy: DelinquencyPolicy
) -> None:
    state, spells = run_engine(portfolio, as_of=AS_OF, policy=policy)
    for i, case in enumerate(portfolio):
        account = f"A{i:04d}"
        dpd, history = reference_history(case, as_of=AS_OF, policy=policy)
        assert state[account][0] == dpd, (case, history)
        assert state[account][1] == policy.bucket_for(dpd)
        assert spells[account] == history, case
        assert {event for event, *_ in spells[account]} <= set(EVENTS)


@settings(max_examples=40, deadline=None)
@given(portfolio=st.lists(cases(), min_size=1, max_size=8), policy=policies)
def test_days_past_due_is_never_negative(portfolio: list[Case], policy: DelinquencyPolicy) -> None:
    state, _ = run_engine(portfolio, as_of=AS_OF, policy=policy)
    assert all(dpd >= 0 for dpd, _, _ in state.values())


@settings(max_examples=40, deadline=None)
@given(portfolio=st.lists(cases(), min_size=1, max_size=8), policy=policies)
def test_paying_everything_due_cures(portfolio: list[Case], policy: DelinquencyPolicy) -> None:
    # one payment on the as-of date covering every due: everything already due is billed by then
    settled = [
        Case(
            c.product,
            c.dues,
            (*c.payments, Payment(AS_OF, max(1, sum(d.amount_fen for d in c.dues)))),
        )
        for c in portfolio
    ]
    state, spells = run_engine(settled, as_of=AS_OF, policy=policy)
    for account, (dpd, bucket, charged_off) in state.items():
        if charged_off:  # a charge-off is final: later payments are recoveries, not cures
            continue
        assert dpd == 0 and bucket == "M0"
        if spells[account]:
            assert spells[account][-1][0] == "cured"
            assert spells[account][-1][3] is None


def test_worked_example_from_docs() -> None:
    """docs/delinquency.md: a 1,000.00 monthly loan, second instalment missed, then caught up."""
    case = Case(
        "instalment_loan",
        (
            Due(date(2026, 7, 5), 100_000),
            Due(date(2026, 8, 5), 100_000),
            Due(date(2026, 9, 5), 100_000),
            Due(date(2026, 10, 5), 100_000),
        ),
        (
            Payment(date(2026, 7, 5), 100_000),
            Payment(date(2026, 9, 20), 200_000),
        ),
    )
    policy = DelinquencyPolicy(grace_days=3, tolerance_yuan="0")  # type: ignore[arg-type]
    state, spells = run_engine([case], as_of=date(2026, 11, 27), policy=policy)
    assert state["A0000"] == (53, "M2", False)  # oldest unpaid: 2026-10-05
    assert spells["A0000"] == [
        ("entered", "M1", date(2026, 8, 9), date(2026, 9, 5)),
        ("rolled_forward", "M2", date(2026, 9, 5), date(2026, 9, 20)),
        ("cured", "M0", date(2026, 9, 20), date(2026, 10, 9)),
        ("entered", "M1", date(2026, 10, 9), date(2026, 11, 5)),
        ("rolled_forward", "M2", date(2026, 11, 5), None),
    ]


def test_tolerance_ignores_small_remainders() -> None:
    case = Case(
        "credit_card",
        (Due(date(2026, 10, 25), 118_000),),
        (Payment(date(2026, 10, 25), 117_500),),  # 5.00 short
    )
    strict = DelinquencyPolicy(tolerance_yuan="0")  # type: ignore[arg-type]
    lenient = DelinquencyPolicy(tolerance_yuan="10.00")  # type: ignore[arg-type]
    assert run_engine([case], as_of=AS_OF, policy=strict)[0]["A0000"][0] == 33
    assert run_engine([case], as_of=AS_OF, policy=lenient)[0]["A0000"][0] == 0


def test_charge_off_defaults_by_product() -> None:
    due = (Due(date(2026, 5, 1), 100_000),)
    card = Case("credit_card", due, ())
    loan = Case("instalment_loan", due, ())
    state, spells = run_engine([card, loan], as_of=AS_OF, policy=DelinquencyPolicy())
    assert state["A0000"] == (210, "M7+", True)
    assert spells["A0000"][-1] == ("charged_off", "M6", date(2026, 10, 28), None)
    assert spells["A0001"][-1] == ("charged_off", "M4", date(2026, 8, 29), None)


def test_card_overpayment_is_not_credit_for_later_minimums() -> None:
    """A card holder who paid far more than September's minimum, then stopped, is late in October."""
    case = Case(
        "credit_card",
        (
            Due(date(2026, 9, 25), 50_000, statement_date=date(2026, 9, 5)),
            Due(date(2026, 10, 25), 50_000, statement_date=date(2026, 10, 5)),
            Due(date(2026, 11, 25), 50_000, statement_date=date(2026, 11, 5)),
        ),
        (Payment(date(2026, 9, 20), 600_000),),  # paid 6,000.00 against a 500.00 minimum
    )
    state, spells = run_engine([case], as_of=AS_OF, policy=DelinquencyPolicy())
    assert state["A0000"] == (33, "M2", False)
    assert spells["A0000"][0] == ("entered", "M1", date(2026, 10, 29), date(2026, 11, 25))


def test_payment_between_statement_and_due_date_counts() -> None:
    case = Case(
        "credit_card",
        (Due(date(2026, 11, 25), 50_000, statement_date=date(2026, 11, 5)),),
        (Payment(date(2026, 11, 10), 50_000),),
    )
    state, spells = run_engine([case], as_of=AS_OF, policy=DelinquencyPolicy())
    assert state["A0000"] == (0, "M0", False)
    assert spells["A0000"] == []
