"""The treatment allocation: exact against brute force, always lawful, never worse than the bank's rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.analytics.allocation import (
    Allocation,
    AllocationProblem,
    allocate,
    greedy_by_balance,
)
from huancui.kit.errors import InvalidInput

RESOURCES = ("call", "visit")
SMALL = settings(max_examples=60, deadline=None)


@st.composite
def problems(draw: st.DrawFn, *, baseline_always_allowed: bool = False) -> AllocationProblem:
    """n ≤ 8 accounts, m ≤ 3 treatments (the last is no-action), 1–2 resources, whole fen."""
    n = draw(st.integers(1, 8))
    m = draw(st.integers(1, 3))
    resources = RESOURCES[: draw(st.integers(1, 2))]
    fen = st.integers(-5_000, 50_000)
    value = np.array(draw(st.lists(fen, min_size=n * m, max_size=n * m)), float).reshape(n, m)
    value[:, -1] = 0
    cost = np.array(draw(st.lists(st.integers(0, 3_000), min_size=m, max_size=m)), float)
    cost[-1] = 0
    usage = {}
    for r in resources:
        units = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
        units[-1] = 0
        usage[r] = np.array(units)
    capacity = {r: draw(st.integers(0, 10)) for r in resources}
    flags = draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    allowed = np.array(flags).reshape(n, m)
    if baseline_always_allowed:
        allowed[:, -1] = True
    allowed[~allowed.any(axis=1), -1] = True
    return AllocationProblem(
        accounts=[f"A{i}" for i in range(n)],
        treatments=[f"T{j}" for j in range(m - 1)] + ["none"],
        value=value,
        cost=cost,
        usage=usage,
        capacity=capacity,
        allowed=allowed,
    )


def brute_force_optimum(problem: AllocationProblem) -> float | None:
    """The best lawful total by trying every assignment; None when nothing fits capacity."""
    n, m = len(problem.accounts), len(problem.treatments)
    allowed = problem.allowed if problem.allowed is not None else np.ones((n, m), bool)
    net = problem.value - np.broadcast_to(problem.cost, (n, m))
    best: float | None = None
    for choice in itertools.product(range(m), repeat=n):
        picked = np.array(choice)
        if not allowed[np.arange(n), picked].all():
            continue
        if any(problem.usage[r][picked].sum() > cap for r, cap in problem.capacity.items()):
            continue
        total = float(net[np.arange(n), picked].sum())
        best = total if best is None else max(best, total)
    return best


def assert_lawful(problem: AllocationProblem, result: Allocation) -> None:
    n, m = len(problem.accounts), len(problem.treatments)
    assert result.choice.shape == (n,)
    assert np.all((result.choice >= 0) & (result.choice < m)), "one treatment per account"
    if problem.allowed is not None:
        assert problem.allowed[np.arange(n), result.choice].all(), "a forbidden treatment"
    for r, cap in problem.capacity.items():
        used = int(problem.usage[r][result.choice].sum())
        assert used <= cap
        assert result.used[r] == used


@SMALL
@given(problems())
def test_allocate_matches_brute_force_optimum_and_stays_lawful(problem: AllocationProblem) -> None:
    best = brute_force_optimum(problem)
    if best is None:
        with pytest.raises(InvalidInput, match=r"^capacity"):
            allocate(problem)
        return
    result = allocate(problem, gap_limit=0.0)
    assert_lawful(problem, result)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, abs=1e-6)
    assert result.bound == pytest.approx(best, abs=1e-6)
    assert result.gap == pytest.approx(0.0, abs=1e-12)


@SMALL
@given(problems(baseline_always_allowed=True), st.data())
def test_allocate_never_loses_to_greedy_by_balance(
    problem: AllocationProblem, data: st.DataObject
) -> None:
    n = len(problem.accounts)
    balance = np.array(data.draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)))
    greedy = greedy_by_balance(problem, balance)
    best = allocate(problem)
    assert_lawful(problem, greedy)
    assert best.objective >= greedy.objective - 1e-6
    assert greedy.status == "feasible"
    assert greedy.bound >= best.objective - 1e-6, "the greedy's bound must still be an upper bound"


@SMALL
@given(problems(baseline_always_allowed=True), st.integers(0, 2**32 - 1))
def test_fractional_fen_bound_still_covers_the_true_optimum(
    problem: AllocationProblem, seed: int
) -> None:
    n, m = problem.value.shape
    jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, (n, m))
    jitter[:, -1] = 0
    fractional = AllocationProblem(
        accounts=problem.accounts,
        treatments=problem.treatments,
        value=problem.value + jitter,
        cost=problem.cost,
        usage=problem.usage,
        capacity=problem.capacity,
        allowed=problem.allowed,
    )
    best = brute_force_optimum(fractional)
    assert best is not None
    result = allocate(fractional, gap_limit=0.0)
    assert result.bound >= best - 1e-9
    assert result.objective >= best - 0.01 * n
    assert result.gap == pytest.approx(
        (result.bound - result.objective) / max(abs(result.bound), 1.0)
    )


def test_allocate_beats_greedy_when_largest_balances_respond_least() -> None:
    # Four accounts, two calls: the two largest balances barely respond to a call, the two small
    # ones recover a lot. The bank's rule calls the large balances; the optimum calls the others.
    problem = AllocationProblem(
        accounts=["big1", "big2", "small1", "small2"],
        treatments=["call", "none"],
        value=np.array([[100.0, 0], [120.0, 0], [9_000.0, 0], [8_000.0, 0]]),
        cost=np.array([50.0, 0]),
        usage={"call": np.array([1, 0])},
        capacity={"call": 2},
    )
    balance = np.array([5_000_000, 4_000_000, 20_000, 10_000])
    greedy = greedy_by_balance(problem, balance)
    best = allocate(problem)
    assert greedy.choice.tolist() == [0, 0, 1, 1]
    assert best.choice.tolist() == [1, 1, 0, 0]
    assert best.objective == 16_900.0
    assert best.objective > greedy.objective
    assert best.used == {"call": 2}


def test_greedy_falls_back_to_no_action_when_capacity_runs_out() -> None:
    problem = AllocationProblem(
        accounts=["a", "b", "c"],
        treatments=["visit", "call", "none"],
        value=np.full((3, 3), 1_000.0),
        cost=np.array([300.0, 20.0, 0.0]),
        usage={"visit": np.array([1, 0, 0]), "call": np.array([0, 1, 0])},
        capacity={"visit": 1, "call": 1},
    )
    greedy = greedy_by_balance(problem, np.array([3.0, 2.0, 1.0]))
    assert greedy.choice.tolist() == [0, 1, 2]


def test_compliance_mask_is_never_overridden() -> None:
    # Visiting account "held" would earn the most, but compliance forbids it (hardship hold).
    problem = AllocationProblem(
        accounts=["held", "open"],
        treatments=["visit", "none"],
        value=np.array([[90_000.0, 0], [1_000.0, 0]]),
        cost=np.array([500.0, 0]),
        usage={"visit": np.array([1, 0])},
        capacity={"visit": 5},
        allowed=np.array([[False, True], [True, True]]),
    )
    for result in (allocate(problem), greedy_by_balance(problem, np.array([9.0, 1.0]))):
        assert result.choice.tolist() == [1, 0]


def test_a_thousand_accounts_are_solved_to_proven_optimality() -> None:
    rng = np.random.default_rng(7)
    n = 1_000
    value = rng.lognormal(8, 1, n)[:, None] * np.array([0.3, 0.15, 0.05, 0.0])
    problem = AllocationProblem(
        accounts=[f"A{i}" for i in range(n)],
        treatments=["visit", "call", "sms", "none"],
        value=value * rng.uniform(0.5, 1.5, (n, 4)),
        cost=np.array([5_000.0, 800.0, 10.0, 0.0]),
        usage={"call": np.array([0, 1, 0, 0]), "visit": np.array([1, 0, 0, 0])},
        capacity={"call": 150, "visit": 20},
        allowed=(rng.random((n, 4)) > 0.1) | (np.arange(4) == 3),
    )
    result = allocate(problem, time_limit_s=20)
    assert_lawful(problem, result)
    assert result.status == "optimal"
    # Values are solved in hundredths of a fen: the bound may exceed the objective by the rounding.
    assert result.bound - result.objective <= 0.005 * n
    assert result.objective > greedy_by_balance(problem, value[:, 0]).objective


def _problem(**changes: object) -> AllocationProblem:
    fields: dict[str, object] = {
        "accounts": ["a", "b"],
        "treatments": ["call", "none"],
        "value": np.array([[100.0, 0], [200.0, 0]]),
        "cost": np.array([10.0, 0]),
        "usage": {"call": np.array([1, 0])},
        "capacity": {"call": 1},
        "allowed": None,
    }
    fields.update(changes)
    return AllocationProblem(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": np.zeros((3, 2))}, "value"),
        ({"value": np.array([[np.nan, 0], [1, 0]])}, "value"),
        ({"cost": np.array([10.0, 0, 0])}, "cost"),
        ({"cost": np.array([-1.0, 0])}, "cost"),
        ({"usage": {"call": np.array([1, 0, 0])}}, "usage"),
        ({"usage": {"visit": np.array([1, 0])}}, "usage"),
        ({"usage": {"call": np.array([1, 1])}}, "usage"),
        ({"capacity": {"call": -1}}, "capacity"),
        ({"allowed": np.array([[True, True], [False, False]])}, "allowed"),
        ({"allowed": np.ones((2, 3), bool)}, "allowed"),
        ({"accounts": ["a", "a"]}, "accounts"),
        ({"allowed": np.array([[True, False], [True, False]])}, "capacity"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}"):
        allocate(_problem(**changes))
    with pytest.raises(InvalidInput, match=f"^{field}"):
        greedy_by_balance(_problem(**changes), np.array([1.0, 2.0]))


def test_balance_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^balance"):
        greedy_by_balance(_problem(), np.array([1.0, 2.0, 3.0]))
