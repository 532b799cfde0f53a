"""Dispatch under capacity: candidates from a plan, the three policies, writing back, the uplift
model trained on a randomised decision log."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huancui.analytics import registry
from huancui.analytics.dispatch import (
    DECISION_FEATURES,
    HOLDOUT_EXPERIMENT,
    LOG_SCHEMA,
    RESOURCES,
    TREATMENTS,
    Candidates,
    UpliftModel,
    apply,
    candidates,
    check_log,
    decide,
    decision_features,
    first_nights,
    train_uplift,
)
from huancui.kit.errors import InvalidInput
from huancui.strategy.assignment import Arm, assign_arm

COSTS = {"call": 300, "visit": 12_000}
COL = {name: i for i, name in enumerate(DECISION_FEATURES)}
CALL, VISIT = TREATMENTS.index("call"), TREATMENTS.index("visit")


def synthetic_log(
    rows: int, *, seed: int, call_effect: float = 5_000.0, visit_effect: float = 20_000.0
) -> pa.Table:
    """A randomised log: a call earns `call_effect` fen only past 30 days overdue, a visit earns
    `visit_effect` only where arrears exceed half the limit; noise sd 3,000 fen."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, len(DECISION_FEATURES)))
    features[:, COL["days_past_due"]] = rng.integers(1, 90, rows)
    features[:, COL["arrears_ratio"]] = rng.random(rows)
    features[:, COL["score_ew"]] = np.nan
    share = np.array([0.5, 0.3, 0.2])
    arm = rng.choice(3, size=rows, p=share)
    effect = np.zeros(rows)
    effect[arm == CALL] = call_effect * (features[arm == CALL, COL["days_past_due"]] > 30)
    effect[arm == VISIT] = visit_effect * (features[arm == VISIT, COL["arrears_ratio"]] > 0.5)
    reward = 10_000 + 2_000 * features[:, COL["grade"]] + effect + rng.normal(0, 3_000, rows)
    columns: dict[str, object] = {
        "account_id": [f"A{i:06d}" for i in range(rows)],
        "day": rng.integers(0, 30, rows),
        **{name: features[:, i] for i, name in enumerate(DECISION_FEATURES)},
        "treatment": [TREATMENTS[a] for a in arm],
        "propensity": share[arm],
        "reward_fen": reward,
        "allowed_call": np.ones(rows, bool),
        "allowed_visit": np.ones(rows, bool),
    }
    return pa.table(columns, schema=LOG_SCHEMA)


@pytest.fixture(scope="module")
def model() -> UpliftModel:
    fitted, _ = train_uplift(synthetic_log(3_000, seed=1))
    return fitted


def make_candidates(allowed_call: list[bool], allowed_visit: list[bool], seed: int) -> Candidates:
    n = len(allowed_call)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, len(DECISION_FEATURES)))
    features[:, COL["days_past_due"]] = rng.integers(1, 90, n)
    features[:, COL["arrears_ratio"]] = rng.random(n)
    allowed = np.column_stack([np.ones(n, bool), allowed_call, allowed_visit])
    return Candidates(
        account_id=np.asarray([f"A{i:04d}" for i in range(n)]),
        allowed=allowed,
        features=features,
        arrears_fen=rng.integers(0, 10**7, n).astype(np.int64),
    )


@st.composite
def staffed(draw: st.DrawFn) -> tuple[Candidates, dict[str, int]]:
    n = draw(st.integers(1, 30))
    flags = draw(st.lists(st.sampled_from([(1, 0), (0, 1), (1, 1)]), min_size=n, max_size=n))
    cands = make_candidates(
        [bool(c) for c, _ in flags], [bool(v) for _, v in flags], draw(st.integers(0, 99))
    )
    capacity = {r: draw(st.integers(0, n + 2)) for r in RESOURCES}
    return cands, capacity


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=staffed(), policy=st.sampled_from(["balance", "optimised", "random"]))
def test_no_policy_exceeds_capacity_or_gives_a_treatment_not_allowed(
    model: UpliftModel, case: tuple[Candidates, dict[str, int]], policy: str
) -> None:
    cands, capacity = case
    decision = decide(cands, capacity=capacity, policy=policy, model=model, costs_fen=COSTS)
    rows = np.arange(cands.account_id.size)
    assert cands.allowed[rows, decision.treatment].all()
    for r in RESOURCES:
        given_r = int(np.sum(decision.treatment == TREATMENTS.index(r)))
        assert given_r == decision.used[r] <= capacity[r]
    assert ((decision.propensity > 0) & (decision.propensity <= 1)).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=staffed())
