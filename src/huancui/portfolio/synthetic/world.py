"""The latent world: each customer's ability and willingness to pay, and how they decide each month.

Ability is standardised repayment capacity (income against obligations), willingness is character;
both are standard normal, correlated, and the bank's credit grade is a noisy view of their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from statistics import NormalDist

import numpy as np

from huancui.portfolio.synthetic.parameters import WorldParameters

MAX_BUCKET = 6  # arrears buckets above this behave like it


class Outcome(IntEnum):
    """What a customer does about a month's due. Codes 2 and 3 read differently when in arrears."""

    NONE = 0
    PARTIAL = 1
    LATE_OR_KEEP_PACE = 2  # current: pays in full after the due date; in arrears: pays one due
    FULL_OR_CURE = 3  # current: pays in full on time; in arrears: pays everything that is due


@dataclass(frozen=True)
class Traits:
    """Per customer latent traits and the bank's grade (0 = A best ... 4 = E worst)."""

    ability: np.ndarray
    willingness: np.ndarray
    grade: np.ndarray


def draw_traits(rng: np.random.Generator, *, n: int, params: WorldParameters) -> Traits:
    """Traits of n approved borrowers: applicants whose score falls below the bank's cut-off were
    declined, so the worst tail of the population never becomes a customer."""
    rho = params.ability_willingness_correlation
    floor = _score_distribution(params).inv_cdf(params.declined_share)
    parts: list[np.ndarray] = []
    found = 0
    while found < n:
        ability = rng.standard_normal(n)
        willingness = rho * ability + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
        score = ability + willingness + params.grade_noise * rng.standard_normal(n)
        keep = score >= floor
        parts.append(np.stack([ability[keep], willingness[keep], score[keep]]))
        found += int(keep.sum())
    drawn = np.concatenate(parts, axis=1)[:, :n]
    return Traits(
        ability=drawn[0].astype(np.float32),
        willingness=drawn[1].astype(np.float32),
        grade=grade_from_score(drawn[2], params=params),
    )


def _score_distribution(params: WorldParameters) -> NormalDist:
    rho = params.ability_willingness_correlation
    return NormalDist(0.0, float(np.sqrt(2.0 + 2.0 * rho + params.grade_noise**2)))


def grade_from_score(score: np.ndarray, *, params: WorldParameters) -> np.ndarray:
    """Cut the approved borrowers' scores so that the grades have the configured shares."""
    approved = 1.0 - params.declined_share
    best_first = np.cumsum(params.grade_shares)[:-1]
    # Grade A holds the highest scores, so the cut points are upper-tail quantiles.
    distribution = _score_distribution(params)
    cuts = np.array([distribution.inv_cdf(1.0 - q * approved) for q in best_first])
    return np.searchsorted(-cuts, -score, side="left").astype(np.int8)


def outcome_cutpoints(params: WorldParameters) -> np.ndarray:
    """Logit cut points (bucket, 3) of the ordered-logit payment model, from the average
    customer's outcome probabilities."""
    probabilities = np.array(params.outcome_probabilities, dtype=np.float64)
    if probabilities.shape != (MAX_BUCKET + 1, 4):
        raise ValueError(f"outcome_probabilities needs {MAX_BUCKET + 1} rows of 4 probabilities")
    if not np.allclose(probabilities.sum(axis=1), 1.0):
        raise ValueError("each row of outcome_probabilities must sum to 1")
    return logit_cutpoints(probabilities)


def logit_cutpoints(probabilities: np.ndarray) -> np.ndarray:
    """Cut points of an ordered logit whose categories (last axis) have these probabilities at a
    latent value of 0; k categories give k - 1 cut points."""
    cumulative = np.cumsum(probabilities, axis=-1)[..., :-1].clip(1e-9, 1 - 1e-9)
    return np.asarray(np.log(cumulative / (1.0 - cumulative)))


def ordered_category(latent: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Category 0..k-1 of each latent value: the number of cut points it reaches."""
    category: np.ndarray = (latent[:, None] >= cuts).sum(axis=1).astype(np.int8)
    return category


def draw_outcomes(
    rng: np.random.Generator,
    *,
    bucket: np.ndarray,
    ability: np.ndarray,
    willingness: np.ndarray,
    shift: np.ndarray,
    cutpoints: np.ndarray,
    params: WorldParameters,
) -> np.ndarray:
    """One month's outcome per account: a latent propensity plus logistic noise, cut by bucket.

    `shift` moves the propensity per account, e.g. for products people put first.
    """
    propensity = params.ability_weight * ability + params.willingness_weight * willingness + shift
    latent = propensity + rng.logistic(size=bucket.shape[0])
    return ordered_category(latent, cutpoints[np.minimum(bucket, MAX_BUCKET)])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))
