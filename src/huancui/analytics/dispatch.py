"""Who of tonight's staffed contacts goes ahead under call and visit capacity, and by which policy.

Owns the decision features, the candidate set drawn from a nightly plan, the three dispatch
policies (balance ranking, model-optimised, uniformly random), the uplift model they share with the
simulator's decision log, and writing a decision back into a plan. Pure: tables in, tables out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from huancui.analytics.allocation import AllocationProblem, allocate, greedy_by_balance
from huancui.analytics.uplift import (
    LEARNERS,
    TLearner,
    UpliftData,
    XLearner,
    average_treatment_effect,
    comparison,
    fit_t_learner,
    fit_x_learner,
    honest_validation,
)
from huancui.kit.errors import InvalidInput
from huancui.strategy.assignment import Arm, assign_arm

# Index 0 is the control: only the automated channels (SMS, e-mail, ...) the plan already holds.
TREATMENTS: tuple[str, ...] = ("automated", "call", "visit")
RESOURCES: tuple[str, ...] = ("call", "visit")
POLICIES: tuple[str, ...] = ("balance", "optimised", "random", "holdout")
# The holdout experiment's cells: an account's arm comes from the stable hash of this experiment
# and the account (strategy/assignment.py), so it stays in its arm night after night.
HOLDOUT_EXPERIMENT = "dispatch_holdout"
HOLDOUT_SHARE = 0.5
CAPACITY_REASON = "capacity"

# Every feature is computed from the snapshot accounts table alone (plus score columns, if joined):
#   days_past_due       days since the oldest unpaid due (0: current)
#   arrears_fen         amount past due, fen
#   balance_fen         principal + interest + fees owed, fen
#   paid_30d_fen        paid in the last 30 days, fen
#   missed_dues         dues unpaid past their grace period
#   cycles_delinquent   times the account has entered delinquency
#   grade               credit grade A..E as 0..4 (NaN if unknown)
#   is_card             1 for a credit card, 0 for an instalment loan
#   days_since_payment  days from the last payment to the snapshot date (NaN: never paid, or the
#                       snapshot date cannot be known; see `snapshot_date`)
#   arrears_ratio       arrears / credit limit (card) or loan amount (loan); NaN without either
#   balance_ratio       balance / credit limit or loan amount; NaN without either
#   score_*             the model scores of that night if the table carries them, else NaN
DECISION_FEATURES: tuple[str, ...] = (
    "days_past_due",
    "arrears_fen",
    "balance_fen",
    "paid_30d_fen",
    "missed_dues",
    "cycles_delinquent",
    "grade",
    "is_card",
    "days_since_payment",
    "arrears_ratio",
    "balance_ratio",
    "score_pay_30d",
    "score_roll",
    "score_ew",
    "score_ability",
    "score_willingness",
)
_NUMERIC = ("days_past_due", "arrears_fen", "balance_fen", "paid_30d_fen", "missed_dues")
_REQUIRED = (
    "account_id",
    *_NUMERIC,
    "cycles_delinquent",
    "credit_grade",
    "product",
    "last_payment_date",
)
_GRADES = ("A", "B", "C", "D", "E")
_SCORES = DECISION_FEATURES[DECISION_FEATURES.index("score_pay_30d") :]
_PLAN_REQUIRED = ("account_id", "channel", "status", "suppressed_by", "rules")
# Ordering of staffed treatments for the balance rule when no channel costs are given: a visit is
# the stronger and dearer contact, so the top of the ranking gets it first, as with real costs.
_RANK_COST = np.array([0.0, 1.0, 2.0])


@dataclass(frozen=True)
class Candidates:
    """Accounts with at least one planned call or visit tonight, in account_id order."""

    account_id: np.ndarray  # str, unique, sorted
    allowed: np.ndarray  # (n, 3) bool; column 0 (automated) always True
    features: np.ndarray  # (n, len(DECISION_FEATURES)) float64, NaN = missing
    arrears_fen: np.ndarray  # int64


def _need(table: pa.Table, columns: tuple[str, ...], *, name: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}")


def _floats(table: pa.Table, column: str) -> np.ndarray:
    try:
        values = pc.cast(table.column(column), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidInput(f"accounts: column {column} must be numeric") from None
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _dates(table: pa.Table, column: str) -> list[date | None]:
    try:
        values = pc.cast(table.column(column), pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidInput(f"accounts: column {column} must be a date") from None
    return list(values.to_pylist())


def snapshot_date(accounts: pa.Table) -> date | None:
    """The date the accounts table describes: its `as_of` column if any, else inferred.

    The snapshot carries no date column, but for every account in arrears
    days_past_due = snapshot date − oldest_unpaid_due_date (portfolio/delinquency.py), so the most
    common such sum is the date. None when nothing is in arrears and no `as_of` column exists.
    """
    if "as_of" in accounts.column_names and accounts.num_rows:
        first = _dates(accounts, "as_of")[0]
        if first is not None:
            return first
    if "oldest_unpaid_due_date" not in accounts.column_names:
        return None
    dues = _dates(accounts, "oldest_unpaid_due_date")
    days = _floats(accounts, "days_past_due")
    seen: dict[date, int] = {}
    for due, dpd in zip(dues, days, strict=True):
        if due is not None and np.isfinite(dpd):
            day = due + timedelta(days=int(dpd))
            seen[day] = seen.get(day, 0) + 1
    return max(seen, key=lambda d: seen[d]) if seen else None


def decision_features(accounts: pa.Table, *, as_of: date | None = None) -> np.ndarray:
    """The (rows, len(DECISION_FEATURES)) float64 features, rows in the table's order.

    `as_of` is the snapshot date for days_since_payment; by default `snapshot_date(accounts)`.
    """
    _need(accounts, _REQUIRED, name="accounts")
    n = accounts.num_rows
    out = np.full((n, len(DECISION_FEATURES)), np.nan, dtype=np.float64)
    col = {name: i for i, name in enumerate(DECISION_FEATURES)}
    for name in (*_NUMERIC, "cycles_delinquent"):
        out[:, col[name]] = _floats(accounts, name)
    grades = accounts.column("credit_grade").to_pylist()
    out[:, col["grade"]] = [_GRADES.index(g) if g in _GRADES else np.nan for g in grades]
    products = accounts.column("product").to_pylist()
    out[:, col["is_card"]] = [1.0 if p == "credit_card" else 0.0 for p in products]
    day = as_of or snapshot_date(accounts)
    if day is not None:
        paid = _dates(accounts, "last_payment_date")
        out[:, col["days_since_payment"]] = [
            float((day - p).days) if p is not None else np.nan for p in paid
        ]
    scale = np.full(n, np.nan)
    for column in ("loan_amount_fen", "credit_limit_fen"):  # a card's limit wins if both exist
        if column in accounts.column_names:
            size = _floats(accounts, column)
            scale = np.where(np.isfinite(size) & (size > 0), size, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, col["arrears_ratio"]] = out[:, col["arrears_fen"]] / scale
        out[:, col["balance_ratio"]] = out[:, col["balance_fen"]] / scale
    for name in _SCORES:
        if name in accounts.column_names:
            out[:, col[name]] = _floats(accounts, name)
    return out


def candidates(plan: pa.Table, accounts: pa.Table) -> Candidates:
    """Accounts with a planned call or visit, what each may get, and their features.

    A treatment is allowed only where the plan (after every compliance rule) still holds that
    channel as 'planned'; the automated control is always allowed. Every candidate must be in
    `accounts`.
    """
    _need(plan, _PLAN_REQUIRED, name="plan")
    staffed = plan.filter(
        pc.and_(
            pc.equal(plan.column("status"), "planned"),
            pc.is_in(plan.column("channel"), value_set=pa.array(RESOURCES)),
        )
    )
    ids = np.asarray(staffed.column("account_id").to_pylist(), dtype=object)
    channels = np.asarray(staffed.column("channel").to_pylist(), dtype=object)
    account_id = np.asarray(sorted(set(ids.tolist())), dtype=str)
    position = {a: i for i, a in enumerate(account_id.tolist())}
    allowed = np.zeros((account_id.size, len(TREATMENTS)), dtype=bool)
    allowed[:, 0] = True
    for a, channel in zip(ids.tolist(), channels.tolist(), strict=True):
        allowed[position[a], TREATMENTS.index(channel)] = True
    _need(accounts, ("account_id",), name="accounts")
    rows = {a: i for i, a in enumerate(accounts.column("account_id").to_pylist())}
    absent = [a for a in account_id.tolist() if a not in rows]
    if absent:
        raise InvalidInput(
            f"accounts: {len(absent)} planned account(s) missing from the accounts table, "
            f"e.g. {absent[0]}; use the snapshot of the plan's date"
        )
    picked = accounts.take(pa.array([rows[a] for a in account_id.tolist()], type=pa.int64()))
    features = decision_features(picked, as_of=snapshot_date(accounts))
    arrears = _floats(picked, "arrears_fen")
    if not np.all(np.isfinite(arrears)):
        raise InvalidInput("accounts: arrears_fen is missing for a planned account")
    return Candidates(
        account_id=account_id,
        allowed=allowed,
        features=features,
        arrears_fen=arrears.astype(np.int64),
    )


class ValueModel(Protocol):
    """What `optimised` ranks by: (n, 3) expected extra recovery in fen of each treatment over
    automated, column 0 zero. The registered uplift model is one; a research script may give
    another (simulation/loop.Dispatch.world_value)."""

    def predict_value_fen(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class UpliftModel:
    """A fitted T- or X-learner over TREATMENTS (arm 0 = automated) on DECISION_FEATURES."""

    learner: TLearner | XLearner
    kind: str  # "t" or "x"
    features: tuple[str, ...] = DECISION_FEATURES
    treatments: tuple[str, ...] = TREATMENTS
    outcome: str = "share"  # what the learner predicts: see OUTCOMES
    # Per staffed treatment: the weight of the learner's own uplift against the treatment's
    # average effect (in the learner's units), as chosen on held-out accounts (train_uplift).
    blend: tuple[float, ...] = (1.0, 1.0)
    mean_effect: tuple[float, ...] = (0.0, 0.0)

    def predict_value_fen(self, features: np.ndarray) -> np.ndarray:
        """(n, 3) expected extra recovery in fen of each treatment over automated; column 0 is 0."""
        values = np.asarray(features, dtype=np.float64)
        weight = np.asarray(self.blend, dtype=np.float64)
        uplift = weight * self.learner.predict_uplift(values) + (1.0 - weight) * np.asarray(
            self.mean_effect, dtype=np.float64
        )
        if self.outcome == "share":
            uplift = uplift * _arrears_base(values)[:, None]
        return np.column_stack([np.zeros(uplift.shape[0]), uplift])


# What an uplift learner is fitted on. "fen": the reward itself. "share": the reward as a share
# of the arrears at the decision (arrears of at least one yuan), turned back into fen by
# multiplying with the account's arrears. Payments scale with arrears over three orders of
# magnitude, so in fen a T-learner's two outcome models mostly learn the size of the debt and their
# difference is noise; as a share, the learners see the effect itself. On the simulator's
# random-dispatch log the share model ranked calls above the arrears ranking in held-out Qini, the
# fen model below it (docs/analytics.md).
OUTCOMES: tuple[str, ...] = ("share", "fen")
# The blends of learner and average effect train_uplift tries on held-out accounts.
BLENDS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
_ARREARS = DECISION_FEATURES.index("arrears_fen")
# Arrears below one yuan count as one yuan (no division by zero). A higher floor (100 yuan) was
# tried: the learners ranked calls worse on held-out accounts.
_MIN_ARREARS_FEN = 100


def _arrears_base(features: np.ndarray) -> np.ndarray:
    arrears = np.nan_to_num(features[:, _ARREARS], nan=0.0)
    base: np.ndarray = np.maximum(arrears, _MIN_ARREARS_FEN)
    return base


@dataclass(frozen=True)
class Decision:
    """One treatment per candidate, with the policy's probability of it and the model's value."""

    account_id: np.ndarray
    treatment: np.ndarray  # int64 index into TREATMENTS
    propensity: np.ndarray  # float64
    value_fen: np.ndarray  # float64: value − cost of the chosen treatment vs automated
    policy: str
    objective_fen: float | None
    bound_fen: float | None
    gap: float | None
    used: dict[str, int]
    status: str | None = None  # the solver's "optimal" / "feasible" under 'optimised'


def _check_capacity(capacity: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(capacity) - set(RESOURCES))
    missing = [r for r in RESOURCES if r not in capacity]
    if unknown or missing:
        raise InvalidInput(
            f"capacity: give whole units for each of {', '.join(RESOURCES)}"
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
            + (f"; missing {', '.join(missing)}" if missing else "")
        )
    checked: dict[str, int] = {}
    for r in RESOURCES:
        units = capacity[r]
        if isinstance(units, bool) or not isinstance(units, int | np.integer) or units < 0:
            raise InvalidInput(f"capacity: {r}={units!r}; expected a whole number, zero or more")
        checked[r] = int(units)
    return checked


def _cost_vector(costs_fen: Mapping[str, int] | None) -> np.ndarray:
    """Cost in fen of each treatment over automated: the staffed contact's own unit cost."""
    if costs_fen is None:
        return np.zeros(len(TREATMENTS))
    missing = [r for r in RESOURCES if r not in costs_fen]
    if missing:
        raise InvalidInput(f"costs_fen: no cost for {', '.join(missing)}")
    costs = [0] + [costs_fen[r] for r in RESOURCES]
    if any(isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 0 for c in costs):
        raise InvalidInput("costs_fen: costs are whole fen, zero or more")
    return np.asarray(costs, dtype=np.float64)