def test_optimised_earns_at_least_the_balance_ranking_by_the_model(
    model: UpliftModel, case: tuple[Candidates, dict[str, int]]
) -> None:
    cands, capacity = case
    best = decide(cands, capacity=capacity, policy="optimised", model=model, costs_fen=COSTS)
    ranked = decide(cands, capacity=capacity, policy="balance", model=model, costs_fen=COSTS)
    # CP-SAT solves in hundredths of a fen: at most 0.005 fen per account can be lost to rounding.
    assert best.value_fen.sum() >= ranked.value_fen.sum() - 0.005 * cands.account_id.size
    assert (
        best.status == "optimal" and best.bound_fen is not None and best.objective_fen is not None
    )
    assert best.bound_fen - best.objective_fen <= 0.005 * cands.account_id.size + 1e-9
    assert best.objective_fen == pytest.approx(best.value_fen.sum())


def test_balance_gives_staffed_contact_to_the_largest_arrears_first() -> None:
    cands = make_candidates([True] * 6, [False, False, False, True, True, True], seed=3)
    decision = decide(cands, capacity={"call": 2, "visit": 1}, policy="balance")
    order = np.argsort(-cands.arrears_fen)
    visit_only = [i for i in order if cands.allowed[i, VISIT]]
    assert decision.treatment[visit_only[0]] == VISIT
    called = [i for i in order if decision.treatment[i] == CALL]
    skipped = [i for i in order if decision.treatment[i] == 0]
    assert min(cands.arrears_fen[called]) >= max(cands.arrears_fen[skipped])
    assert np.isnan(decision.value_fen).all() and (decision.propensity == 1).all()


def test_optimised_without_a_model_says_how_to_train_one() -> None:
    cands = make_candidates([True], [True], seed=0)
    with pytest.raises(InvalidInput, match="huancui model uplift"):
        decide(cands, capacity={"call": 1, "visit": 1}, policy="optimised")
    with pytest.raises(InvalidInput, match="visit"):
        decide(cands, capacity={"call": 1}, policy="balance")


def test_random_is_reproducible_and_its_propensities_match_how_often_it_chooses() -> None:
    # 10 call-only, 10 visit-only, 10 allowed both; 6 calls and 4 visits a day.
    flags = [(True, False)] * 10 + [(False, True)] * 10 + [(True, True)] * 10
    cands = make_candidates([c for c, _ in flags], [v for _, v in flags], seed=5)
    capacity = {"call": 6, "visit": 4}
    first = decide(cands, capacity=capacity, policy="random", seed=11, day=3)
    again = decide(cands, capacity=capacity, policy="random", seed=11, day=3)
    other = decide(cands, capacity=capacity, policy="random", seed=11, day=4)
    assert (first.treatment == again.treatment).all()
    assert (first.propensity == again.propensity).all()
    assert (first.treatment != other.treatment).any()

    days = 3_000
    counts = np.zeros((30, 3))
    expected = np.zeros((30, 3))
    for day in range(days):
        d = decide(cands, capacity=capacity, policy="random", seed=11, day=day)
        counts[np.arange(30), d.treatment] += 1
        expected[np.arange(30), d.treatment] += d.propensity
    frequency = counts / days
    # The propensity recorded with a choice, averaged over the days it was made, is how often
    # that choice is made.
    recorded = np.divide(expected, counts, out=np.zeros_like(expected), where=counts > 0)
    chosen = counts > 100
    assert np.abs(frequency[chosen] - recorded[chosen]).max() < 0.05
    # Visit-only accounts: 4 visits among 20 visit candidates; call-only: 6 calls among ~18.
    assert frequency[10:20, VISIT].mean() == pytest.approx(0.2, abs=0.02)
    assert frequency[:10, CALL].mean() == pytest.approx(6 / 18, abs=0.03)


def plan_table(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "account_id": [r[0] for r in rows],
            "customer_id": ["C" + r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "suppressed_by": pa.array(
                [None if r[2] == "planned" else "consent.missing" for r in rows], pa.string()
            ),
            "rules": ["strategy.x" if r[2] == "planned" else "consent.missing" for r in rows],
            "priority": pa.array([float(i) for i in range(len(rows))]),
        }
    )


