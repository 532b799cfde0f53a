"""Which treatment each account gets today under staff capacity: the exact optimum and the bank's rule.

Owns the allocation problem (value and cost per account and treatment, resources, compliance mask),
its exact solution with OR-Tools CP-SAT, and the balance-ranked greedy rule it is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

# The package ships min_cost_flow.pyi but no py.typed marker for ortools.graph, so mypy will not
# read it; the one call site below is checked by tests/analytics/test_allocation.py instead.
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from huancui.kit.errors import HuancuiError, InvalidInput

Status = Literal["optimal", "feasible"]

# CP-SAT needs integer coefficients; value − cost is solved in hundredths of a fen, so rounding
# moves the proven bound by at most 0.005 fen per account (100 fen over 20,000 accounts).
_STEPS_PER_FEN = 100
# Integer objectives are summed exactly by the solver but read back as doubles; above 2**53
# hundredths of a fen in total the reported bound would no longer be exact.
_LARGEST_TOTAL_STEPS = 2.0**53
_INFEASIBLE = (
    "capacity: no lawful allocation fits today's capacity; some accounts are allowed only "
    "treatments that use resources. Raise capacity or allow the no-action treatment."
)


@dataclass(frozen=True)
class AllocationProblem:
    """One day's choice: for each of n accounts exactly one of m treatments (宽限/催收手段).

    `value[i, j]` is the expected incremental recovery in fen of giving treatment j to account i;
    `cost` is the channel cost in fen per treatment, shape (m,) or (n, m). `usage[r][j]` is the units
    of resource r (e.g. "call", "visit") that treatment j takes and `capacity[r]` the units free
    today. `allowed[i, j]` is False where compliance forbids treatment j for account i; the guard
    has the last word, so the allocation never overrides it. One treatment must use no resource
    at all: the no-action baseline that always fits.
    """

    accounts: Sequence[str]
    treatments: Sequence[str]
    value: np.ndarray
    cost: np.ndarray
    usage: dict[str, np.ndarray]
    capacity: dict[str, int]
    allowed: np.ndarray | None = None


@dataclass(frozen=True)
class Allocation:
    """A treatment per account, what it earns, and how far from the best it can be proven to be."""

    choice: np.ndarray
    objective: float
    bound: float
    gap: float
    status: Status
    used: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Checked:
    """The problem's arrays after validation, in the shapes and types the solvers use."""

    net: np.ndarray  # (n, m) float: value − cost in fen
    allowed: np.ndarray  # (n, m) bool
    usage: dict[str, np.ndarray]  # (m,) int64 per resource
    capacity: dict[str, int]
    cost: np.ndarray  # (n, m) float


