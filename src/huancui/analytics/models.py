"""The two models behind every analytics target: a LightGBM classifier and a WoE scorecard.

Owns training, prediction and reason codes (the plain-word factors behind each score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pyarrow as pa
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression

from huancui.kit.errors import InvalidInput

MODELS = ("lightgbm", "scorecard")
LANGS = ("zh-CN", "en")

# Scorecard scaling (optbinning "pdo_odds"): 600 points stand for odds of 50:1 of label 0 against
# label 1, and every 20 points more double those odds. A higher score therefore always means a
# lower probability of label 1, whichever outcome the target calls good.
SCORE_BASE = 600.0
SCORE_ODDS = 50.0
SCORE_PDO = 20.0
POINTS_PER_LOG_ODDS = SCORE_PDO / math.log(2)

# Small, regularised trees: the portfolios are a few thousand accounts per month end, and the model
# must give the same answer on every run (deterministic, one fixed seed, row-wise histograms).
LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 5,
    "min_child_samples": 50,
    "reg_lambda": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 2,
    "verbose": -1,
}
EARLY_STOPPING_ROUNDS = 20


class FeatureLabel(Protocol):
    """What reason codes need from a feature (huancui.analytics.features.Feature fits)."""

    @property
    def name(self) -> str: ...
    @property
    def label_en(self) -> str: ...
    @property
    def label_zh(self) -> str: ...
    @property
    def higher_means_en(self) -> str: ...
    @property
    def higher_means_zh(self) -> str: ...


@dataclass(frozen=True)
class TrainedPair:
    """Both models trained on the same rows, with what reason codes compare against.

    `means` are the training means of each feature (to say whether a value is high or low: a
    mean, unlike a median, splits 0/1 flags into their two values);
    `mean_contributions` are the scorecard's average log-odds contribution per feature."""

    features: tuple[str, ...]
    booster: lgb.Booster
    scorecard: Scorecard
    means: np.ndarray
    mean_contributions: np.ndarray


def feature_matrix(X: pa.Table, features: Sequence[str]) -> np.ndarray:
    """The feature columns as a float64 matrix, nulls as NaN, columns in `features` order."""
    missing = [name for name in features if name not in X.column_names]
    if missing:
        raise InvalidInput(
            f"X: columns {missing} are missing; the table must hold every feature the model uses"
        )
    if X.num_rows == 0:
        return np.empty((0, len(features)), dtype=np.float64)
    columns = []
    for name in features:
        column = X.column(name)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise InvalidInput(f"X: column {name} is {column.type}; features must be numeric")
        columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return np.column_stack(columns).astype(np.float64, copy=False)


def _labels(y: np.ndarray, rows: int, *, argument: str) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size != rows:
        raise InvalidInput(f"{argument}: {labels.size} labels for {rows} rows of features")
    if not np.isin(labels, (0, 1)).all():
        raise InvalidInput(f"{argument}: labels must be 0 or 1")
    if np.unique(labels).size < 2:
        raise InvalidInput(f"{argument}: only one class present; both 0 and 1 are needed")
    return labels.astype(np.int64)


def train_models(
    X: pa.Table,
    y: np.ndarray,
    *,
    features: Sequence[str],
    seed: int,
    validation: tuple[pa.Table, np.ndarray] | None = None,
) -> TrainedPair:
    """Train the LightGBM classifier and the WoE scorecard on the same rows.

    Nulls are allowed: LightGBM routes them natively, the scorecard gives them a missing bin
    (WoE 0, i.e. neutral points). `validation` (an out-of-time set, chosen by the caller) turns
    on early stopping for LightGBM; nothing is split off internally, since a random split of
    month-end panels would leak the future into the stopping rule."""
    names = tuple(features)
    matrix = feature_matrix(X, names)
    labels = _labels(y, matrix.shape[0], argument="y")
    booster = _train_lightgbm(matrix, labels, names=names, seed=seed, validation=validation)
    scorecard = _train_scorecard(X, labels, names=names)
    # An all-null column would make nanmean warn; its mean is taken as 0 (it is never "high").
    means = np.nanmean(np.where(np.isnan(matrix).all(axis=0), 0.0, matrix), axis=0)
    contributions = _scorecard_contributions(scorecard, X, names)
    return TrainedPair(
        features=names,
        booster=booster,
        scorecard=scorecard,
        means=np.nan_to_num(means),
        mean_contributions=contributions.mean(axis=0),
    )


