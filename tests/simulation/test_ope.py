"""Offline policy evaluation on synthetic contextual bandits whose truth is known: IPW and DR find
the value of a policy that was never run, their intervals cover it at the stated rate, DR survives a
wrong outcome model, invariants hold on any valid input, and bad input names its field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.typing import NDArray

from huancui.kit.errors import InvalidInput
from huancui.simulation.ope import (
    LoggedDecisions,
    cross_fitted_outcomes,
    evaluate_policy,
    importance_weights,
    target_probabilities,
)

Floats = NDArray[np.float64]
MeanReward = Callable[[Floats], Floats]  # (n, 2) features -> (n, 3) expected reward per arm

ARMS = 3
UNITS = 1000
REPETITIONS = 200
COVERAGE = (0.88, 0.99)
# Linear world: expected reward of arm a is ALPHA[a] + BETA[a] · x, with x ~ N(0, I₂).
ALPHA = np.array([1.0, 1.5, 0.5])
BETA = np.array([[0.5, -0.3], [1.0, 0.8], [-0.7, 1.2]])
# Logging leans on the features (softmax of x @ LEAN), but every arm keeps at least 10 %.
LEAN = np.array([[1.0, -0.5, 0.0], [0.0, 0.8, -1.0]])


def linear_mean(x: Floats) -> Floats:
    return np.asarray(ALPHA + x @ BETA.T, dtype=np.float64)


def nonlinear_mean(x: Floats) -> Floats:
    """Far from linear in x: a straight line per arm cannot fit it."""
    return np.column_stack(
        [
            2 * x[:, 0] ** 2,
            1.0 + 0.8 * np.exp(x[:, 1]),
            3 * np.abs(x[:, 0] * x[:, 1]) - 0.5 * x[:, 0],
        ]
    )


def logging_probabilities(x: Floats) -> Floats:
    lean = x @ LEAN
    share = np.exp(lean - lean.max(axis=1, keepdims=True))
    return np.asarray(0.7 * share / share.sum(axis=1, keepdims=True) + 0.1, dtype=np.float64)


def target_rule(x: Floats) -> NDArray[np.int64]:
    """The strategy to evaluate: arm 0 when x₀ < 0, else arm 1 when x₁ < 0, else arm 2."""
    return np.where(x[:, 0] < 0, 0, np.where(x[:, 1] < 0, 1, 2))


def linear_truth() -> float:
    """E[ALPHA[π(x)] + BETA[π(x)] · x] in closed form: with c = 1/√(2π), E[x₀; x₀ < 0] = −c and
    E[x₀; x₀ ≥ 0, x₁ < 0] = c/2 (and symmetrically), the regions having mass 1/2, 1/4, 1/4."""
    c = 1 / np.sqrt(2 * np.pi)
    return float(
        ALPHA[0] / 2
        - c * BETA[0, 0]
        + ALPHA[1] / 4
        + c / 2 * (BETA[1, 0] - BETA[1, 1])
        + ALPHA[2] / 4
        + c / 2 * (BETA[2, 0] + BETA[2, 1])
    )


def monte_carlo_truth(mean: MeanReward, *, draws: int = 2_000_000) -> float:
    x = np.random.default_rng(99).standard_normal((draws, 2))
    return float(mean(x)[np.arange(draws), target_rule(x)].mean())


def log_decisions(
    rng: np.random.Generator, mean: MeanReward, *, n: int = UNITS
) -> tuple[LoggedDecisions, NDArray[np.int64]]:
    """One randomised champion/challenger log (reward noise N(0, 1)) and the target's arms."""
    x = rng.standard_normal((n, 2))
    logging = logging_probabilities(x)
    action = (rng.random(n)[:, None] > logging.cumsum(axis=1)).sum(axis=1)
    rows = np.arange(n)
    logged = LoggedDecisions(
        features=x,
        action=action,
        propensity=logging[rows, action],
        reward=mean(x)[rows, action] + rng.standard_normal(n),
        arms=ARMS,
    )
    return logged, target_rule(x)


@dataclass(frozen=True)
class Repeated:
    """Every method's estimates over many independent logs of one world."""

    truth: float
    value: dict[str, Floats]
    width: dict[str, Floats]
    covered: dict[str, float]

    def bias_in_standard_errors(self, method: str) -> float:
        values = self.value[method]
        standard_error = values.std(ddof=1) / np.sqrt(len(values))
        return float(abs(values.mean() - self.truth) / standard_error)


def repeat(mean: MeanReward, truth: float, *, seed: int) -> Repeated:
    rng = np.random.default_rng(seed)
    runs = [evaluate_policy(*log_decisions(rng, mean)) for _ in range(REPETITIONS)]
    methods = runs[0].keys()
    return Repeated(
        truth=truth,
        value={m: np.array([run[m].value for run in runs]) for m in methods},
        width={m: np.array([run[m].high - run[m].low for run in runs]) for m in methods},
        covered={
            m: float(np.mean([run[m].low <= truth <= run[m].high for run in runs])) for m in methods
        },
    )