def allocate(
    problem: AllocationProblem, *, time_limit_s: float = 10.0, gap_limit: float = 1e-4
) -> Allocation:
    """The allocation maximising Σ (value − cost) within capacity and compliance, solved exactly.

    Why CP-SAT rather than SCIP through pywraplp: both solve 20,000 accounts × 4 treatments in
    about 2 s, but CP-SAT proves its bound in exact integer arithmetic, where SCIP's carries
    floating-point tolerances, and "optimal" should mean proven. The model is pure 0/1: one
    exactly-one row per account and a knapsack row per resource. CP-SAT wants integer
    coefficients, so value − cost is rounded to hundredths of a fen. The reported `bound`
    is the solver's proven bound on that rounded objective plus the most the rounding can have
    taken from each account, so it bounds the true objective; `objective` is the chosen
    allocation's value on the unrounded inputs.

    `status` is "optimal" only when the solver closed the gap on the rounded objective (CP-SAT
    also says OPTIMAL when it stops at `gap_limit`, which is not a proof); otherwise "feasible".
    Raises InvalidInput when the input breaks its contract or no lawful allocation fits capacity.

    When every treatment takes at most one unit of at most one resource (tonight's calls and
    visits: analytics/dispatch.py) the problem is a transportation problem, and it is solved as a
    min-cost flow instead (OR-Tools network simplex, the same integer weights): exact, proven
    optimal, and under a second at 20,000 accounts even when many accounts have equal values,
    where CP-SAT's search can stall on the symmetry for longer than any sensible time limit.
    """
    if not time_limit_s > 0:
        raise InvalidInput(f"time_limit_s: {time_limit_s} must be positive")
    if not gap_limit >= 0:
        raise InvalidInput(f"gap_limit: {gap_limit} must be zero or positive")
    checked = _check(problem)
    weight = np.rint(checked.net * _STEPS_PER_FEN)
    if np.abs(weight).max(axis=1).sum() >= _LARGEST_TOTAL_STEPS:
        raise InvalidInput("value: amounts too large to solve exactly; give them in fen")
    considered = _undominated(checked)
    lost = checked.net * _STEPS_PER_FEN - weight
    # The model only holds undominated treatments, and an optimum exists among them, so the
    # rounding is only counted over those.
    rounding = float(np.where(considered, lost, -np.inf).max(axis=1).sum())
    if _is_network(checked):
        choice, best = _solve_as_flow(considered, weight=weight, checked=checked)
        return _result(
            checked, choice=choice, bound=(best + rounding) / _STEPS_PER_FEN, status="optimal"
        )
    model, x = _build_model(considered, weight=weight, checked=checked)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.relative_gap_limit = float(gap_limit)
    # CP-SAT's dual (domination) presolve turns this structure into hundreds of thousands of
    # implications: 15 s of presolve at 20,000 accounts. `_undominated` already removed what it
    # would find, and with it off the same model is solved to proven optimality in about 2 s.
    solver.parameters.keep_all_feasible_solutions_in_presolve = True
    code = solver.solve(model)
    if code == cp_model.INFEASIBLE:
        raise InvalidInput(_INFEASIBLE)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise HuancuiError(
            f"allocate: the solver found no allocation within {time_limit_s} s "
            f"({solver.status_name(code)}); raise time_limit_s"
        )
    choice = np.full(len(problem.accounts), -1, dtype=np.int64)
    for (i, j), var in x.items():
        if solver.boolean_value(var):
            choice[i] = j
    proved = solver.objective_value >= solver.best_objective_bound
    return _result(
        checked,
        choice=choice,
        bound=(solver.best_objective_bound + rounding) / _STEPS_PER_FEN,
        status="optimal" if proved else "feasible",
    )


def greedy_by_balance(problem: AllocationProblem, balance: np.ndarray) -> Allocation:
    """The bank's rule today: largest balance first, each gets the costliest treatment that fits.

    Accounts are taken in descending `balance` (or overdue amount); each gets the most costly
    allowed treatment whose resource use still fits what is left, which ends at the no-action
    baseline. Value is not looked at, which is the point of comparing it with `allocate`. The
    `bound` is the capacity-free optimum (every account's best allowed treatment), so `gap` is
    honest but loose.
    """
    checked = _check(problem)
    n = checked.net.shape[0]
    balance = np.asarray(balance, dtype=float)
    if balance.shape != (n,) or not np.all(np.isfinite(balance)):
        raise InvalidInput(f"balance: expected {n} finite amounts, got shape {balance.shape}")
    left = dict(checked.capacity)
    choice = np.full(n, -1, dtype=np.int64)
    for i in np.argsort(-balance, kind="stable"):
        for j in np.argsort(-checked.cost[i], kind="stable"):
            fits = all(int(checked.usage[r][j]) <= left[r] for r in left)
            if checked.allowed[i, j] and fits:
                choice[i] = j
                for r in left:
                    left[r] -= int(checked.usage[r][j])
                break
        else:
            raise InvalidInput(
                f"capacity: account {problem.accounts[i]} is allowed no treatment that still "
                "fits; allow it the no-action treatment"
            )
    best = np.where(checked.allowed, checked.net, -np.inf).max(axis=1).sum()
    return _result(checked, choice=choice, bound=float(best), status="feasible")


