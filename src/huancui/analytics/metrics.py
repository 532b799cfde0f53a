"""How good a model's probabilities are: discrimination, calibration and population stability.

Owns the validation report (AUC, Gini, KS, Brier, calibration bins), the PSI and the stability
series (the same measures month end by month end).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from huancui.kit.errors import InvalidInput

CALIBRATION_BINS = 10
PSI_BINS = 10
# A bin that one distribution leaves empty would make ln(actual/expected) infinite; shares are
# floored at 0.01% so an empty bin adds a large but finite term instead.
PSI_FLOOR = 1e-4


class CalibrationBin(TypedDict):
    lower: float
    upper: float
    mean_predicted: float
    observed_rate: float
    count: int


class ValidationReport(TypedDict):
    n: int
    positives: int
    auc: float
    gini: float
    ks: float
    brier: float
    calibration: list[CalibrationBin]
    psi: float | None


def validation_report(
    y_true: np.ndarray, p: np.ndarray, *, p_train: np.ndarray | None = None
) -> ValidationReport:
    """The validation report of probabilities `p` of label 1 against outcomes `y_true`.

    Gini = 2·AUC − 1. KS is the largest absolute distance between the score CDFs of the
    positives and the negatives (so a perfectly reversed score also has KS 1; AUC tells the
    direction). Calibration uses 10 equal-count bins of rows ranked by `p`. PSI is given when
    `p_train` (the training scores) is."""
    labels = _outcomes(y_true)
    scores = _probabilities(p, argument="p")
    if scores.size != labels.size:
        raise InvalidInput(f"p: {scores.size} scores for {labels.size} outcomes in y_true")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    auc = float(roc_auc_score(labels, scores))
    return {
        "n": int(labels.size),
        "positives": int(labels.sum()),
        "auc": auc,
        "gini": 2.0 * auc - 1.0,
        "ks": float(np.max(np.abs(tpr - fpr))),
        "brier": float(np.mean((scores - labels) ** 2)),
        "calibration": calibration(labels, scores),
        "psi": None if p_train is None else psi(p_train, scores),
    }


class StabilityPoint(TypedDict):
    date: str
    rows: int
    positive_share: float
    mean_score: float
    auc: dict[str, float | None]  # per model; None when the month has one outcome only
    psi: float | None  # the first model's scores against `reference`


def stability_series(
    dates: np.ndarray, y_true: np.ndarray, scores: dict[str, np.ndarray], reference: np.ndarray
) -> list[StabilityPoint]:
    """Per date (month end), in date order: rows, positive share, the first model's mean score,
    each model's AUC, and the PSI of the first model's scores against `reference` (its training
    scores). A model that holds over time keeps its AUC and a PSI below 0.1."""
    labels = _outcomes(y_true)
    when = np.asarray(dates).astype(str)
    first = next(iter(scores))
    series: list[StabilityPoint] = []
    for day in sorted(set(when.tolist())):
        rows = when == day
        month = labels[rows]
        both = 0 < int(month.sum()) < month.size
        series.append(
            {
                "date": day,
                "rows": int(rows.sum()),
                "positive_share": float(month.mean()),
                "mean_score": float(np.mean(scores[first][rows])),
                "auc": {
                    name: float(roc_auc_score(month, p[rows])) if both else None
                    for name, p in scores.items()
                },
                "psi": psi(reference, scores[first][rows]),
            }
        )
    return series


def calibration(labels: np.ndarray, scores: np.ndarray) -> list[CalibrationBin]:
    """Mean predicted probability against the observed rate in equal-count bins by score.

    Bins are cut on rank, not on score values, so there are always min(10, n) bins and their
    counts add up to n; rows with tied scores may fall on both sides of a cut."""
    order = np.argsort(scores, kind="stable")
    bins: list[CalibrationBin] = []
    for part in np.array_split(order, min(CALIBRATION_BINS, scores.size)):
        if part.size == 0:
            continue
        bins.append(
            {
                "lower": float(scores[part].min()),
                "upper": float(scores[part].max()),
                "mean_predicted": float(scores[part].mean()),
                "observed_rate": float(labels[part].mean()),
                "count": int(part.size),
            }
        )
    return bins


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of `actual` scores against `expected` (training) scores.

    Bins are cut at the deciles of `expected` (repeated cut points merged); shares below
    PSI_FLOOR are raised to it. Rule of thumb: < 0.1 stable, 0.1–0.2 watch, > 0.2 shifted."""
    train = _finite(expected, argument="p_train")
    now = _finite(actual, argument="p")
    cuts = np.unique(np.quantile(train, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    expected_share = _shares(train, cuts)
    actual_share = _shares(now, cuts)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def _shares(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=cuts.size + 1)
    return np.maximum(counts / values.size, PSI_FLOOR)


def _finite(values: np.ndarray, *, argument: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise InvalidInput(f"{argument}: expected a non-empty one-dimensional array of scores")
    if not np.isfinite(array).all():
        raise InvalidInput(
            f"{argument}: {int((~np.isfinite(array)).sum())} scores are NaN or infinite"
        )
    return array


def _probabilities(values: np.ndarray, *, argument: str) -> np.ndarray:
    array = _finite(values, argument=argument)
    if ((array < 0) | (array > 1)).any():
        raise InvalidInput(f"{argument}: probabilities must lie between 0 and 1")
    return array


def _outcomes(values: np.ndarray) -> np.ndarray:
    array = _finite(values, argument="y_true")
    if not np.isin(array, (0.0, 1.0)).all():
        raise InvalidInput("y_true: outcomes must be 0 or 1")
    if np.unique(array).size < 2:
        raise InvalidInput("y_true: only one class present; AUC and KS need both 0 and 1")
    return array.astype(np.int64)