def accounts_table(ids: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "account_id": ids,
            "customer_id": ["C" + a for a in ids],
            "product": ["credit_card", "instalment_loan"] * (n // 2) + ["credit_card"] * (n % 2),
            "credit_grade": [("A", "C", "E", None)[i % 4] for i in range(n)],
            "days_past_due": [10 * (i + 1) for i in range(n)],
            "arrears_fen": [100_000 * (i + 1) for i in range(n)],
            "balance_fen": [1_000_000] * n,
            "paid_30d_fen": [0] * n,
            "missed_dues": [1] * n,
            "cycles_delinquent": [1] * n,
            "last_payment_date": pa.array(
                [date(2026, 10, 28) if i % 2 else None for i in range(n)], pa.date32()
            ),
            "oldest_unpaid_due_date": pa.array(
                [date.fromordinal(date(2026, 11, 27).toordinal() - 10 * (i + 1)) for i in range(n)],
                pa.date32(),
            ),
            "credit_limit_fen": pa.array([2_000_000, None] * (n // 2) + [2_000_000] * (n % 2)),
            "loan_amount_fen": pa.array([None, 5_000_000] * (n // 2) + [None] * (n % 2)),
        }
    )


def test_holdout_keeps_each_account_in_its_arm_every_night_whatever_it_looks_like() -> None:
    """The experiment the uplift model learns from: half the accounts by the stable hash get no
    staffed contact, the rest every planned call or visit, the same on every night."""
    cands = make_candidates([True] * 2_000, [False] * 1_000 + [True] * 1_000, seed=3)
    first = decide(cands, capacity={"call": 0, "visit": 0}, policy="holdout", day=1)
    again = decide(
        make_candidates([True] * 2_000, [False] * 1_000 + [True] * 1_000, seed=4),
        capacity={"call": 10, "visit": 10},
        policy="holdout",
        seed=8,
        day=9,
    )
    assert (first.treatment == again.treatment).all()  # other features, night, seed: same arms
    held = first.treatment == 0
    assert 0.45 < held.mean() < 0.55
    for i, account in enumerate(cands.account_id.tolist()):
        in_holdout = assign_arm(
            experiment=HOLDOUT_EXPERIMENT, account_id=account, arms=[Arm("automated", 0.5)]
        )
        assert held[i] == (in_holdout is not None)
    staffed = ~held
    assert (first.treatment[staffed & cands.allowed[:, VISIT]] == VISIT).all()
    assert (first.treatment[staffed & ~cands.allowed[:, VISIT]] == CALL).all()
    assert (first.propensity == 0.5).all()
    assert first.used["call"] > 0 and first.used["visit"] > 0  # capacity does not bind it


def test_decision_features_are_read_from_the_accounts_table_alone() -> None:
    features = decision_features(accounts_table(["A1", "A2", "A3", "A4"]))
    assert features.shape == (4, len(DECISION_FEATURES))
    assert features[:, COL["grade"]].tolist()[:3] == [0.0, 2.0, 4.0]
    assert np.isnan(features[3, COL["grade"]])
    assert features[:, COL["is_card"]].tolist() == [1.0, 0.0, 1.0, 0.0]
    # The snapshot date (2026-11-27) is inferred from days past due and the oldest unpaid due.
    assert np.isnan(features[0, COL["days_since_payment"]])
    assert features[1, COL["days_since_payment"]] == 30.0
    assert features[0, COL["arrears_ratio"]] == pytest.approx(100_000 / 2_000_000)
    assert features[1, COL["arrears_ratio"]] == pytest.approx(200_000 / 5_000_000)
    assert np.isnan(features[:, COL["score_pay_30d"]]).all()


def test_candidates_are_the_accounts_with_a_planned_call_or_visit() -> None:
    plan = plan_table(
        [
            ("A2", "call", "planned"),
            ("A2", "visit", "suppressed"),
            ("A1", "visit", "planned"),
            ("A1", "call", "planned"),
            ("A3", "sms", "planned"),
            ("A4", "call", "suppressed"),
        ]
    )
    cands = candidates(plan, accounts_table(["A1", "A2", "A3", "A4"]))
    assert cands.account_id.tolist() == ["A1", "A2"]
    assert cands.allowed.tolist() == [[True, True, True], [True, True, False]]
    assert cands.arrears_fen.tolist() == [100_000, 200_000]
    with pytest.raises(InvalidInput, match="missing from the accounts table"):
        candidates(plan, accounts_table(["A1"]))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["A1", "A2", "A3", "A4"]),
            st.sampled_from(["call", "visit", "sms", "letter"]),
            st.sampled_from(["planned", "suppressed"]),
        ),
        min_size=1,
        max_size=16,
        unique_by=lambda r: (r[0], r[1]),
    ),
    capacity=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 50),
)
def test_apply_only_suppresses_staffed_rows_the_decision_did_not_give(
    rows: list[tuple[str, str, str]], capacity: tuple[int, int], seed: int
) -> None:
    plan = plan_table(rows)
    cands = candidates(plan, accounts_table(["A1", "A2", "A3", "A4"]))
    decision = decide(
        cands, capacity={"call": capacity[0], "visit": capacity[1]}, policy="random", seed=seed
    )
    after = apply(plan, decision)
    assert after.schema == plan.schema and after.num_rows == plan.num_rows
    chosen = dict(zip(decision.account_id.tolist(), decision.treatment.tolist(), strict=True))
    for old, new in zip(plan.to_pylist(), after.to_pylist(), strict=True):
        staffed_row = old["status"] == "planned" and old["channel"] in RESOURCES
        if staffed_row and TREATMENTS[chosen[old["account_id"]]] != old["channel"]:
            assert new["status"] == "suppressed" and new["suppressed_by"] == "capacity"
            assert new["rules"] == old["rules"] + ",capacity"
            assert {
                k: v for k, v in new.items() if k not in ("status", "suppressed_by", "rules")
            } == {k: v for k, v in old.items() if k not in ("status", "suppressed_by", "rules")}
        else:
            assert new == old
    still = [r for r in after.to_pylist() if r["status"] == "planned" and r["channel"] in RESOURCES]
    assert sum(r["channel"] == "call" for r in still) <= capacity[0]
    assert sum(r["channel"] == "visit" for r in still) <= capacity[1]