def _train_lightgbm(
    matrix: np.ndarray,
    labels: np.ndarray,
    *,
    names: tuple[str, ...],
    seed: int,
    validation: tuple[pa.Table, np.ndarray] | None,
) -> lgb.Booster:
    model = lgb.LGBMClassifier(**LIGHTGBM_PARAMS, random_state=seed)
    fit_args: dict[str, Any] = {"feature_name": list(names)}
    if validation is not None:
        valid_matrix = feature_matrix(validation[0], names)
        valid_labels = _labels(validation[1], valid_matrix.shape[0], argument="validation")
        fit_args["eval_X"] = (valid_matrix,)
        fit_args["eval_y"] = (valid_labels,)
        fit_args["callbacks"] = [lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)]
    model.fit(matrix, labels, **fit_args)
    booster: lgb.Booster = model.booster_
    return booster


def _train_scorecard(X: pa.Table, labels: np.ndarray, *, names: tuple[str, ...]) -> Scorecard:
    # A feature with no value at all in training cannot be binned (optbinning refuses it); the
    # scorecard leaves it out, which is what its neutral missing bin would amount to anyway.
    binned = [name for name in names if X.column(name).null_count < X.num_rows]
    if not binned:
        raise InvalidInput("X: every feature is null; the scorecard needs at least one value")
    binning = BinningProcess(binned, max_n_bins=8)
    scorecard = Scorecard(
        binning_process=binning,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": SCORE_PDO,
            "odds": SCORE_ODDS,
            "scorecard_points": SCORE_BASE,
        },
    )
    scorecard.fit(_frame(X, binned), labels)
    return scorecard


def _frame(X: pa.Table, names: Sequence[str]) -> Any:
    """A pandas frame of the feature columns (optbinning's input), float64 with NaN for nulls."""
    matrix = feature_matrix(X, names)
    return pa.table({n: matrix[:, i] for i, n in enumerate(names)}).to_pandas()


def _scorecard_frame(scorecard: Scorecard, X: pa.Table) -> Any:
    return _frame(X, list(scorecard.binning_process_.variable_names))


def _scorecard_contributions(
    scorecard: Scorecard, X: pa.Table, names: tuple[str, ...]
) -> np.ndarray:
    """Each feature's term in the scorecard's log-odds of label 1 (rows × features).

    A feature's points are -POINTS_PER_LOG_ODDS × this term plus a constant, so ranking by the
    term is ranking by points; features the binning dropped contribute 0."""
    binning = scorecard.binning_process_
    selected = list(binning.get_support(names=True))
    woe = binning.transform(_scorecard_frame(scorecard, X), metric="woe")
    terms = np.asarray(woe[selected], dtype=np.float64) * scorecard.estimator_.coef_[0]
    out = np.zeros((X.num_rows, len(names)), dtype=np.float64)
    for position, name in enumerate(selected):
        out[:, names.index(name)] = terms[:, position]
    return out


def predict(pair: TrainedPair, X: pa.Table) -> dict[str, np.ndarray]:
    """The probability of label 1 for every row, from each model: {"lightgbm": p, "scorecard": p}."""
    if X.num_rows == 0:
        return {model: np.empty(0, dtype=np.float64) for model in MODELS}
    matrix = feature_matrix(X, pair.features)
    return {
        "lightgbm": np.asarray(pair.booster.predict(matrix), dtype=np.float64),
        "scorecard": np.asarray(
            pair.scorecard.predict_proba(_scorecard_frame(pair.scorecard, X))[:, 1],
            dtype=np.float64,
        ),
    }