@pytest.fixture(scope="module")
def linear_world() -> Repeated:
    return repeat(linear_mean, linear_truth(), seed=1)


@pytest.fixture(scope="module")
def nonlinear_world() -> Repeated:
    return repeat(nonlinear_mean, monte_carlo_truth(nonlinear_mean), seed=2)


def test_closed_form_truth_agrees_with_monte_carlo() -> None:
    # 2 million draws: the Monte Carlo standard error is below 0.001.
    assert linear_truth() == pytest.approx(monte_carlo_truth(linear_mean), abs=0.003)


def test_evaluating_the_logging_policy_returns_the_logged_mean_reward() -> None:
    rng = np.random.default_rng(7)
    logged, _ = log_decisions(rng, linear_mean, n=500)
    logging = logging_probabilities(logged.features)

    estimates = evaluate_policy(logged, logging)

    assert estimates["ipw"].value == logged.reward.mean()
    assert estimates["snipw"].value == pytest.approx(logged.reward.mean(), rel=1e-12)
    assert estimates["ipw"].effective_n == pytest.approx(500)


@pytest.mark.parametrize("method", ["ipw", "dr"])
def test_estimates_centre_on_the_true_value_of_a_policy_never_run(
    linear_world: Repeated, method: str
) -> None:
    assert linear_world.bias_in_standard_errors(method) < 4
    assert abs(np.median(linear_world.value[method]) - linear_world.truth) < 0.05


@pytest.mark.parametrize("method", ["ipw", "snipw", "dr"])
def test_intervals_cover_the_truth_at_about_95_percent(linear_world: Repeated, method: str) -> None:
    low, high = COVERAGE
    assert low <= linear_world.covered[method] <= high


def test_doubly_robust_is_tighter_than_ipw_when_the_outcome_model_is_right(
    linear_world: Repeated,
) -> None:
    assert linear_world.width["dr"].mean() < 0.8 * linear_world.width["ipw"].mean()
    assert linear_world.value["dr"].std() < 0.8 * linear_world.value["ipw"].std()


def test_doubly_robust_stays_unbiased_when_the_outcome_model_is_wrong(
    nonlinear_world: Repeated,
) -> None:
    # The world is truly beyond a straight line: the direct method, which trusts the model alone,
    # misses by far more than its noise ...
    assert nonlinear_world.bias_in_standard_errors("direct") > 20
    # ... while DR, leaning on the known propensities, still centres on the truth and covers it.
    assert nonlinear_world.bias_in_standard_errors("dr") < 4
    low, high = COVERAGE
    assert low <= nonlinear_world.covered["dr"] <= high


def test_each_unit_is_predicted_by_a_model_that_never_saw_it() -> None:
    logged, _ = log_decisions(np.random.default_rng(3), linear_mean, n=200)
    before = cross_fitted_outcomes(logged, folds=2, seed=0, ridge=1.0)
    reward = logged.reward.copy()
    reward[17] += 1_000.0
    changed = LoggedDecisions(
        features=logged.features,
        action=logged.action,
        propensity=logged.propensity,
        reward=reward,
        arms=ARMS,
    )

    after = cross_fitted_outcomes(changed, folds=2, seed=0, ridge=1.0)

    np.testing.assert_array_equal(after[17], before[17])
    assert not np.array_equal(after, before)  # the outlier did move the other fold's models


def test_an_arm_too_thin_to_fit_falls_back_to_its_training_mean() -> None:
    # Leave-one-out: arm 1 has 3 units, so at most 3 in any training set, short of the 4 a fit
    # with 2 features needs; arm 2 was never logged and gets the mean of all training rewards.
    n = 40
    x = np.random.default_rng(4).standard_normal((n, 2))
    action = np.zeros(n, dtype=np.int64)
    action[:3] = 1
    reward = np.where(action == 1, 5.0, x[:, 0])
    logged = LoggedDecisions(
        features=x, action=action, propensity=np.full(n, 0.5), reward=reward, arms=3
    )

    outcomes = cross_fitted_outcomes(logged, folds=n, seed=0, ridge=1.0)

    np.testing.assert_array_equal(outcomes[:, 1], 5.0)
    others_mean = (reward.sum() - reward) / (n - 1)
    np.testing.assert_allclose(outcomes[:, 2], others_mean, rtol=1e-12)