def _undominated(checked: _Checked) -> np.ndarray:
    """(n, m) mask of the allowed treatments worth considering for each account.

    Treatment j is dropped for an account when another allowed treatment k earns at least as much
    and uses no more of any resource (ties keep the lower index): any allocation using j stays
    feasible and no worse with k instead. Most accounts keep one or two options, which keeps the
    model, and CP-SAT's presolve of it, small at 20,000 accounts.
    """
    units = np.stack(list(checked.usage.values())) if checked.usage else np.zeros((1, 0), int)
    m = checked.net.shape[1]
    keep = checked.allowed.copy()
    for j in range(m):
        for k in range(m):
            no_more = bool(np.all(units[:, k] <= units[:, j])) if units.size else True
            if k == j or not no_more:
                continue
            fewer = bool(np.any(units[:, k] < units[:, j])) if units.size else False
            net_j, net_k = checked.net[:, j], checked.net[:, k]
            beats = (net_k > net_j) | ((net_k == net_j) & (fewer or k < j))
            keep[:, j] &= ~(checked.allowed[:, k] & beats)
    return keep


def _is_network(checked: _Checked) -> bool:
    """Whether each treatment takes at most one unit of at most one resource."""
    if not checked.usage:
        return True
    units = np.stack(list(checked.usage.values()))
    return bool(np.all(units <= 1) and np.all(units.sum(axis=0) <= 1))


def _solve_as_flow(
    considered: np.ndarray, *, weight: np.ndarray, checked: _Checked
) -> tuple[np.ndarray, float]:
    """The allocation maximising Σ weight as a min-cost flow, and that maximum (in steps).

    Each account is a node with one unit to send; an arc per considered treatment leads to the
    resource it uses (or straight to the sink when it uses none), and each resource passes at most
    its capacity to the sink. Integral capacities make the optimal flow integral: a 0/1 choice.
    """
    n = checked.net.shape[0]
    resources = list(checked.usage)
    sink = n + len(resources)
    head_of = np.full(checked.net.shape[1], sink, dtype=np.int64)
    for k, r in enumerate(resources):
        head_of[checked.usage[r] == 1] = n + k
    rows, cols = np.nonzero(considered)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        rows.astype(np.int32),
        head_of[cols].astype(np.int32),
        np.ones(rows.size, dtype=np.int64),
        -weight[rows, cols].astype(np.int64),
    )
    for k, r in enumerate(resources):
        flow.add_arc_with_capacity_and_unit_cost(n + k, sink, checked.capacity[r], 0)
    flow.set_nodes_supplies(
        np.arange(sink + 1, dtype=np.int32),
        np.concatenate([np.ones(n, np.int64), np.zeros(len(resources), np.int64), [-n]]),
    )
    code = flow.solve()
    if code == flow.INFEASIBLE:
        raise InvalidInput(_INFEASIBLE)
    if code != flow.OPTIMAL:
        raise HuancuiError(f"allocate: the min-cost flow failed ({code})")
    used = flow.flows(arcs) > 0
    choice = np.full(n, -1, dtype=np.int64)
    choice[rows[used]] = cols[used]
    return choice, -float(flow.optimal_cost())


def _build_model(
    considered: np.ndarray, *, weight: np.ndarray, checked: _Checked
) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """x[i, j] only where considered; one per account; a row per resource; max Σ weight·x."""
    model = cp_model.CpModel()
    rows, cols = np.nonzero(considered)
    x = {
        (int(i), int(j)): model.new_bool_var(f"x_{i}_{j}") for i, j in zip(rows, cols, strict=True)
    }
    per_account: list[list[cp_model.IntVar]] = [[] for _ in range(checked.net.shape[0])]
    for (i, _j), var in x.items():
        per_account[i].append(var)
    for options in per_account:
        model.add_exactly_one(options)
    for r, units in checked.usage.items():
        terms = [(var, int(units[j])) for (_i, j), var in x.items() if units[j] > 0]
        if terms:
            variables, coefficients = zip(*terms, strict=True)
            model.add(
                cp_model.LinearExpr.weighted_sum(variables, coefficients) <= checked.capacity[r]
            )
    keys = list(x)
    model.maximize(
        cp_model.LinearExpr.weighted_sum([x[k] for k in keys], [int(weight[k]) for k in keys])
    )
    return model, x


def _result(checked: _Checked, *, choice: np.ndarray, bound: float, status: Status) -> Allocation:
    rows = np.arange(choice.shape[0])
    objective = float(checked.net[rows, choice].sum())
    # The true optimum never exceeds the bound; a bound below the objective can only come from
    # float summation, so it is lifted rather than reported as a negative gap.
    bound = max(bound, objective)
    return Allocation(
        choice=choice,
        objective=objective,
        bound=bound,
        gap=(bound - objective) / max(abs(bound), 1.0),
        status=status,
        used={r: int(units[choice].sum()) for r, units in checked.usage.items()},
    )