def test_train_uplift_finds_a_known_heterogeneous_effect() -> None:
    model, report = train_uplift(synthetic_log(4_000, seed=5))
    call, visit = report["treatments"]["call"], report["treatments"]["visit"]
    # Held out: a real ranking signal, well above what random rankings show.
    assert call["qini_z"] > 3 and visit["qini_z"] > 3
    # True average effects: 5,000 x P(dpd > 30) = 5,000 x 59/89 fen; 20,000 x 0.5 = 10,000 fen.
    for arm, truth in ((call, 5_000 * 59 / 89), (visit, 10_000)):
        assert arm["ate_ci_low"] < truth < arm["ate_ci_high"]
        assert arm["mean_predicted_uplift"] == pytest.approx(truth, rel=0.1)
    probe = make_candidates([True] * 400, [True] * 400, seed=9).features
    value = model.predict_value_fen(probe)
    assert (value[:, 0] == 0).all()
    late = probe[:, COL["days_past_due"]] > 30
    deep = probe[:, COL["arrears_ratio"]] > 0.5
    assert value[late, CALL].mean() - value[~late, CALL].mean() > 3_000
    assert value[deep, VISIT].mean() - value[~deep, VISIT].mean() > 12_000
    assert report["rows"] == 4_000 and set(report["treatment_rows"]) == set(TREATMENTS)


def test_train_uplift_finds_nothing_when_there_is_no_effect() -> None:
    model, report = train_uplift(synthetic_log(4_000, seed=3, call_effect=0, visit_effect=0))
    for name in ("call", "visit"):
        arm = report["treatments"][name]
        assert arm["ate_ci_low"] < 0 < arm["ate_ci_high"]
        assert abs(arm["qini_z"]) < 4
    value = model.predict_value_fen(make_candidates([True] * 400, [True] * 400, seed=9).features)
    assert np.abs(value[:, 1:].mean(axis=0)).max() < 1_000  # noise sd is 3,000 fen


def proportional_log(rows: int, *, seed: int) -> tuple[pa.Table, np.ndarray]:
    """A randomised log where payments scale with the debt (arrears from 100 to 100,000 yuan): an
    account pays 5 % of its arrears on average, with noise of the same scale; a call adds 10 % of
    the arrears past 30 days overdue, a visit nothing. Returns the log and the true call uplift."""
    log = synthetic_log(rows, seed=seed, call_effect=0, visit_effect=0)
    rng = np.random.default_rng(seed + 1)
    arrears = np.exp(rng.uniform(np.log(10_000), np.log(10_000_000), rows))
    late = log.column("days_past_due").to_numpy() > 30
    called = np.asarray(log.column("treatment").to_pylist()) == "call"
    truth = 0.10 * arrears * late
    reward = arrears * (0.05 + rng.normal(0, 0.05, rows)) + truth * called
    log = log.set_column(
        log.schema.get_field_index("arrears_fen"), "arrears_fen", pa.array(arrears)
    )
    log = log.set_column(log.schema.get_field_index("reward_fen"), "reward_fen", pa.array(reward))
    return log, truth