def scorecard_points(pair: TrainedPair, X: pa.Table) -> np.ndarray:
    """The scorecard score (points) per row: higher means less likely to be label 1."""
    if X.num_rows == 0:
        return np.empty(0, dtype=np.float64)
    return np.asarray(pair.scorecard.score(_scorecard_frame(pair.scorecard, X)), dtype=np.float64)


def reasons(
    pair: TrainedPair,
    X: pa.Table,
    features: Sequence[FeatureLabel],
    lang: str,
    top: int = 3,
    *,
    towards: int = 1,
    model: str = "lightgbm",
) -> list[list[str]]:
    """Per row, the `top` factors pushing the score most towards label `towards`, in plain words.

    Which label is the bad outcome depends on the target (label 1 of pay_30d is good), so the
    caller decides with `towards` (1 or 0). For "lightgbm" the factors are the largest SHAP
    contributions (booster pred_contrib) in that direction; for "scorecard" the features whose
    points stray furthest from their training average in that direction (for towards=1, furthest
    below it, since fewer points mean label 1 is likelier). The wording comes from
    the feature's labels: a value above the training mean uses `higher_means_*`, any other value
    says the feature is low, a null says there is no record. The `top` strongest factors are
    always returned, so a very safe row still gets its (weak) leading factors."""
    if towards not in (0, 1):
        raise InvalidInput(f"towards: {towards!r} is not a label; use 1 or 0")
    if lang not in LANGS:
        raise InvalidInput(f"lang: {lang!r} is not supported; use one of {', '.join(LANGS)}")
    if model not in MODELS:
        raise InvalidInput(f"model: {model!r} is unknown; use one of {', '.join(MODELS)}")
    if top < 1:
        raise InvalidInput(f"top: {top} must be at least 1")
    labels = _labels_for(pair.features, features)
    if X.num_rows == 0:
        return []
    matrix = feature_matrix(X, pair.features)
    if model == "lightgbm":
        push = np.asarray(pair.booster.predict(matrix, pred_contrib=True))[:, :-1]
    else:
        push = _scorecard_contributions(pair.scorecard, X, pair.features) - pair.mean_contributions
    if towards == 0:
        push = -push
    count = min(top, len(pair.features))
    # Stable sort on the negated push: ties keep feature order, so reasons are reproducible.
    order = np.argsort(-push, axis=1, kind="stable")[:, :count]
    values = np.take_along_axis(matrix, order, axis=1)
    level = np.where(np.isnan(values), 0, np.where(values > pair.means[order], 1, -1))
    phrases = _phrases(labels, lang)
    return [
        [phrases[level_][index] for index, level_ in zip(row_order, row_level, strict=True)]
        for row_order, row_level in zip(order.tolist(), level.tolist(), strict=True)
    ]


def _labels_for(names: tuple[str, ...], features: Sequence[FeatureLabel]) -> list[FeatureLabel]:
    by_name = {feature.name: feature for feature in features}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise InvalidInput(f"features: no labels for {missing}; pass the model's Feature list")
    return [by_name[name] for name in names]


def _phrases(labels: list[FeatureLabel], lang: str) -> dict[int, list[str]]:
    """Per level (1 high, -1 low, 0 no record), the phrase for each feature."""
    if lang == "en":
        return {
            1: [f.higher_means_en for f in labels],
            -1: [f"{f.label_en}: low" for f in labels],
            0: [f"{f.label_en}: no record" for f in labels],
        }
    return {
        1: [f.higher_means_zh for f in labels],
        -1: [f"{f.label_zh}偏低" for f in labels],
        0: [f"{f.label_zh}：无记录" for f in labels],
    }