def _problem(
    cands: Candidates, *, capacity: dict[str, int], value: np.ndarray, cost: np.ndarray
) -> AllocationProblem:
    return AllocationProblem(
        accounts=cands.account_id.tolist(),
        treatments=TREATMENTS,
        value=value,
        cost=cost,
        usage={r: np.asarray([1 if t == r else 0 for t in TREATMENTS]) for r in RESOURCES},
        capacity=capacity,
        allowed=cands.allowed,
    )


def _used(treatment: np.ndarray) -> dict[str, int]:
    return {r: int(np.sum(treatment == TREATMENTS.index(r))) for r in RESOURCES}


def _check_candidates(cands: Candidates) -> None:
    n = cands.account_id.shape[0]
    if cands.allowed.shape != (n, len(TREATMENTS)) or cands.allowed.dtype != np.bool_:
        raise InvalidInput(f"candidates: allowed must be a ({n}, {len(TREATMENTS)}) bool array")
    if n and not cands.allowed[:, 0].all():
        raise InvalidInput("candidates: the automated treatment (column 0) must always be allowed")
    if cands.features.shape != (n, len(DECISION_FEATURES)):
        raise InvalidInput(f"candidates: features must have shape ({n}, {len(DECISION_FEATURES)})")


def decide(
    cands: Candidates,
    *,
    capacity: Mapping[str, int],
    policy: str,
    model: ValueModel | None = None,
    costs_fen: Mapping[str, int] | None = None,
    seed: int = 0,
    day: int = 0,
    time_limit_s: float = 10.0,
) -> Decision:
    """Choose a treatment per candidate within `capacity`, never one the plan does not allow.

    balance: highest arrears first, each gets the dearest allowed staffed treatment still in
    capacity (visit before call; `greedy_by_balance`). optimised: maximise Σ model value − cost
    exactly (CP-SAT, `allocate`); needs `model`. random: see `_random`. holdout: see `_holdout`;
    the experiment that trains the uplift model, and the one policy that ignores `capacity`. `value_fen` is the model's
    value − cost of the chosen treatment (0 for automated), NaN without a model. `costs_fen` are the
    unit costs of call and visit in fen (None: 0).
    """
    if policy not in POLICIES:
        raise InvalidInput(f"policy: {policy!r}; expected one of {', '.join(POLICIES)}")
    _check_candidates(cands)
    checked = _check_capacity(capacity)
    cost = _cost_vector(costs_fen)
    n = cands.account_id.shape[0]
    uplift: np.ndarray | None = None
    if model is not None:
        uplift = model.predict_value_fen(cands.features) if n else np.zeros((0, 3))
    elif policy == "optimised":
        raise InvalidInput(
            "policy optimised: needs an uplift model; train one with `huancui model uplift`"
        )
    if n == 0:
        empty = np.zeros(0)
        return Decision(
            account_id=cands.account_id,
            treatment=empty.astype(np.int64),
            propensity=empty,
            value_fen=empty,
            policy=policy,
            objective_fen=0.0 if policy == "optimised" else None,
            bound_fen=0.0 if policy == "optimised" else None,
            gap=0.0 if policy == "optimised" else None,
            used=dict.fromkeys(RESOURCES, 0),
            status="optimal" if policy == "optimised" else None,
        )
    objective = bound = gap = None
    status = None
    if policy == "random":
        treatment, propensity = _random(cands.allowed, capacity=checked, seed=seed, day=day)
    elif policy == "holdout":
        treatment, propensity = _holdout(cands)
    elif policy == "balance":
        rank_cost = cost if costs_fen is not None and cost[2] > cost[1] > 0 else _RANK_COST
        problem = _problem(cands, capacity=checked, value=np.zeros((n, 3)), cost=rank_cost)
        treatment = greedy_by_balance(problem, cands.arrears_fen.astype(np.float64)).choice
        propensity = np.ones(n)
    else:
        assert uplift is not None
        solved = allocate(
            _problem(cands, capacity=checked, value=uplift, cost=cost), time_limit_s=time_limit_s
        )
        treatment, propensity = solved.choice, np.ones(n)
        objective, bound, gap, status = solved.objective, solved.bound, solved.gap, solved.status
    rows = np.arange(n)
    value = (uplift - cost)[rows, treatment] if uplift is not None else np.full(n, np.nan)
    return Decision(
        account_id=cands.account_id,
        treatment=np.asarray(treatment, dtype=np.int64),
        propensity=np.asarray(propensity, dtype=np.float64),
        value_fen=np.asarray(value, dtype=np.float64),
        policy=policy,
        objective_fen=objective,
        bound_fen=bound,
        gap=gap,
        used=_used(treatment),
        status=status,
    )