def test_the_share_outcome_learns_an_effect_that_grows_with_the_debt() -> None:
    """Payments in fen span three orders of magnitude; fitted as a share of the arrears, the
    learner ranks by the effect (and the debt it applies to) better than fitted in fen."""
    log, _ = proportional_log(6_000, seed=11)
    share, share_report = train_uplift(log)
    fen, fen_report = train_uplift(log, outcome="fen")
    assert share_report["outcome"] == "share" and fen_report["outcome"] == "fen"
    probe_log, truth = proportional_log(2_000, seed=12)
    probe = np.column_stack(
        [probe_log.column(n).to_numpy(zero_copy_only=False) for n in DECISION_FEATURES]
    )

    def rank_correlation(model: UpliftModel) -> float:
        # The learners themselves, without the blend toward the average effect.
        value = replace(model, blend=(1.0, 1.0)).predict_value_fen(probe)[:, CALL]
        return float(
            np.corrcoef(np.argsort(np.argsort(value)), np.argsort(np.argsort(truth)))[0, 1]
        )

    assert rank_correlation(share) > 0.8
    assert rank_correlation(share) > rank_correlation(fen)
    assert share_report["treatments"]["call"]["qini_z"] > 3
    with pytest.raises(InvalidInput, match="outcome"):
        train_uplift(log, outcome="yuan")


