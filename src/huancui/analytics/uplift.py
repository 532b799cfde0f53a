"""Uplift of collection treatments: how much more each challenger arm recovers than the champion.

Owns T- and X-learners fitted on randomised champion/challenger cells, the Qini curve and an honest
(held-out) validation of both; pure numpy and LightGBM, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from huancui.kit.errors import InvalidInput

# A fitted model, or the same model reloaded from its text file (analytics/registry.py).
Regressor = lgb.LGBMRegressor | lgb.Booster

MIN_UNITS_PER_ARM = 20
LEARNERS = ("t", "x")
Z_95 = 1.959963984540054

# Small, regularised trees on one thread: cells are a few thousand accounts, uplift is a small
# difference of two noisy predictions, and the same seed must give the same answer on every run.
UPLIFT_LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,
    "min_child_samples": 50,
    "reg_lambda": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}


@dataclass(frozen=True)
class UpliftData:
    """One randomised experiment: features, the arm each account got, its outcome and the arm's share.

    Arm 0 is the control (champion); arms 1..m-1 are challengers. `propensity` is the share of
    accounts the design assigned to the arm the row took, known from the randomisation.
    """

    features: np.ndarray
    treatment: np.ndarray
    outcome: np.ndarray
    propensity: np.ndarray

    def __post_init__(self) -> None:
        features = np.asarray(self.features, dtype=float)
        if features.ndim != 2:
            raise InvalidInput(
                f"features: shape {features.shape}; expected a 2-D (accounts, features) array"
            )
        rows = features.shape[0]
        if np.isinf(features).any():
            raise InvalidInput("features: infinite values; use NaN for a missing value")
        treatment = _arms(self.treatment, rows=rows)
        outcome = _column(self.outcome, rows=rows, field="outcome")
        if np.isnan(outcome).any():
            raise InvalidInput(
                f"outcome: {int(np.isnan(outcome).sum())} missing values; "
                "drop accounts whose outcome window has not closed"
            )
        propensity = _propensity(self.propensity, rows=rows)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "treatment", treatment)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "propensity", propensity)

    @property
    def arms(self) -> int:
        """How many arms, the control included."""
        return int(self.treatment.max()) + 1

    def subset(self, rows: np.ndarray) -> UpliftData:
        return UpliftData(
            features=self.features[rows],
            treatment=self.treatment[rows],
            outcome=self.outcome[rows],
            propensity=self.propensity[rows],
        )


def _column(values: np.ndarray, *, rows: int, field: str) -> np.ndarray:
    column = np.asarray(values, dtype=float)
    if column.shape != (rows,):
        raise InvalidInput(f"{field}: shape {column.shape}; expected ({rows},), one per account")
    return column


def _arms(values: np.ndarray, *, rows: int) -> np.ndarray:
    raw = np.asarray(values)
    if raw.shape != (rows,):
        raise InvalidInput(f"treatment: shape {raw.shape}; expected ({rows},), one per account")
    if raw.dtype.kind not in "iub" and not (
        raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all()
    ):
        raise InvalidInput("treatment: arm indices must be whole numbers 0..m-1 (0 = control)")
    arms = raw.astype(np.int64)
    if arms.size == 0 or arms.min() < 0:
        raise InvalidInput("treatment: arm indices must be whole numbers 0..m-1 (0 = control)")
    counts = np.bincount(arms)
    if counts.size < 2:
        raise InvalidInput(
            "treatment: only the control arm 0 is present; uplift needs a challenger"
        )
    thin = [arm for arm, count in enumerate(counts) if count < MIN_UNITS_PER_ARM]
    if thin:
        detail = ", ".join(f"arm {arm} has {counts[arm]}" for arm in thin)
        raise InvalidInput(
            f"treatment: {detail} accounts; every arm 0..{counts.size - 1} needs at least "
            f"{MIN_UNITS_PER_ARM} to estimate its effect"
        )
    return arms


def _propensity(values: np.ndarray, *, rows: int) -> np.ndarray:
    propensity = _column(values, rows=rows, field="propensity")
    outside = ~((propensity > 0) & (propensity <= 1))
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise InvalidInput(
            f"propensity: row {first} is {propensity[first]}; the randomised share of an arm "
            "must lie in (0, 1]"
        )
    return propensity


def _check_features(X: np.ndarray, *, columns: int) -> np.ndarray:
    features = np.asarray(X, dtype=float)
    if features.ndim != 2 or features.shape[1] != columns:
        raise InvalidInput(
            f"features: shape {features.shape}; the learner was fitted on {columns} features"
        )
    return features


def _regressor(
    features: np.ndarray, target: np.ndarray, *, seed: int, params: dict[str, Any]
) -> lgb.LGBMRegressor:
    model = lgb.LGBMRegressor(**{**params, "random_state": seed})
    model.fit(features, target)
    return model


def _predict(model: Regressor, features: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(features), dtype=float)


@dataclass(frozen=True)
class TLearner:
    """One outcome model per arm; uplift is each challenger's prediction minus the control's."""

    models: tuple[Regressor, ...]
    columns: int

    def predict_outcome(self, X: np.ndarray) -> np.ndarray:
        """Predicted outcome under every arm, shape (n, m)."""
        features = _check_features(X, columns=self.columns)
        return np.column_stack([_predict(model, features) for model in self.models])

    def predict_uplift(self, X: np.ndarray) -> np.ndarray:
        outcomes = self.predict_outcome(X)
        uplift: np.ndarray = outcomes[:, 1:] - outcomes[:, :1]
        return uplift


def fit_t_learner(data: UpliftData, *, seed: int, params: dict[str, Any] | None = None) -> TLearner:
    """Fit one LightGBM regressor per arm on that arm's accounts only."""
    merged = {**UPLIFT_LIGHTGBM_PARAMS, **(params or {})}
    models = tuple(
        _regressor(
            data.features[data.treatment == arm],
            data.outcome[data.treatment == arm],
            seed=seed + arm,
            params=merged,
        )
        for arm in range(data.arms)
    )
    return TLearner(models=models, columns=data.features.shape[1])


