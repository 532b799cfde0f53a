"""Offline policy evaluation: the mean reward a target collection policy would earn, estimated from
logged champion/challenger decisions whose logging propensities are known. Pure numpy, no I/O.

Four estimators share one set of importance weights w_i = π(a_i|x_i) / p_i and one cross-fitted
outcome model μ̂_a(x): inverse propensity weighting (IPW), its self-normalised form (SNIPW), the
direct method (DM) and the doubly robust estimator (DR). Each comes with a normal-approximation
95 % interval built from per-unit influence terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from huancui.kit.errors import InvalidInput

Z_95 = 1.959964  # two-sided 95 % quantile of the standard normal
ROW_SUM_TOLERANCE = 1e-6  # how far a row of target probabilities may stray from 1


def _floats(name: str, values: ArrayLike, *, ndim: int) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not numeric ({exc})") from None
    if array.ndim != ndim:
        raise InvalidInput(f"{name}: has {array.ndim} dimension(s), expected {ndim}")
    finite = np.isfinite(array)
    bad = np.flatnonzero(~finite.all(axis=1) if ndim == 2 else ~finite)
    if bad.size:
        raise InvalidInput(
            f"{name} row {bad[0]}: {array[bad[0]]} is not finite (NaN or inf); "
            "every logged value must be a real number"
        )
    return array


def _arm_indices(name: str, values: ArrayLike, *, arms: int) -> NDArray[np.int64]:
    """Arm numbers 0..arms-1; integral floats (as databases often return) are accepted."""
    raw = _floats(name, values, ndim=1)
    fractional = np.flatnonzero(raw != np.round(raw))
    if fractional.size:
        raise InvalidInput(f"{name} row {fractional[0]}: {raw[fractional[0]]} is not an arm number")
    outside = np.flatnonzero((raw < 0) | (raw >= arms))
    if outside.size:
        raise InvalidInput(
            f"{name} row {outside[0]}: arm {int(raw[outside[0]])} is outside 0..{arms - 1} "
            f"(arms = {arms})"
        )
    return raw.astype(np.int64)


def _require_rows(name: str, array: NDArray[Any], n: int) -> None:
    if len(array) != n:
        raise InvalidInput(f"{name}: has {len(array)} rows but features has {n}; one row per unit")


@dataclass(frozen=True)
class LoggedDecisions:
    """Units with the arm the logging policy took, its probability, and the outcome that followed.

    `features` are covariates known at decision time (no intercept column); `propensity` is the
    logging probability of the arm actually taken, in (0, 1]. Inputs are checked and coerced to
    numpy arrays on construction; anything wrong raises InvalidInput naming the field.
    """

    features: NDArray[np.float64]  # (n, k)
    action: NDArray[np.int64]  # (n,)
    propensity: NDArray[np.float64]  # (n,)
    reward: NDArray[np.float64]  # (n,)
    arms: int

    def __post_init__(self) -> None:
        if isinstance(self.arms, bool) or not isinstance(self.arms, int | np.integer):
            raise InvalidInput(f"arms: {self.arms!r} is not an integer")
        if self.arms < 1:
            raise InvalidInput(f"arms: {self.arms} must be at least 1")
        features = _floats("features", self.features, ndim=2)
        n = len(features)
        if n < 2:
            raise InvalidInput(
                f"features: {n} logged decision(s); the data are empty or too few — "
                "at least two units are needed for an interval"
            )
        action = _arm_indices("action", self.action, arms=int(self.arms))
        propensity = _floats("propensity", self.propensity, ndim=1)
        reward = _floats("reward", self.reward, ndim=1)
        for name, array in (("action", action), ("propensity", propensity), ("reward", reward)):
            _require_rows(name, array, n)
        outside = np.flatnonzero((propensity <= 0) | (propensity > 1))
        if outside.size:
            raise InvalidInput(
                f"propensity row {outside[0]}: {propensity[outside[0]]} is outside (0, 1]; "
                "it is the logging probability of the arm taken, so it must be positive"
            )
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "propensity", propensity)
        object.__setattr__(self, "reward", reward)
        object.__setattr__(self, "arms", int(self.arms))

    @property
    def n(self) -> int:
        return len(self.reward)


@dataclass(frozen=True)
class Estimate:
    """One estimator's value of the target policy with its 95 % interval.

    `effective_n` is Kish's effective sample size of the importance weights, (Σw)² / Σw²: how many
    equally weighted units the weighted estimate is worth. The direct method uses no weights, so
    it reports n.
    """

    method: str
    value: float
    low: float
    high: float
    n: int
    effective_n: float

    def as_json(self) -> dict[str, float | int | str]:
        return {
            "method": self.method,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "effective_n": self.effective_n,
        }


def target_probabilities(logged: LoggedDecisions, target: ArrayLike) -> NDArray[np.float64]:
    """The target policy as an (n, arms) matrix of probabilities π(a|x_i).

    `target` is either (n,) arm numbers (a deterministic policy) or (n, arms) probabilities whose
    rows sum to 1 within 1e-6 (a stochastic policy).
    """
    n, arms = logged.n, logged.arms
    ndim = np.ndim(target)
    if ndim == 1:
        chosen = _arm_indices("target", target, arms=arms)
        _require_rows("target", chosen, n)
        probabilities = np.zeros((n, arms))
        probabilities[np.arange(n), chosen] = 1.0
        return probabilities
    if ndim != 2:
        raise InvalidInput(
            f"target: has {ndim} dimension(s); give (n,) arm numbers or (n, arms) probabilities"
        )
    probabilities = _floats("target", target, ndim=2)
    _require_rows("target", probabilities, n)
    if probabilities.shape[1] != arms:
        raise InvalidInput(
            f"target: has {probabilities.shape[1]} columns but there are {arms} arms; "
            "one probability per arm"
        )
    negative = np.flatnonzero((probabilities < 0).any(axis=1))
    if negative.size:
        raise InvalidInput(f"target row {negative[0]}: a probability is negative")
    off = np.flatnonzero(np.abs(probabilities.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE)
    if off.size:
        raise InvalidInput(
            f"target row {off[0]}: probabilities sum to {probabilities[off[0]].sum():.9g}, "
            f"not 1 (tolerance {ROW_SUM_TOLERANCE:g})"
        )
    return probabilities


def importance_weights(
    logged: LoggedDecisions, probabilities: NDArray[np.float64]
) -> NDArray[np.float64]:
    """w_i = π(a_i|x_i) / p_i for an (n, arms) target matrix from `target_probabilities`."""
    taken = probabilities[np.arange(logged.n), logged.action]
    return np.asarray(taken / logged.propensity, dtype=np.float64)


def _ridge_fit_predict(
    train_x: NDArray[np.float64],
    train_y: NDArray[np.float64],
    predict_x: NDArray[np.float64],
    *,
    ridge: float,
) -> NDArray[np.float64]:
    """Ridge regression on features standardised with the training mean and spread, plus an
    unpenalised intercept; solved as least squares on the data augmented with √ridge·I rows."""
    centre = train_x.mean(axis=0)
    spread = train_x.std(axis=0)
    spread[spread == 0] = 1.0  # a constant feature carries nothing; keep it from dividing by 0
    k = train_x.shape[1]
    design = np.hstack([np.ones((len(train_x), 1)), (train_x - centre) / spread])
    penalty = np.hstack([np.zeros((k, 1)), np.sqrt(ridge) * np.eye(k)])
    coefficients = np.linalg.lstsq(
        np.vstack([design, penalty]), np.concatenate([train_y, np.zeros(k)]), rcond=None
    )[0]
    predict_design = np.hstack([np.ones((len(predict_x), 1)), (predict_x - centre) / spread])
    return np.asarray(predict_design @ coefficients, dtype=np.float64)


def cross_fitted_outcomes(
    logged: LoggedDecisions, *, folds: int, seed: int, ridge: float
) -> NDArray[np.float64]:
    """μ̂_a(x_i) for every unit and arm, (n, arms), each row predicted by models that never saw
    that unit: units are split into `folds` folds by a permutation seeded with `seed`, and each
    fold is predicted by per-arm ridge models trained on the other folds.

    An arm with fewer than k + 2 training units gets its training mean instead of a regression
    (too few points to fit k slopes and an intercept honestly); an arm with none at all gets the
    mean reward of all training units.
    """
    n, k = logged.features.shape
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    outcomes = np.empty((n, logged.arms))
    for fold in range(folds):
        held_out = fold_of == fold
        training = ~held_out
        for arm in range(logged.arms):
            rows = training & (logged.action == arm)
            if rows.sum() >= k + 2:
                outcomes[held_out, arm] = _ridge_fit_predict(
                    logged.features[rows],
                    logged.reward[rows],
                    logged.features[held_out],
                    ridge=ridge,
                )
            elif rows.any():
                outcomes[held_out, arm] = logged.reward[rows].mean()
            else:
                outcomes[held_out, arm] = logged.reward[training].mean()
    return outcomes


def _from_terms(
    method: str, value: float, terms: NDArray[np.float64], *, effective_n: float
) -> Estimate:
    """A normal-approximation interval: value ± 1.96 × sample std of the influence terms / √n."""
    n = len(terms)
    half_width = Z_95 * float(terms.std(ddof=1)) / np.sqrt(n)
    return Estimate(
        method=method,
        value=value,
        low=value - half_width,
        high=value + half_width,
        n=n,
        effective_n=effective_n,
    )


def evaluate_policy(
    logged: LoggedDecisions,
    target: ArrayLike,
    *,
    folds: int = 2,
    seed: int = 0,
    ridge: float = 1.0,
) -> dict[str, Estimate]:
    """Estimate the mean reward of `target` from `logged`, by four methods keyed
    "ipw", "snipw", "dr" and "direct".

    - IPW: mean of w_i·r_i; interval from the terms w_i·r_i. Unbiased whenever the propensities
      are right, but noisy when weights are large.
    - SNIPW: Σw·r / Σw; interval by the delta method, from the linearised terms
      w_i·(r_i − value) / mean(w). Slightly biased, usually much steadier than IPW.
    - Direct: mean of Σ_a π(a|x_i)·μ̂_a(x_i); interval from those terms only, so it ignores the
      outcome model's own estimation error and is too narrow when the model is wrong.
    - DR: mean of Σ_a π(a|x_i)·μ̂_a(x_i) + w_i·(r_i − μ̂_{a_i}(x_i)); interval from those terms.
      Unbiased if either the propensities or the outcome model are right; cross-fitting keeps
      each unit's μ̂ independent of its own reward.

    Raises InvalidInput for a bad target, folds or ridge, and when the target gives zero
    probability to every logged action: then the data say nothing about it.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= logged.n:
        raise InvalidInput(
            f"folds: {folds!r} must be an integer from 2 to the number of units ({logged.n})"
        )
    if not np.isfinite(ridge) or ridge < 0:
        raise InvalidInput(f"ridge: {ridge!r} must be a non-negative number (1.0 is usual)")
    probabilities = target_probabilities(logged, target)
    weights = importance_weights(logged, probabilities)
    total = float(weights.sum())
    if total == 0:
        raise InvalidInput(
            "target: the target policy never chooses an arm that was logged for the same unit; "
            "the logged data carry no evidence about it"
        )
    # Kish's (Σw)²/Σw² never exceeds n (Cauchy–Schwarz); the min only absorbs rounding.
    effective_n = min(float(logged.n), total**2 / float(np.sum(weights**2)))
    reward = logged.reward

    ipw_terms = weights * reward
    snipw_value = float(ipw_terms.sum()) / total
    snipw_terms = weights * (reward - snipw_value) / weights.mean()

    outcomes = cross_fitted_outcomes(logged, folds=folds, seed=seed, ridge=ridge)
    direct_terms = (probabilities * outcomes).sum(axis=1)
    taken_outcome = outcomes[np.arange(logged.n), logged.action]
    dr_terms = direct_terms + weights * (reward - taken_outcome)

    return {
        "ipw": _from_terms("ipw", float(ipw_terms.mean()), ipw_terms, effective_n=effective_n),
        "snipw": _from_terms("snipw", snipw_value, snipw_terms, effective_n=effective_n),
        "dr": _from_terms("dr", float(dr_terms.mean()), dr_terms, effective_n=effective_n),
        "direct": _from_terms(
            "direct", float(direct_terms.mean()), direct_terms, effective_n=float(logged.n)
        ),
    }