@st.composite
def valid_inputs(draw: st.DrawFn) -> tuple[LoggedDecisions, Any]:
    n = draw(st.integers(min_value=2, max_value=30))
    k = draw(st.integers(min_value=0, max_value=3))
    arms = draw(st.integers(min_value=1, max_value=3))
    reals = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
    logged = LoggedDecisions(
        features=np.array(draw(st.lists(reals, min_size=n * k, max_size=n * k))).reshape(n, k),
        action=np.array(draw(st.lists(st.integers(0, arms - 1), min_size=n, max_size=n))),
        propensity=np.array(
            draw(st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=n, max_size=n))
        ),
        reward=np.array(draw(st.lists(reals, min_size=n, max_size=n))),
        arms=arms,
    )
    if draw(st.booleans()):
        target: Any = np.array(draw(st.lists(st.integers(0, arms - 1), min_size=n, max_size=n)))
    else:
        mass = st.floats(min_value=0.0, max_value=1.0)
        raw = np.array(draw(st.lists(mass, min_size=n * arms, max_size=n * arms)))
        raw = raw.reshape(n, arms) + 1e-3  # no row of all zeros
        target = raw / raw.sum(axis=1, keepdims=True)
    return logged, target


@given(inputs=valid_inputs(), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_estimates_keep_their_invariants_on_any_valid_input(
    inputs: tuple[LoggedDecisions, Any], seed: int
) -> None:
    logged, target = inputs
    weights = importance_weights(logged, target_probabilities(logged, target))
    assume(weights.sum() > 0)  # a target that never picks a logged arm is refused; tested below

    estimates = evaluate_policy(logged, target, seed=seed)

    assert (weights >= 0).all()
    assert set(estimates) == {"ipw", "snipw", "dr", "direct"}
    for method, estimate in estimates.items():
        assert estimate.method == method
        assert estimate.n == logged.n
        assert 0 < estimate.effective_n <= logged.n
        assert estimate.low <= estimate.value <= estimate.high
    assert evaluate_policy(logged, target, seed=seed) == estimates


def test_as_json_carries_every_field() -> None:
    logged, target = log_decisions(np.random.default_rng(5), linear_mean, n=100)
    estimate = evaluate_policy(logged, target)["dr"]

    assert estimate.as_json() == {
        "method": "dr",
        "value": estimate.value,
        "low": estimate.low,
        "high": estimate.high,
        "n": 100,
        "effective_n": estimate.effective_n,
    }


def _valid() -> dict[str, Any]:
    return {
        "features": np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]]),
        "action": np.array([0, 1, 0, 1]),
        "propensity": np.array([0.5, 0.5, 0.5, 0.5]),
        "reward": np.array([1.0, 2.0, 3.0, 4.0]),
        "arms": 2,
    }


def _with(**changes: Any) -> dict[str, Any]:
    return _valid() | changes


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (_with(features=np.zeros((0, 2)), action=[], propensity=[], reward=[]), "features"),
        (_with(features=np.zeros((3, 2))), "action"),
        (_with(features=np.zeros(4)), "features"),
        (_with(features=np.array([[0.0, 1.0], [np.nan, 0], [2, 2], [3, 1]])), "features"),
        (_with(reward=np.array([1.0, np.inf, 3.0, 4.0])), "reward"),
        (_with(reward=np.array([1.0, 2.0, 3.0])), "reward"),
        (_with(propensity=np.array([0.5, 0.0, 0.5, 0.5])), "propensity"),
        (_with(propensity=np.array([0.5, 1.5, 0.5, 0.5])), "propensity"),
        (_with(propensity=np.array([0.5, 0.5])), "propensity"),
        (_with(action=np.array([0, 2, 0, 1])), "action"),
        (_with(action=np.array([0, -1, 0, 1])), "action"),
        (_with(action=np.array([0, 0.5, 0, 1])), "action"),
        (_with(arms=0), "arms"),
    ],
)
def test_bad_logged_data_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^{field}\b"):
        LoggedDecisions(**fields)


@pytest.mark.parametrize(
    ("target", "options", "field"),
    [
        (np.array([0, 1, 0]), {}, "target"),
        (np.array([0, 1, 2, 0]), {}, "target"),
        (np.full((4, 2), 0.6), {}, "target"),
        (np.full((4, 3), 1 / 3), {}, "target"),
        (np.array([[1.5, -0.5]] * 4), {}, "target"),
        (np.array([[np.nan, 1.0]] * 4), {}, "target"),
        (np.array([1, 0, 1, 0]), {}, "target"),  # never picks a logged arm
        (np.array([0, 1, 0, 1]), {"folds": 1}, "folds"),
        (np.array([0, 1, 0, 1]), {"folds": 5}, "folds"),
        (np.array([0, 1, 0, 1]), {"ridge": -1.0}, "ridge"),
    ],
)
def test_bad_target_or_options_are_refused_naming_the_field(
    target: Any, options: dict[str, Any], field: str
) -> None:
    logged = LoggedDecisions(**_valid())
    with pytest.raises(InvalidInput, match=rf"^{field}\b"):
        evaluate_policy(logged, target, **options)


def test_a_target_row_off_by_less_than_the_tolerance_is_accepted() -> None:
    logged = LoggedDecisions(**_valid())
    target = np.array([[0.5 + 5e-7, 0.5]] * 4)

    assert evaluate_policy(logged, target)["ipw"].value == pytest.approx(2.5, rel=1e-5)