@dataclass(frozen=True)
class XLearner:
    """Künzel et al. (2019): per challenger, two effect models on imputed effects, blended by share.

    `control_weight[k-1]` is g = p_k / (p_0 + p_k), the design share of challenger k within the
    {control, k} pair; the effect model fitted on control accounts gets weight g, the one fitted on
    treated accounts 1 - g, so the larger group's first-stage model carries the blend.
    """

    treated_effect: tuple[Regressor, ...]
    control_effect: tuple[Regressor, ...]
    control_weight: tuple[float, ...]
    columns: int

    def predict_uplift(self, X: np.ndarray) -> np.ndarray:
        features = _check_features(X, columns=self.columns)
        return np.column_stack(
            [
                g * _predict(control, features) + (1.0 - g) * _predict(treated, features)
                for treated, control, g in zip(
                    self.treated_effect, self.control_effect, self.control_weight, strict=True
                )
            ]
        )


def fit_x_learner(data: UpliftData, *, seed: int) -> XLearner:
    """Fit the X-learner: T-learner outcome models, imputed effects, second-stage effect models."""
    first = fit_t_learner(data, seed=seed)
    control = data.treatment == 0
    control_features = data.features[control]
    control_outcome = data.outcome[control]
    control_share = float(data.propensity[control].mean())
    treated_effect, control_effect, weights = [], [], []
    for arm in range(1, data.arms):
        treated = data.treatment == arm
        # Imputed individual effects: what a treated account got beyond the control model's guess,
        # and what the arm's model says a control account would have got beyond what it did get.
        imputed_treated = data.outcome[treated] - _predict(first.models[0], data.features[treated])
        imputed_control = _predict(first.models[arm], control_features) - control_outcome
        params = UPLIFT_LIGHTGBM_PARAMS
        treated_effect.append(
            _regressor(
                data.features[treated], imputed_treated, seed=seed + 101 * arm, params=params
            )
        )
        control_effect.append(
            _regressor(control_features, imputed_control, seed=seed + 211 * arm, params=params)
        )
        arm_share = float(data.propensity[treated].mean())
        weights.append(arm_share / (arm_share + control_share))
    return XLearner(
        treated_effect=tuple(treated_effect),
        control_effect=tuple(control_effect),
        control_weight=tuple(weights),
        columns=data.features.shape[1],
    )