def nightly_holdout_log(accounts: int, *, seed: int, effect: float = 5_000.0) -> pa.Table:
    """A holdout experiment logged night after night, as the simulator logs it. Half the accounts
    may get a call (they pay 10,000 fen in the window), half a visit (50,000). By account, half
    are held out. Willing customers (half) pay 6,000 more. Staffed contact adds `effect`, and a
    treated willing customer pays and leaves after the first night, while every other account is
    a candidate for five nights: the treated arm's later rows are its unwilling survivors."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for i in range(accounts):
        visit = i % 2 == 1
        held = rng.random() < 0.5
        willing = rng.random() < 0.5
        features = rng.normal(size=len(DECISION_FEATURES))
        features[COL["days_past_due"]] = 45 if visit else 20
        features[COL["arrears_fen"]] = 100_000
        for night in range(5):
            if night and willing and not held:
                break
            reward = (50_000 if visit else 10_000) + 6_000 * willing + rng.normal(0, 2_000)
            rows.append(
                {
                    "account_id": f"A{i:06d}",
                    "day": night,
                    **{name: features[k] for k, name in enumerate(DECISION_FEATURES)},
                    "treatment": "automated" if held else ("visit" if visit else "call"),
                    "propensity": 0.5,
                    "reward_fen": reward + (0 if held else effect),
                    "allowed_call": not visit,
                    "allowed_visit": visit,
                }
            )
    return pa.Table.from_pylist(rows, schema=LOG_SCHEMA)


def test_effects_compare_like_with_like_on_the_first_night() -> None:
    log = nightly_holdout_log(3_000, seed=21)
    # What comparing every row would say: the visit population's controls swamp the call's,
    # and later nights compare treated survivors with unselected controls.
    treatment = np.asarray(log.column("treatment").to_pylist())
    reward = log.column("reward_fen").to_numpy()
    naive = reward[treatment == "call"].mean() - reward[treatment == "automated"].mean()
    assert naive < -10_000
    _, report = train_uplift(log, outcome="fen")
    assert report["judged_rows"] == 3_000
    for name in ("call", "visit"):
        arm = report["treatments"][name]
        assert arm["ate_ci_low"] < 5_000 < arm["ate_ci_high"]
        assert arm["ate_ci_high"] - arm["ate_ci_low"] < 2_000
    assert report["mean_effect"]["call"] == pytest.approx(5_000, abs=600)
    assert report["mean_effect"]["visit"] == pytest.approx(5_000, abs=600)
    assert (
        report["treatments"]["call"]["n_treated"] + report["treatments"]["call"]["n_control"] < 600
    )


def test_first_nights_are_per_world_and_account() -> None:
    log = pa.table(
        {
            "account_id": ["A", "A", "B", "A", "A"],
            "day": [3, 1, 2, 2, 1],
            "seed": [1, 1, 1, 2, 2],
        }
    )
    assert first_nights(log).tolist() == [False, True, True, False, True]


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", "D"]),
            st.integers(0, 5),
            st.sampled_from([1, 2, 3]),
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[2], r[1]),  # an account is a candidate once a night
    ),
    with_seed=st.booleans(),
)
def test_first_nights_mark_exactly_the_earliest_row_of_each_account(
    rows: list[tuple[str, int, int]], with_seed: bool
) -> None:
    columns = {"account_id": [r[0] for r in rows], "day": [r[1] for r in rows]}
    if with_seed:
        columns["seed"] = [r[2] for r in rows]
    first = first_nights(pa.table(columns))
    earliest: dict[tuple[object, str], int] = {}
    for account, day, world in rows:
        key = (world if with_seed else None, account)
        earliest[key] = min(day, earliest.get(key, day))
    expected = [
        day == earliest[(world if with_seed else None, account)] for account, day, world in rows
    ]
    if not with_seed:  # without worlds, one account's rows of a day may repeat: the first counts
        expected = [
            e and all(rows[j][:2] != rows[i][:2] for j in range(i)) for i, e in enumerate(expected)
        ]
    assert first.tolist() == expected


def test_a_bad_decision_log_is_refused_naming_the_column() -> None:
    log = synthetic_log(200, seed=4)
    with pytest.raises(InvalidInput, match=r"missing column.*reward_fen"):
        check_log(log.drop_columns(["reward_fen"]))
    bad = log.set_column(
        log.schema.get_field_index("treatment"),
        "treatment",
        pa.array(["sms", *log.column("treatment").to_pylist()[1:]]),
    )
    with pytest.raises(InvalidInput, match="column treatment has 'sms'"):
        check_log(bad)
    text = log.set_column(
        log.schema.get_field_index("propensity"), "propensity", pa.array(["x"] * 200)
    )
    with pytest.raises(InvalidInput, match="column propensity"):
        check_log(text)
    with pytest.raises(InvalidInput, match="no rows"):
        check_log(log.slice(0, 0))
    with pytest.raises(InvalidInput, match="learner"):
        train_uplift(log, learner="s")


@pytest.mark.parametrize(("learner", "outcome"), [("t", "share"), ("x", "share"), ("t", "fen")])
def test_a_registered_uplift_model_predicts_the_same_after_loading(
    tmp_path: Path, learner: str, outcome: str
) -> None:
    root = tmp_path
    model, report = train_uplift(synthetic_log(1_500, seed=5), learner=learner, outcome=outcome)
    folder = registry.save_uplift(model, root, {"rows": report["rows"]})
    loaded, metadata = registry.load_uplift(root)
    probe = make_candidates([True] * 50, [True] * 50, seed=1).features
    assert np.allclose(loaded.predict_value_fen(probe), model.predict_value_fen(probe))
    assert metadata["version"] == 1 and metadata["kind"] == "uplift"
    assert metadata["treatments"] == list(TREATMENTS) and metadata["learner"] == learner
    assert loaded.outcome == outcome == metadata["outcome"]
    assert folder == root / "models" / "uplift" / "v1"
    with pytest.raises(InvalidInput, match="uplift model"):
        registry.load(root, "uplift")


def test_optimised_is_proven_optimal_at_scale_even_with_many_equal_values(
    model: UpliftModel,
) -> None:
    # Tree models give piecewise-constant values: thousands of accounts share a few values.
    n = 15_000
    cands = make_candidates([True] * n, [i % 2 == 0 for i in range(n)], seed=8)
    cands.features[:, COL["days_past_due"]] = np.where(np.arange(n) % 3 == 0, 60.0, 10.0)
    decision = decide(
        cands, capacity={"call": 2_000, "visit": 300}, policy="optimised", model=model,
        costs_fen=COSTS, time_limit_s=5.0,
    )  # fmt: skip
    assert decision.status == "optimal" and decision.used == {"call": 2_000, "visit": 300}
    assert decision.bound_fen is not None and decision.objective_fen is not None
    assert decision.bound_fen - decision.objective_fen <= 0.005 * n
    ranked = decide(cands, capacity={"call": 2_000, "visit": 300}, policy="balance", model=model,
                    costs_fen=COSTS)  # fmt: skip
    assert decision.value_fen.sum() > ranked.value_fen.sum()