def _check(problem: AllocationProblem) -> _Checked:
    """Every shape, sign and the baseline, with an error naming the field that is wrong."""
    n, m = len(problem.accounts), len(problem.treatments)
    _check_names(problem.accounts, field_name="accounts")
    _check_names(problem.treatments, field_name="treatments")
    if m == 0:
        raise InvalidInput("treatments: none given; include at least the no-action baseline")
    value = _finite(problem.value, shape=(n, m), field_name="value")
    cost = np.asarray(problem.cost, dtype=float)
    if cost.shape == (m,):
        cost = np.broadcast_to(cost, (n, m))
    cost = _finite(cost, shape=(n, m), field_name="cost")
    if np.any(cost < 0):
        raise InvalidInput(
            "cost: a treatment has a negative cost; costs are fen paid, zero or more"
        )
    capacity = _check_capacity(problem.capacity)
    usage = _check_usage(problem.usage, capacity=capacity, m=m)
    allowed = _check_allowed(problem.allowed, accounts=problem.accounts, shape=(n, m))
    idle = np.all([units == 0 for units in usage.values()], axis=0) if usage else np.ones(m, bool)
    if not idle.any():
        raise InvalidInput(
            "usage: every treatment uses some resource; add the no-action baseline "
            "(cost 0, zero usage of every resource)"
        )
    return _Checked(net=value - cost, allowed=allowed, usage=usage, capacity=capacity, cost=cost)


def _check_names(names: Sequence[str], *, field_name: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"{field_name}: {name!r} appears twice; ids must be unique")
        seen.add(name)


def _finite(array: np.ndarray, *, shape: tuple[int, int], field_name: str) -> np.ndarray:
    result = np.asarray(array, dtype=float)
    if result.shape != shape:
        raise InvalidInput(
            f"{field_name}: shape {result.shape} does not match (accounts, treatments) = {shape}"
        )
    if not np.all(np.isfinite(result)):
        raise InvalidInput(f"{field_name}: contains NaN or infinite amounts; give fen")
    return result


def _check_capacity(capacity: dict[str, int]) -> dict[str, int]:
    checked: dict[str, int] = {}
    for resource, units in capacity.items():
        if isinstance(units, bool) or int(units) != units or units < 0:
            raise InvalidInput(
                f"capacity: {resource!r} has {units} units; capacity is a whole number, zero or more"
            )
        checked[resource] = int(units)
    return checked


def _check_usage(
    usage: dict[str, np.ndarray], *, capacity: dict[str, int], m: int
) -> dict[str, np.ndarray]:
    if set(usage) != set(capacity):
        raise InvalidInput(
            f"usage: resources {sorted(usage)} differ from capacity's {sorted(capacity)}; "
            "give each resource both its usage per treatment and today's capacity"
        )
    checked: dict[str, np.ndarray] = {}
    for resource in capacity:
        units = np.asarray(usage[resource])
        if units.shape != (m,):
            raise InvalidInput(
                f"usage: {resource!r} has shape {units.shape}; expected one entry per treatment ({m})"
            )
        if not np.all(np.isfinite(units)) or np.any(units < 0) or np.any(units != np.rint(units)):
            raise InvalidInput(
                f"usage: {resource!r} must be whole units, zero or more, for every treatment"
            )
        checked[resource] = units.astype(np.int64)
    return checked


def _check_allowed(
    allowed: np.ndarray | None, *, accounts: Sequence[str], shape: tuple[int, int]
) -> np.ndarray:
    if allowed is None:
        return np.ones(shape, dtype=bool)
    result = np.asarray(allowed)
    if result.shape != shape or result.dtype != np.bool_:
        raise InvalidInput(
            f"allowed: expected a boolean array of shape {shape}, got {result.dtype} {result.shape}"
        )
    blocked = np.flatnonzero(~result.any(axis=1))
    if blocked.size:
        raise InvalidInput(
            f"allowed: account {accounts[int(blocked[0])]!r} is allowed no treatment; "
            "compliance must leave at least the no-action treatment open"
        )
    return result