@dataclass(frozen=True)
class QiniCurve:
    """Incremental outcome captured when treating the top `fractions` of accounts by predicted uplift.

    `qini_coefficient` is (area - area_random) divided by the curve's end-point scale (treated
    accounts, or all accounts when propensity-weighted): the extra outcome per account that ranking
    by the score earns over random targeting, averaged across targeting depths.
    """

    fractions: np.ndarray
    gains: np.ndarray
    area: float
    area_random: float
    qini_coefficient: float


def qini_curve(
    uplift_score: np.ndarray,
    treated: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray | None = None,
    bins: int = 20,
) -> QiniCurve:
    """Qini curve of one challenger against control on held-out randomised accounts.

    Without propensity the gain at a depth is the treated outcome sum minus the control outcome sum
    scaled to the treated count (Radcliffe). With propensity each account is weighted by 1 / its
    arm's share and the gain is the depth's account count times the weighted difference in means:
    the extra outcome had every account down to that depth been treated, so the end point is
    n x the average treatment effect whatever the split. A depth where either group is still empty
    has gain 0 (nothing to compare). Ties in the score keep the input order.
    """
    score = np.asarray(uplift_score, dtype=float)
    if score.ndim != 1 or score.size == 0:
        raise InvalidInput(f"uplift_score: shape {score.shape}; expected one score per account")
    if np.isnan(score).any():
        raise InvalidInput("uplift_score: missing values; every account needs a score")
    rows = score.size
    flags = np.asarray(treated)
    if flags.shape != (rows,):
        raise InvalidInput(f"treated: shape {flags.shape}; expected ({rows},), one per account")
    if not np.isin(flags, (0, 1)).all():
        raise InvalidInput("treated: must be 1 (challenger) or 0 (control) for every account")
    is_treated = flags.astype(bool)
    if is_treated.all() or not is_treated.any():
        raise InvalidInput("treated: both treated and control accounts are needed")
    values = _column(outcome, rows=rows, field="outcome")
    if np.isnan(values).any():
        raise InvalidInput("outcome: missing values; every account needs an outcome")
    if not isinstance(bins, int) or bins < 1:
        raise InvalidInput(f"bins: {bins!r}; expected a whole number of at least 1")
    weights = np.ones(rows) if propensity is None else 1.0 / _propensity(propensity, rows=rows)

    order = np.argsort(-score, kind="stable")
    t = is_treated[order]
    w = weights[order]
    y = values[order]
    depth = np.rint(np.linspace(0.0, 1.0, bins + 1) * rows).astype(int)
    cumulative = [
        np.concatenate(([0.0], np.cumsum(part)))[depth]
        for part in (w * t, w * ~t, w * y * t, w * y * ~t)
    ]
    weight_t, weight_c, outcome_t, outcome_c = cumulative
    both = (weight_t > 0) & (weight_c > 0)
    difference = np.zeros(depth.size)
    difference[both] = outcome_t[both] / weight_t[both] - outcome_c[both] / weight_c[both]
    scale = depth.astype(float) if propensity is not None else weight_t
    gains = scale * difference
    fractions = depth / rows
    area = float(np.trapezoid(gains, fractions))
    area_random = float(gains[-1]) / 2.0
    return QiniCurve(
        fractions=fractions,
        gains=gains,
        area=area,
        area_random=area_random,
        qini_coefficient=(area - area_random) / float(scale[-1]),
    )


def average_treatment_effect(
    treated: np.ndarray, outcome: np.ndarray, propensity: np.ndarray
) -> tuple[float, float, float]:
    """Difference in propensity-weighted means with a normal 95 % interval: (ate, low, high).

    With one share per arm (the usual design) the weights cancel and this is the plain difference
    in means with the unpooled (Welch) standard error.
    """
    parts = []
    for group in (treated, ~treated):
        w = 1.0 / propensity[group]
        y = outcome[group]
        mean = float(np.sum(w * y) / np.sum(w))
        variance = float(np.sum(w**2 * (y - mean) ** 2) / np.sum(w) ** 2)
        parts.append((mean, variance))
    (mean_t, var_t), (mean_c, var_c) = parts
    ate = mean_t - mean_c
    half = Z_95 * float(np.sqrt(var_t + var_c))
    return ate, ate - half, ate + half