def _random(
    allowed: np.ndarray, *, capacity: dict[str, int], seed: int, day: int
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform draws per resource, reproducible from (seed, day), with each choice's probability.

    Visits are drawn first: min(capacity, pool) accounts uniformly from all accounts allowed a
    visit, so each has p_visit = min(1, capacity / pool). Calls are then drawn the same way from
    the accounts allowed a call that did not get a visit (pool m), q = min(1, capacity / m). An
    account allowed both therefore gets a call with probability (1 − p_visit)·q and automated
    with 1 − p_visit − (1 − p_visit)·q; q uses the realised call pool, which its own visit draw
    changes by at most one account, so this is exact up to that one-in-m effect. Call-only
    accounts: q and 1 − q; visit-only: p_visit and 1 − p_visit.
    """
    rng = np.random.default_rng([seed, day])
    n = allowed.shape[0]
    treatment = np.zeros(n, dtype=np.int64)
    call, visit = TREATMENTS.index("call"), TREATMENTS.index("visit")
    visit_pool = np.flatnonzero(allowed[:, visit])
    p_visit = min(1.0, capacity["visit"] / visit_pool.size) if visit_pool.size else 0.0
    drawn = rng.permutation(visit_pool)[: capacity["visit"]]
    treatment[drawn] = visit
    call_pool = np.flatnonzero(allowed[:, call] & (treatment != visit))
    q = min(1.0, capacity["call"] / call_pool.size) if call_pool.size else 0.0
    treatment[rng.permutation(call_pool)[: capacity["call"]]] = call
    p_v = np.where(allowed[:, visit], p_visit, 0.0)
    p_c = np.where(allowed[:, call], (1.0 - p_v) * q, 0.0)
    probability = np.column_stack([1.0 - p_v - p_c, p_c, p_v])
    return treatment, probability[np.arange(n), treatment]


def _holdout(cands: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """A randomised experiment in account cells: HOLDOUT_SHARE of the accounts, by the stable hash
    of (HOLDOUT_EXPERIMENT, account), get automated contact only, the others every staffed contact
    the plan allows (a visit where one is planned, else the call), night after night.

    Unlike `random`, whose controls mostly get the contact a few nights later, the arms stay apart
    for the whole reward window, so the log measures what staffed contact adds, not what contacting
    first adds. The staffed half gets all its planned calls and visits whatever the capacity: the
    bank staffs the experiment for the weeks it runs."""
    arms = [Arm("automated", HOLDOUT_SHARE)]
    held = np.asarray(
        [
            assign_arm(experiment=HOLDOUT_EXPERIMENT, account_id=str(a), arms=arms) is not None
            for a in cands.account_id
        ],
        dtype=bool,
    )
    call, visit = TREATMENTS.index("call"), TREATMENTS.index("visit")
    staffed = np.where(cands.allowed[:, visit], visit, np.where(cands.allowed[:, call], call, 0))
    treatment = np.where(held, 0, staffed).astype(np.int64)
    propensity = np.where(held, HOLDOUT_SHARE, 1.0 - HOLDOUT_SHARE)
    return treatment, propensity


def apply(plan: pa.Table, decision: Decision) -> pa.Table:
    """The plan with staffed rows the decision did not give suppressed for capacity.

    A planned call or visit row of an account in the decision whose treatment is not that channel
    becomes status 'suppressed', suppressed_by 'capacity', with 'capacity' appended to its
    comma-separated rules. Accounts outside the decision and every other row stay as they are.
    """
    _need(plan, _PLAN_REQUIRED, name="plan")
    chosen = {
        a: TREATMENTS[int(t)]
        for a, t in zip(decision.account_id.tolist(), decision.treatment.tolist(), strict=True)
    }
    ids = plan.column("account_id").to_pylist()
    channels = plan.column("channel").to_pylist()
    statuses = plan.column("status").to_pylist()
    cut = [
        s == "planned" and c in RESOURCES and a in chosen and chosen[a] != c
        for a, c, s in zip(ids, channels, statuses, strict=True)
    ]
    if not any(cut):
        return plan
    rules = plan.column("rules").to_pylist()
    by = plan.column("suppressed_by").to_pylist()
    new_status = ["suppressed" if x else s for x, s in zip(cut, statuses, strict=True)]
    new_by = [CAPACITY_REASON if x else b for x, b in zip(cut, by, strict=True)]
    new_rules = [
        (f"{r},{CAPACITY_REASON}" if r else CAPACITY_REASON) if x else r
        for x, r in zip(cut, rules, strict=True)
    ]
    for name, values in (("status", new_status), ("suppressed_by", new_by), ("rules", new_rules)):
        index = plan.schema.get_field_index(name)
        field = plan.schema.field(index)
        plan = plan.set_column(index, field, pa.array(values, type=field.type))
    return plan


LOG_TYPES: dict[str, pa.DataType] = {
    "account_id": pa.string(),
    "day": pa.int64(),
    **dict.fromkeys(DECISION_FEATURES, pa.float64()),
    "treatment": pa.string(),
    "propensity": pa.float64(),
    "reward_fen": pa.float64(),
    "allowed_call": pa.bool_(),
    "allowed_visit": pa.bool_(),
}
LOG_SCHEMA = pa.schema(list(LOG_TYPES.items()))


def check_log(log: pa.Table) -> pa.Table:
    """The decision log cast to LOG_SCHEMA, or InvalidInput naming the column that is wrong."""
    missing = [c for c in LOG_TYPES if c not in log.column_names]
    if missing:
        raise InvalidInput(f"decision log: missing column(s) {', '.join(missing)}")
    if log.num_rows == 0:
        raise InvalidInput("decision log: no rows; run the simulator long enough to close a window")
    columns = []
    for name, kind in LOG_TYPES.items():
        try:
            column = pc.cast(log.column(name), kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInput(
                f"decision log: column {name} has type {log.schema.field(name).type}; "
                f"expected {kind}"
            ) from None
        if name not in DECISION_FEATURES and column.null_count:
            raise InvalidInput(f"decision log: column {name} has {column.null_count} empty values")
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=LOG_SCHEMA)
    unknown = sorted(set(table.column("treatment").to_pylist()) - set(TREATMENTS))
    if unknown:
        raise InvalidInput(
            f"decision log: column treatment has {', '.join(map(repr, unknown))}; "
            f"expected one of {', '.join(TREATMENTS)}"
        )
    for name in (*DECISION_FEATURES, "propensity", "reward_fen"):
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if np.isinf(values).any():
            raise InvalidInput(f"decision log: column {name} has infinite values")
    return table


def _mean_effect(data: UpliftData, *, arm: int, base: np.ndarray | None, rows: np.ndarray) -> float:
    """The arm's average effect in the learner's units over `rows` (bool): in fen, or for a share
    outcome the average effect in fen over the average arrears (a ratio of means, which a few
    small arrears cannot drive), so that mean effect × arrears averages to the effect in fen."""
    pair = comparison(data, arm, rows)
    treated = data.treatment[pair] == arm
    if base is None:
        return average_treatment_effect(treated, data.outcome[pair], data.propensity[pair])[0]
    money = data.outcome[pair] * base[pair]
    effect = average_treatment_effect(treated, money, data.propensity[pair])[0]
    return float(effect / np.mean(base[pair]))


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """int64 codes of a column's distinct values (a null is a value of its own)."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def first_nights(log: pa.Table) -> np.ndarray:
    """(rows,) bool: each account's first logged night (per world: the simulator's logs carry a
    `seed` column, and account ids repeat across worlds).

    Staffed contact only reaches candidates, so on its first night as a candidate no arm has yet
    acted on an account: the rows where the experiment's arms are still alike but for chance."""
    key = _codes(log.column("account_id"))
    if "seed" in log.column_names:
        key = _codes(log.column("seed")) * (int(key.max(initial=-1)) + 1) + key
    order = np.argsort(log.column("day").to_numpy(zero_copy_only=False), kind="stable")
    first = np.zeros(log.num_rows, dtype=bool)
    _, at = np.unique(key[order], return_index=True)  # first occurrence, in day order
    first[order[at]] = True
    return first


def train_uplift(
    log: pa.Table, *, seed: int = 7, learner: str = "t", outcome: str = "share"
) -> tuple[UpliftModel, dict[str, Any]]:
    """Fit the uplift model on the whole decision log and judge it on a held-out part first.

    The report carries, per staffed treatment against automated: the held-out Qini coefficient,
    the spread of random rankings' coefficients (`qini_null_sd`; within ~3 of it is noise), the
    held-out average effect with its 95 % interval, the mean predicted uplift, and row counts.
    Effects and the held-out figures compare a treatment's rows with the control rows allowed
    that treatment, on each account's first logged night only (`first_nights`; see
    uplift.honest_validation for why); the learners fit on every row.
    """
    if learner not in LEARNERS:
        raise InvalidInput(f"learner: {learner!r}; expected one of {', '.join(LEARNERS)}")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome: {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    table = check_log(log)
    judged = first_nights(log)
    features = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False) for n in DECISION_FEATURES]
    ).astype(np.float64)
    names = table.column("treatment").to_pylist()
    reward = table.column("reward_fen").to_numpy(zero_copy_only=False).astype(np.float64)
    data = UpliftData(
        features=features,
        treatment=np.asarray([TREATMENTS.index(t) for t in names], dtype=np.int64),
        outcome=reward / _arrears_base(features) if outcome == "share" else reward,
        propensity=table.column("propensity").to_numpy(zero_copy_only=False),
    )
    if data.arms != len(TREATMENTS):
        raise InvalidInput(
            "decision log: column treatment never holds 'visit'; the log needs every treatment"
        )
    eligible = np.column_stack(
        [table.column(f"allowed_{r}").to_numpy(zero_copy_only=False) for r in RESOURCES]
    ).astype(bool)
    # Judged in fen whatever the learner fits: held-out Qini and effects are money. Accounts give
    # a row a night, so the split is by account: the judge sees accounts the learner never saw.
    validation = honest_validation(
        data,
        seed=seed,
        learner=learner,
        scale=_arrears_base(features) if outcome == "share" else None,
        groups=table.column("account_id").to_numpy(zero_copy_only=False),
        blends=BLENDS,
        eligible=eligible,
        judged=judged,
    )
    fitted = fit_t_learner(data, seed=seed) if learner == "t" else fit_x_learner(data, seed=seed)
    blend = tuple(float(validation["arms"][arm]["blend"]) for arm in range(1, len(TREATMENTS)))
    mean_effect = tuple(
        _mean_effect(
            data,
            arm=arm,
            base=_arrears_base(features) if outcome == "share" else None,
            rows=eligible[:, arm - 1] & judged,
        )
        for arm in range(1, len(TREATMENTS))
    )
    treatments: dict[str, dict[str, Any]] = {}
    for arm, result in validation["arms"].items():
        sd = result["qini_null_sd"]
        treatments[TREATMENTS[arm]] = {
            key: value for key, value in result.items() if key != "qini"
        } | {"qini_z": result["qini_coefficient"] / sd if sd > 0 else None}
    days = table.column("day").to_numpy()
    report = {
        "learner": learner,
        "outcome": outcome,
        "seed": seed,
        "rows": table.num_rows,
        # Accounts per world (a simulator's log holds several worlds): one first night each.
        "accounts": int(judged.sum()),
        "days": [int(days.min()), int(days.max())],
        "treatment_rows": {t: names.count(t) for t in TREATMENTS},
        "judged_rows": int(judged.sum()),
        "n_train": validation["n_train"],
        "n_test": validation["n_test"],
        "treatments": treatments,
        "features": list(DECISION_FEATURES),
    }
    report["blend"] = dict(zip(TREATMENTS[1:], blend, strict=True))
    report["mean_effect"] = dict(zip(TREATMENTS[1:], mean_effect, strict=True))
    model = UpliftModel(
        learner=fitted, kind=learner, outcome=outcome, blend=blend, mean_effect=mean_effect
    )
    return model, report
