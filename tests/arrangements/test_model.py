"""The rules of arrangements without a database: lifecycle, payment allocation, judging a promise
by the payments, and the authority matrix of the shipped policy."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huancui.arrangements.model import (
    OPEN_STATUSES,
    STATUSES,
    Allocation,
    Line,
    Needs,
    Payment,
    allocate,
    approving_roles,
    authority_gaps,
    auto_approved,
    check_transition,
    fulfilled_status,
    judge,
    line_met,
    line_missed,
)
from huancui.arrangements.policy import ArrangementPolicy, load_arrangement_policy
from huancui.kit.errors import Conflict

TOLERANCE = Decimal("0.95")
DUE = date(2026, 12, 2)

# The lifecycle of model.py's docstring, drawn as arrows.
DOCUMENTED = {
    ("proposed", "approved"),
    ("proposed", "rejected"),
    ("proposed", "cancelled"),
    ("approved", "active"),
    ("approved", "cancelled"),
    ("active", "kept"),
    ("active", "completed"),
    ("active", "broken"),
    ("active", "cancelled"),
}


@pytest.fixture(scope="module")
def policy() -> ArrangementPolicy:
    return load_arrangement_policy().policy


# ------------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_only_the_documented_transitions_are_allowed(current: str, target: str) -> None:
    if (current, target) in DOCUMENTED:
        check_transition("arrangement 7", current, target)
        return
    with pytest.raises(Conflict) as caught:
        check_transition("arrangement 7", current, target)
    message = str(caught.value)
    assert message.startswith(f"arrangement 7 is {current}: it cannot become {target}")
    allowed = sorted(t for c, t in DOCUMENTED if c == current)
    assert f"(allowed: {', '.join(allowed) or 'nothing (final)'})" in message


def test_open_statuses_are_those_with_a_way_out() -> None:
    assert set(OPEN_STATUSES) == {c for c, _ in DOCUMENTED}
    assert (fulfilled_status("ptp"), fulfilled_status("installment")) == ("kept", "completed")


# ------------------------------------------------------------------------------ allocation

amounts = st.integers(min_value=0, max_value=500_000)
lines_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), amounts, amounts), min_size=1, max_size=6
).map(
    lambda specs: [
        Line(n, DUE + timedelta(days=offset), due, min(paid, due))
        for n, (offset, due, paid) in enumerate(specs, start=1)
    ]
)
payments_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=900_000)),
    max_size=8,
).map(
    lambda specs: [
        Payment(f"P{n:03d}", DUE + timedelta(days=offset), amount)
        for n, (offset, amount) in enumerate(specs)
    ]
)


def _by_payment(allocations: list[Allocation]) -> dict[str, int]:
    total: dict[str, int] = {}
    for a in allocations:
        total[a.payment_id] = total.get(a.payment_id, 0) + a.amount_fen
    return total


@given(lines=lines_strategy, payments=payments_strategy)
def test_allocation_never_exceeds_a_payment_or_a_lines_room(
    lines: list[Line], payments: list[Payment]
) -> None:
    allocations = allocate(lines, payments, {})
    assert all(a.amount_fen > 0 for a in allocations)
    paid = {p.payment_id: p.amount_fen for p in payments}
    for payment_id, total in _by_payment(allocations).items():
        assert total <= paid[payment_id]
    for line in lines:
        into = sum(a.amount_fen for a in allocations if a.line_no == line.line_no)
        assert line.paid_fen + into <= line.amount_due_fen
    # Each allocation carries its payment's date.
    dates = {p.payment_id: p.paid_date for p in payments}
    assert all(a.paid_date == dates[a.payment_id] for a in allocations)


@given(lines=lines_strategy, payments=payments_strategy)
def test_everything_is_allocated_that_fits(lines: list[Line], payments: list[Payment]) -> None:
    allocations = allocate(lines, payments, {})
    room = sum(line.amount_due_fen - line.paid_fen for line in lines)
    total_paid = sum(p.amount_fen for p in payments)
    assert sum(a.amount_fen for a in allocations) == min(total_paid, room)


@given(lines=lines_strategy, payments=payments_strategy)
def test_a_second_pass_allocates_nothing_new(lines: list[Line], payments: list[Payment]) -> None:
    first = allocate(lines, payments, {})
    into = {
        n: sum(a.amount_fen for a in first if a.line_no == n) for n in {x.line_no for x in lines}
    }
    after = [
        Line(x.line_no, x.due_date, x.amount_due_fen, x.paid_fen + into[x.line_no]) for x in lines
    ]
    already = _by_payment(first)
    assert allocate(after, payments, already) == []


@given(lines=lines_strategy, payments=payments_strategy, cut=st.integers(min_value=0, max_value=8))
def test_allocating_in_two_passes_equals_one(
    lines: list[Line], payments: list[Payment], cut: int
) -> None:
    """Payments arriving over two nights are allocated as if they had come at once."""
    ordered = sorted(payments, key=lambda p: (p.paid_date, p.payment_id))
    early = ordered[:cut]
    first = allocate(lines, early, {})
    into = {
        n: sum(a.amount_fen for a in first if a.line_no == n) for n in {x.line_no for x in lines}
    }
    after = [
        Line(x.line_no, x.due_date, x.amount_due_fen, x.paid_fen + into[x.line_no]) for x in lines
    ]
    second = allocate(after, ordered, _by_payment(first))
    assert sorted(first + second, key=repr) == sorted(allocate(lines, ordered, {}), key=repr)


def test_oldest_line_is_paid_first_and_the_surplus_stays_with_the_account() -> None:
    lines = [
        Line(2, date(2027, 1, 15), 10_000),
        Line(1, date(2026, 12, 15), 10_000),
    ]
    payments = [Payment("B", date(2026, 12, 20), 15_000), Payment("A", date(2026, 12, 20), 8_000)]
    shares = [(a.payment_id, a.line_no, a.amount_fen) for a in allocate(lines, payments, {})]
    # Same day: by payment id. A fills line 1 partly, B the rest of it and line 2; 3,000 left.
    assert shares == [("A", 1, 8_000), ("B", 1, 2_000), ("B", 2, 10_000)]


# --------------------------------------------------------------------------------- judging


def test_ninety_five_percent_of_a_line_meets_it() -> None:
    assert line_met(Line(1, DUE, 100_000, 95_000), TOLERANCE)
    assert not line_met(Line(1, DUE, 100_000, 94_990), TOLERANCE)  # 94.99%
    assert not line_met(Line(1, DUE, 100_000, 94_999), TOLERANCE)
    assert line_met(Line(1, DUE, 100_000, 100_000), Decimal(1))


def test_a_line_is_missed_only_after_the_grace_days() -> None:
    unpaid = Line(1, DUE, 100_000, 0)
    for as_of in (DUE, DUE + timedelta(days=3)):
        assert not line_missed(unpaid, as_of, grace_days=3, tolerance=TOLERANCE)
        assert judge([unpaid], as_of, grace_days=3, tolerance=TOLERANCE).state == "good"
    assert line_missed(unpaid, DUE + timedelta(days=4), grace_days=3, tolerance=TOLERANCE)
    nearly = Line(1, DUE, 100_000, 94_990)
    late = judge([nearly], DUE + timedelta(days=4), grace_days=3, tolerance=TOLERANCE)
    assert (late.state, late.missed_line) == ("broken", nearly)
    assert late.reason(TOLERANCE) == (
        "line 1 due 2026-12-02: 949.90 paid of 1000.00 (needs 95%) after the grace days"
    )


def test_judge_fulfils_when_every_line_is_met_and_breaks_on_the_oldest_miss() -> None:
    met = Line(1, DUE, 50_000, 47_500)
    open_line = Line(2, DUE + timedelta(days=31), 50_000, 0)
    assert judge([met, open_line], DUE + timedelta(days=10), grace_days=3, tolerance=TOLERANCE) == (
        judge([met, open_line], DUE, grace_days=3, tolerance=TOLERANCE)
    )
    assert judge([met], DUE, grace_days=3, tolerance=TOLERANCE).state == "fulfilled"
    assert judge([met], DUE, grace_days=3, tolerance=TOLERANCE).reason(TOLERANCE) == (
        "every line paid"
    )
    both_missed = [Line(3, DUE + timedelta(days=31), 1, 0), Line(4, DUE, 1, 0)]
    standing = judge(both_missed, DUE + timedelta(days=60), grace_days=3, tolerance=TOLERANCE)
    assert standing.missed_line is not None and standing.missed_line.line_no == 4


@given(
    due=st.integers(min_value=1, max_value=10_000_000),
    paid=st.integers(min_value=0, max_value=10_000_000),
    late=st.integers(min_value=0, max_value=60),
    grace=st.integers(min_value=0, max_value=30),
)
def test_a_single_line_is_met_missed_or_pending(due: int, paid: int, late: int, grace: int) -> None:
    line = Line(1, DUE, due, min(paid, due))
    as_of = DUE + timedelta(days=late)
    standing = judge([line], as_of, grace_days=grace, tolerance=TOLERANCE)
    met = 100 * line.paid_fen >= 95 * due  # exact in integers
    expected = "fulfilled" if met else "broken" if late > grace else "good"
    assert standing.state == expected


# -------------------------------------------------------------------------------- authority


def test_a_twelve_month_plan_needs_a_supervisor_or_a_manager(policy: ArrangementPolicy) -> None:
    needs = Needs("installment", term_months=12)
    assert approving_roles(policy, needs) == ["supervisor", "manager"]
    assert not auto_approved(policy, needs)
    assert authority_gaps(policy.authority["collector"], needs) == ["a term of 12 months (limit 6)"]
    assert approving_roles(policy, Needs("installment", term_months=6)) == [
        "collector",
        "supervisor",
        "manager",
    ]
    assert approving_roles(policy, Needs("installment", term_months=60)) == ["manager"]


def test_a_promise_within_fourteen_days_is_automatic(policy: ArrangementPolicy) -> None:
    assert auto_approved(policy, Needs("ptp", ptp_days=14))
    assert not auto_approved(policy, Needs("ptp", ptp_days=15))
    assert approving_roles(policy, Needs("ptp", ptp_days=30)) == [
        "collector",
        "supervisor",
        "manager",
    ]
    assert approving_roles(policy, Needs("ptp", ptp_days=45)) == ["manager"]


def test_a_pause_of_sixty_days_needs_a_supervisor_ninety_a_manager(
    policy: ArrangementPolicy,
) -> None:
    assert approving_roles(policy, Needs("hardship", hardship_days=60)) == ["supervisor", "manager"]
    assert approving_roles(policy, Needs("hardship", hardship_days=61)) == ["manager"]
    assert approving_roles(policy, Needs("hardship", hardship_days=90)) == ["manager"]
    assert approving_roles(policy, Needs("hardship", hardship_days=91)) == []
    assert authority_gaps(policy.authority["collector"], Needs("hardship", hardship_days=1)) == [
        "a pause of 1 days (limit 0)"
    ]


def test_waivers_and_discounts_follow_the_matrix(policy: ArrangementPolicy) -> None:
    assert approving_roles(policy, Needs("waiver", waived_fen=20_000)) == [
        "collector",
        "supervisor",
        "manager",
    ]
    assert authority_gaps(policy.authority["collector"], Needs("waiver", waived_fen=20_001)) == [
        "a waiver of 200.01 (limit 200.00)"
    ]
    assert approving_roles(policy, Needs("settlement", discount_share=Decimal("0.2"))) == [
        "supervisor",
        "manager",
    ]
    assert authority_gaps(
        policy.authority["supervisor"], Needs("settlement", discount_share=Decimal("0.25"))
    ) == ["a settlement discount of 25.00% (limit 20.00%)"]
    assert auto_approved(policy, Needs("waiver", waived_fen=0))
    assert not auto_approved(policy, Needs("waiver", waived_fen=1))


needs_strategy = st.builds(
    Needs,
    kind=st.just("any"),
    ptp_days=st.integers(0, 90),
    term_months=st.integers(0, 72),
    deferral_months=st.integers(0, 8),
    waived_fen=st.integers(0, 6_000_000),
    discount_share=st.decimals(min_value=0, max_value=1, places=4),
    hardship_days=st.integers(0, 120),
)


@given(needs=needs_strategy, less=needs_strategy)
def test_whoever_may_approve_more_may_approve_less(
    policy: ArrangementPolicy, needs: Needs, less: Needs
) -> None:
    smaller = Needs(
        "any",
        ptp_days=min(needs.ptp_days, less.ptp_days),
        term_months=min(needs.term_months, less.term_months),
        deferral_months=min(needs.deferral_months, less.deferral_months),
        waived_fen=min(needs.waived_fen, less.waived_fen),
        discount_share=min(needs.discount_share, less.discount_share),
        hardship_days=min(needs.hardship_days, less.hardship_days),
    )
    assert set(approving_roles(policy, needs)) <= set(approving_roles(policy, smaller))
    if auto_approved(policy, needs):
        assert auto_approved(policy, smaller)
    # The roles rise in authority: whoever the supervisor cannot approve, no collector can.
    roles = approving_roles(policy, needs)
    assert roles == [r for r in ("collector", "supervisor", "manager") if r in roles]
    if "collector" in roles:
        assert "supervisor" in roles and "manager" in roles
    if "supervisor" in roles:
        assert "manager" in roles