def _stratified_split(
    treatment: np.ndarray, *, seed: int, test_share: float, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on and rows to judge on. With `groups` (an account per row, when one account
    gives several rows) whole groups go to one side, so the judge never sees an account the
    learner fitted; otherwise rows are split within each arm, keeping the design's shares."""
    rng = np.random.default_rng(seed)
    test = np.zeros(treatment.size, dtype=bool)
    if groups is not None:
        names, index = np.unique(np.asarray(groups), return_inverse=True)
        chosen = rng.random(names.size) < test_share
        test = chosen[index]
        return np.flatnonzero(~test), np.flatnonzero(test)
    for arm in np.unique(treatment):
        members = rng.permutation(np.flatnonzero(treatment == arm))
        test[members[: round(test_share * members.size)]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def qini_null_sd(
    treated: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray | None = None,
    *,
    seed: int,
    draws: int = 200,
    bins: int = 20,
) -> float:
    """Spread of the Qini coefficient of random rankings on these accounts: the yardstick for noise.

    A score fitted on other accounts and carrying no uplift ranks these accounts no better than a
    random order, so its coefficient falls inside a few of these standard deviations of zero.
    """
    rng = np.random.default_rng(seed)
    coefficients = [
        qini_curve(rng.random(outcome.size), treated, outcome, propensity, bins).qini_coefficient
        for _ in range(draws)
    ]
    return float(np.std(coefficients))


def _masks(
    data: UpliftData, *, eligible: np.ndarray | None, judged: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    rows, challengers = data.features.shape[0], data.arms - 1
    may = np.ones((rows, challengers), dtype=bool) if eligible is None else np.asarray(eligible)
    if may.shape != (rows, challengers) or may.dtype != np.bool_:
        raise InvalidInput(
            f"eligible: shape {may.shape}; expected a ({rows}, {challengers}) bool array, "
            "a column per challenger"
        )
    judge = np.ones(rows, dtype=bool) if judged is None else np.asarray(judged)
    if judge.shape != (rows,) or judge.dtype != np.bool_:
        raise InvalidInput(f"judged: shape {judge.shape}; expected ({rows},) bool, one per row")
    return may, judge


def comparison(data: UpliftData, arm: int, rows: np.ndarray) -> np.ndarray:
    """The rows (bool) that compare challenger `arm` with the control: those of the two arms
    among `rows`."""
    pair: np.ndarray = ((data.treatment == 0) | (data.treatment == arm)) & rows
    return pair


def honest_validation(
    data: UpliftData,
    *,
    seed: int,
    test_share: float = 0.3,
    learner: str = "t",
    bins: int = 20,
    scale: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    blends: tuple[float, ...] = (1.0,),
    eligible: np.ndarray | None = None,
    judged: np.ndarray | None = None,
) -> dict[str, Any]:
    """Fit on a random share of the experiment, judge on the rest, one entry per challenger arm.

    The split is stratified by arm, so both halves keep the design's shares. Per arm: the Qini
    curve (propensity-weighted) of the predicted uplift; `qini_null_sd`, the spread random rankings
    show on the same accounts (a coefficient within about 3 of those of zero is noise); the
    held-out average treatment effect by difference in means with its 95 % interval; and the mean
    predicted uplift over all held-out accounts, which sits near that effect if calibrated.

    `scale`, one per account, says the outcome was divided by it (a share of the arrears, say):
    predictions and outcomes are multiplied back, so the Qini and the effects are in its units.
    `groups` splits by account (see _stratified_split). `blends`: the score judged for an arm is
    blend × the learner's uplift + (1 − blend) × the arm's average effect on the fitting rows, for
    each blend given; the one with the best held-out Qini is kept (`blend`, `mean_effect`), and the
    Qini of blend 0 (the average effect alone, so ranking by `scale`) is reported beside it. A
    learner whose heterogeneity does not hold up on new accounts is thus shrunk to the average.

    Logs of several nights need two masks, or the comparison stops being randomised:
    `eligible` (rows × challengers, bool) says which rows could have taken each challenger; a
    challenger's treated rows are compared with the control rows eligible for it only (the
    holdout's controls include accounts whose staffed contact would have been another one).
    `judged` (rows, bool) marks the rows the average effects and the held-out figures use: one
    per account, before either arm has acted on it (its first logged night). Later rows of a
    treated account are its survivors (those the contact did not bring to pay), while a control
    account's later rows are not so selected, so judging on them flatters any score that finds
    survivors. The learners still fit on every training row; None means every row.
    """
    if learner not in LEARNERS:
        raise InvalidInput(f"learner: {learner!r}; expected one of {', '.join(LEARNERS)}")
    if not 0.0 < test_share < 1.0:
        raise InvalidInput(f"test_share: {test_share}; expected a share strictly between 0 and 1")
    may, judge = _masks(data, eligible=eligible, judged=judged)
    train_rows, test_rows = _stratified_split(
        data.treatment, seed=seed, test_share=test_share, groups=groups
    )
    try:
        train, test = data.subset(train_rows), data.subset(test_rows)
    except InvalidInput as error:
        raise InvalidInput(f"test_share {test_share} leaves too few accounts: {error}") from error
    model: TLearner | XLearner = (
        fit_t_learner(train, seed=seed) if learner == "t" else fit_x_learner(train, seed=seed)
    )
    raw = model.predict_uplift(test.features)
    factor = np.ones(test_rows.size) if scale is None else np.asarray(scale, float)[test_rows]
    outcome = test.outcome * factor
    arms: dict[int, dict[str, Any]] = {}
    for arm in range(1, data.arms):
        fitted_pair = comparison(train, arm, may[train_rows, arm - 1] & judge[train_rows])
        fitted_scale = (
            np.ones(train_rows.size) if scale is None else np.asarray(scale, float)[train_rows]
        )[fitted_pair]
        # In the learner's units: the effect in money over the mean scale (a ratio of means).
        mean_effect = average_treatment_effect(
            train.treatment[fitted_pair] == arm,
            train.outcome[fitted_pair] * fitted_scale,
            train.propensity[fitted_pair],
        )[0] / float(np.mean(fitted_scale))
        pair = comparison(test, arm, may[test_rows, arm - 1] & judge[test_rows])
        is_treated = test.treatment[pair] == arm
        if is_treated.all() or not is_treated.any():
            raise InvalidInput(
                f"test_share {test_share}: the held-out accounts leave arm {arm} or its control "
                "empty in the rows judged; give a longer log"
            )
        scores = {
            b: ((b * raw[:, arm - 1] + (1.0 - b) * mean_effect) * factor) for b in (*blends, 0.0)
        }
        curves = {
            b: qini_curve(
                score[pair],
                is_treated.astype(int),
                outcome[pair],
                propensity=test.propensity[pair],
                bins=bins,
            )
            for b, score in scores.items()
        }
        blend = max(blends, key=lambda b: (curves[b].qini_coefficient, b))
        curve = curves[blend]
        uplift_column = scores[blend]
        ate, low, high = average_treatment_effect(is_treated, outcome[pair], test.propensity[pair])
        arms[arm] = {
            "qini": curve,
            "qini_coefficient": curve.qini_coefficient,
            "qini_null_sd": qini_null_sd(
                is_treated.astype(int),
                outcome[pair],
                test.propensity[pair],
                seed=seed,
                bins=bins,
            ),
            "ate": ate,
            "ate_ci_low": low,
            "ate_ci_high": high,
            "mean_predicted_uplift": float(uplift_column.mean()),
            "blend": blend,
            "mean_effect": mean_effect,
            "qini_by_blend": {str(b): curves[b].qini_coefficient for b in blends},
            "qini_average_only": curves[0.0].qini_coefficient,
            "n_treated": int(is_treated.sum()),
            "n_control": int((~is_treated).sum()),
        }
    return {
        "learner": learner,
        "seed": seed,
        "n_train": int(train_rows.size),
        "n_test": int(test_rows.size),
        "arms": arms,
    }
