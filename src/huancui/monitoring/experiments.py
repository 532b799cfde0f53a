"""Experiment analysis: every challenger arm against the champion, with intervals, tests, power,
guardrails, a fixed-horizon rule against peeking and a verdict in words. Pure: no I/O.

Input is one array entry per account and arm (`ArmOutcomes`); `experiment_data.py` builds them from
the case plane and the snapshots. The statistical choices are explained in docs/experiments.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _special() -> Any:
    """scipy.special (fast normal and t; see _normal_p), imported on first use: importing scipy
    takes seconds, and every `huancui` command loads this module's CLI."""
    import scipy.special

    return scipy.special


def _scipy_stats() -> Any:
    import scipy.stats

    return scipy.stats


CHAMPION = "champion"
SATISFIED_SCORE = 4  # a CSAT score of 4 or 5 out of 5 counts as satisfied
FISHER_BELOW_EXPECTED = 5  # Fisher's exact test when any expected cell count is below this

Alternative = Literal["two-sided", "larger", "smaller"]


class Metric(StrEnum):
    RECOVERY_RATE = "recovery_rate"
    CURE_RATE = "cure_rate"
    COMPLAINT_RATE = "complaint_rate"
    CSAT_MEAN = "csat_mean"
    CSAT_SATISFIED = "csat_satisfied"
    COST_PER_ACCOUNT = "cost_per_account"


class Unit(StrEnum):
    SHARE = "share"  # 0–1, differences read in percentage points
    SCORE = "score"  # CSAT points 1–5
    FEN = "fen"  # money per account


UNITS: dict[Metric, Unit] = {
    Metric.RECOVERY_RATE: Unit.SHARE,
    Metric.CURE_RATE: Unit.SHARE,
    Metric.COMPLAINT_RATE: Unit.SHARE,
    Metric.CSAT_MEAN: Unit.SCORE,
    Metric.CSAT_SATISFIED: Unit.SHARE,
    Metric.COST_PER_ACCOUNT: Unit.FEN,
}
PRIMARY_METRICS = (Metric.CURE_RATE, Metric.RECOVERY_RATE)
# The smallest gain worth detecting when the caller names none: two percentage points.
DEFAULT_MIN_EFFECT = 0.02


class Action(StrEnum):
    PROMOTE = "promote"
    KEEP = "keep"
    RUN_LONGER = "run_longer"


class Reason(StrEnum):
    SIGNIFICANT_GAIN = "significant_gain"
    VETOED = "vetoed"
    WORSE = "worse"
    NO_SIGNIFICANT_GAIN = "no_significant_gain"
    UNDERPOWERED = "underpowered"
    HORIZON_NOT_REACHED = "horizon_not_reached"
    NO_SAMPLE = "no_sample"


def _ints(values: ArrayLike) -> NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _flags(values: ArrayLike) -> NDArray[np.bool_]:
    return np.asarray(values, dtype=np.bool_).reshape(-1)


def _floats(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64).reshape(-1)


@dataclass(frozen=True)
class ArmOutcomes:
    """One arm's accounts over the outcome window, one entry per account in every array.

    `csat` is the account's mean score (1–5) over the window and NaN when it gave none; the
    account, not the response, is the unit because accounts, not responses, were randomised.
    """

    collected_fen: NDArray[np.int64]
    arrears_at_start_fen: NDArray[np.int64]
    cured: NDArray[np.bool_]
    complained: NDArray[np.bool_]
    csat: NDArray[np.float64]
    cost_fen: NDArray[np.int64]

    @classmethod
    def of(
        cls,
        *,
        collected_fen: ArrayLike,
        arrears_at_start_fen: ArrayLike,
        cured: ArrayLike,
        complained: ArrayLike | None = None,
        csat: ArrayLike | None = None,
        cost_fen: ArrayLike | None = None,
    ) -> ArmOutcomes:
        """Arrays from any sequences; missing complaints, CSAT or costs mean none were seen."""
        arrears = _ints(arrears_at_start_fen)
        n = arrears.size
        return cls(
            collected_fen=_ints(collected_fen),
            arrears_at_start_fen=arrears,
            cured=_flags(cured),
            complained=_flags(np.zeros(n) if complained is None else complained),
            csat=_floats(np.full(n, np.nan) if csat is None else csat),
            cost_fen=_ints(np.zeros(n) if cost_fen is None else cost_fen),
        )

    @classmethod
    def empty(cls) -> ArmOutcomes:
        return cls.of(collected_fen=[], arrears_at_start_fen=[], cured=[])

    def __post_init__(self) -> None:
        sizes = {
            name: getattr(self, name).size
            for name in ("collected_fen", "arrears_at_start_fen", "cured", "complained", "csat",
                         "cost_fen")
        }  # fmt: skip
        if len(set(sizes.values())) > 1:
            raise ValueError(
                f"arm outcome arrays differ in length (one entry per account): {sizes}"
            )

    @property
    def accounts(self) -> int:
        return int(self.arrears_at_start_fen.size)

    @property
    def recovered_fen(self) -> NDArray[np.int64]:
        """Collected money counted towards the arrears at assignment, at most those arrears:
        paying ahead or settling the loan must not let one account swing the recovery rate."""
        capped = np.minimum(self.collected_fen, np.maximum(self.arrears_at_start_fen, 0))
        return np.maximum(capped, 0)


@dataclass(frozen=True)
class Design:
    """What the experiment is judged on, fixed before it starts."""

    primary: Metric = Metric.CURE_RATE
    alpha: float = 0.05
    power: float = 0.80
    min_effect: float = DEFAULT_MIN_EFFECT  # smallest gain in the primary metric worth finding

    def __post_init__(self) -> None:
        if self.primary not in PRIMARY_METRICS:
            names = ", ".join(PRIMARY_METRICS)
            raise ValueError(f"primary metric {self.primary!r}: choose one of {names}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha {self.alpha}: must lie between 0 and 0.5 (0.05 is usual)")
        if not 0.5 <= self.power < 1:
            raise ValueError(f"power {self.power}: must lie in [0.5, 1) (0.8 is usual)")
        if not 0 < self.min_effect < 1:
            raise ValueError(
                f"min_effect {self.min_effect}: a share between 0 and 1 (0.02 = 2 points)"
            )


@dataclass(frozen=True)
class Timing:
    """The fixed horizon: the experiment is judged once, `horizon_days` after it started."""

    started_on: date
    horizon_days: int
    as_of: date  # the report date

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ValueError(f"horizon_days {self.horizon_days}: must be at least 1")

    @property
    def horizon_date(self) -> date:
        return self.started_on + timedelta(days=self.horizon_days)

    @property
    def horizon_reached(self) -> bool:
        return self.as_of >= self.horizon_date

    @property
    def days_to_horizon(self) -> int:
        return max((self.horizon_date - self.as_of).days, 0)


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    accounts: int
    collected_fen: int
    recovered_fen: int
    arrears_at_start_fen: int
    recovery_rate: float
    cure_rate: float
    complaint_rate: float
    csat_responses: int
    csat_mean: float
    csat_satisfied: float
    cost_fen: int
    cost_per_account_fen: float

    def value(self, metric: Metric) -> float:
        return float(getattr(self, metric.value))


def summarise(arm: str, outcomes: ArmOutcomes) -> ArmSummary:
    n = outcomes.accounts
    rated = outcomes.csat[~np.isnan(outcomes.csat)]
    arrears = int(outcomes.arrears_at_start_fen.sum())
    recovered = int(outcomes.recovered_fen.sum())
    cost = int(outcomes.cost_fen.sum())
    return ArmSummary(
        arm=arm,
        accounts=n,
        collected_fen=int(outcomes.collected_fen.sum()),
        recovered_fen=recovered,
        arrears_at_start_fen=arrears,
        recovery_rate=recovered / arrears if arrears > 0 else math.nan,
        cure_rate=float(outcomes.cured.mean()) if n else math.nan,
        complaint_rate=float(outcomes.complained.mean()) if n else math.nan,
        csat_responses=int(rated.size),
        csat_mean=float(rated.mean()) if rated.size else math.nan,
        csat_satisfied=float((rated >= SATISFIED_SCORE).mean()) if rated.size else math.nan,
        cost_fen=cost,
        cost_per_account_fen=cost / n if n else math.nan,
    )


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion for one metric: the difference, its two-sided CI, the p-value
    of `test` against `alternative` and the unpooled standard error of the difference."""

    metric: Metric
    arm: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    alternative: Alternative
    se: float
    p_adjusted: float | None = None  # Holm over the challengers; primary metric only

    @property
    def unit(self) -> Unit:
        return UNITS[self.metric]


def _nan_comparison(
    metric: Metric, arm: str, champion: float, challenger: float, test: str, alt: Alternative
) -> Comparison:
    return Comparison(
        metric=metric, arm=arm, champion=champion, challenger=challenger,
        difference=challenger - champion, ci_low=math.nan, ci_high=math.nan, p_value=math.nan,
        test=f"{test} (too few accounts)", alternative=alt, se=math.nan,
    )  # fmt: skip


def _normal_p(z: float, alternative: Alternative) -> float:
    # scipy.special's functions, not scipy.stats' distribution objects: those cost ~100 µs a
    # call, which the simulations that check the error rates (thousands of reports) would feel.
    if alternative == "larger":
        return float(_special().ndtr(-z))
    if alternative == "smaller":
        return float(_special().ndtr(z))
    return float(2 * _special().ndtr(-abs(z)))


def _certain_p(difference: float, alternative: Alternative) -> float:
    """The p-value when there is no sampling spread at all: 0 if the difference points the
    tested way, else 1."""
    if difference == 0:
        return 1.0
    if alternative == "two-sided":
        return 0.0
    return 0.0 if (difference > 0) == (alternative == "larger") else 1.0


def _z(alpha: float) -> float:
    return float(_special().ndtri(1 - alpha / 2))


def compare_proportions(
    *,
    metric: Metric,
    arm: str,
    challenger_hits: int,
    challenger_n: int,
    champion_hits: int,
    champion_n: int,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Newcombe's hybrid-score interval for the difference (good coverage even near 0 % or with
    few events, unlike Wald); the pooled two-proportion z-test, or Fisher's exact test when an
    expected cell count is below 5 (where the normal approximation fails)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    n1, n0 = challenger_n, champion_n
    p1 = challenger_hits / n1 if n1 else math.nan
    p0 = champion_hits / n0 if n0 else math.nan
    if n1 == 0 or n0 == 0:
        return _nan_comparison(metric, arm, p0, p1, "two-proportion z", alternative)
    low, high = confint_proportions_2indep(
        challenger_hits, n1, champion_hits, n0, method="newcomb", compare="diff", alpha=alpha
    )
    pooled = (challenger_hits + champion_hits) / (n1 + n0)
    expected = min(pooled, 1 - pooled) * min(n1, n0)
    if expected < FISHER_BELOW_EXPECTED:
        table = [[challenger_hits, n1 - challenger_hits], [champion_hits, n0 - champion_hits]]
        fisher_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}
        p = float(_scipy_stats().fisher_exact(table, alternative=fisher_alt[alternative]).pvalue)
        test = "Fisher exact"
    else:
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        p = _normal_p((p1 - p0) / se0, alternative)
        test = "two-proportion z"
    return Comparison(
        metric=metric, arm=arm, champion=p0, challenger=p1, difference=p1 - p0,
        ci_low=float(low), ci_high=float(high), p_value=min(p, 1.0), test=test,
        alternative=alternative, se=math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0),
    )  # fmt: skip


def compare_means(
    *,
    metric: Metric,
    arm: str,
    challenger: NDArray[np.float64],
    champion: NDArray[np.float64],
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Welch's t-test and interval (no equal-variance assumption); NaN entries are left out."""
    x = challenger[~np.isnan(challenger)]
    y = champion[~np.isnan(champion)]
    mx = float(x.mean()) if x.size else math.nan
    my = float(y.mean()) if y.size else math.nan
    if x.size < 2 or y.size < 2:
        return _nan_comparison(metric, arm, my, mx, "Welch t", alternative)
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    diff, se = mx - my, math.sqrt(vx + vy)
    if se == 0:  # both arms constant: the sign of the difference is certain
        return Comparison(metric, arm, my, mx, diff, diff, diff,
                          _certain_p(diff, alternative), "Welch t", alternative, 0.0)  # fmt: skip
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    t = diff / se
    if alternative == "larger":
        p = float(_special().stdtr(df, -t))
    elif alternative == "smaller":
        p = float(_special().stdtr(df, t))
    else:
        p = float(2 * _special().stdtr(df, -abs(t)))
    half = float(_special().stdtrit(df, 1 - alpha / 2)) * se
    return Comparison(metric, arm, my, mx, diff, diff - half, diff + half, p, "Welch t",
                      alternative, se)  # fmt: skip


def ratio_and_variance(
    numerator: NDArray[np.int64], denominator: NDArray[np.int64]
) -> tuple[float, float]:
    """Σy/Σx and its delta-method variance, var(y − R·x) / (n · x̄²); NaN when undefined."""
    n = numerator.size
    total = float(denominator.sum())
    if n == 0 or total <= 0:
        return math.nan, math.nan
    ratio = float(numerator.sum()) / total
    if n < 2:
        return ratio, math.nan
    residual = numerator.astype(np.float64) - ratio * denominator.astype(np.float64)
    mean_x = total / n
    return ratio, float(residual @ residual) / (n - 1) / n / mean_x**2


def compare_ratios(
    *,
    metric: Metric,
    arm: str,
    challenger: tuple[NDArray[np.int64], NDArray[np.int64]],
    champion: tuple[NDArray[np.int64], NDArray[np.int64]],
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """A ratio of sums (Σ numerator / Σ denominator per arm) by the delta method and a z-test.

    Closed form and O(n), so it runs on millions of accounts and gives the same answer every time;
    a bootstrap would need thousands of resamples for the same interval. Accounts are independent
    and randomised, which is all the delta method assumes; its coverage is checked by simulation.
    """
    r1, v1 = ratio_and_variance(*challenger)
    r0, v0 = ratio_and_variance(*champion)
    if math.isnan(v1) or math.isnan(v0):
        return _nan_comparison(metric, arm, r0, r1, "delta-method z", alternative)
    diff, se = r1 - r0, math.sqrt(v1 + v0)
    if se == 0:
        return Comparison(metric, arm, r0, r1, diff, diff, diff,
                          _certain_p(diff, alternative), "delta-method z", alternative, 0.0)  # fmt: skip
    half = _z(alpha) * se
    return Comparison(metric, arm, r0, r1, diff, diff - half, diff + half,
                      _normal_p(diff / se, alternative), "delta-method z", alternative, se)  # fmt: skip


def compare(
    metric: Metric,
    *,
    arm: str,
    challenger: ArmOutcomes,
    champion: ArmOutcomes,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """The test that fits the metric: a ratio of sums, proportions or means."""
    if metric is Metric.RECOVERY_RATE:
        return compare_ratios(
            metric=metric, arm=arm, alpha=alpha, alternative=alternative,
            challenger=(challenger.recovered_fen, challenger.arrears_at_start_fen),
            champion=(champion.recovered_fen, champion.arrears_at_start_fen),
        )  # fmt: skip
    if metric in (Metric.CURE_RATE, Metric.COMPLAINT_RATE, Metric.CSAT_SATISFIED):
        hits1, n1 = _hits(metric, challenger)
        hits0, n0 = _hits(metric, champion)
        return compare_proportions(
            metric=metric, arm=arm, alpha=alpha, alternative=alternative,
            challenger_hits=hits1, challenger_n=n1, champion_hits=hits0, champion_n=n0,
        )  # fmt: skip
    if metric is Metric.CSAT_MEAN:
        values1, values0 = challenger.csat, champion.csat
    else:
        values1 = challenger.cost_fen.astype(np.float64)
        values0 = champion.cost_fen.astype(np.float64)
    return compare_means(
        metric=metric, arm=arm, alpha=alpha, alternative=alternative,
        challenger=values1, champion=values0,
    )  # fmt: skip


def _hits(metric: Metric, arm: ArmOutcomes) -> tuple[int, int]:
    """(accounts with the event, accounts at risk) for a proportion metric."""
    if metric is Metric.CURE_RATE:
        return int(arm.cured.sum()), arm.accounts
    if metric is Metric.COMPLAINT_RATE:
        return int(arm.complained.sum()), arm.accounts
    rated = arm.csat[~np.isnan(arm.csat)]
    return int((rated >= SATISFIED_SCORE).sum()), int(rated.size)


@dataclass(frozen=True)
class Power:
    """What the sample can detect in the primary metric, at the design's alpha and power."""

    arm: str
    metric: Metric
    mde: float  # smallest true difference found with the design's power
    observed_power: float  # chance of significance if the true difference were the observed one
    min_effect: float
    champion_accounts: int
    challenger_accounts: int
    needed_champion: int | None  # accounts needed to detect min_effect; None: unknown
    needed_challenger: int | None

    @property
    def underpowered(self) -> bool:
        return math.isnan(self.mde) or self.mde > self.min_effect


def _planning_se(metric: Metric, challenger: ArmOutcomes, champion: ArmOutcomes) -> float:
    """Standard error of the difference at the current sample sizes, from the observed spread.

    Proportions use (hits + 1) / (n + 2) so that an arm with no events yet does not claim a
    perfect, zero-variance estimate."""
    if metric is Metric.RECOVERY_RATE:
        _, v1 = ratio_and_variance(challenger.recovered_fen, challenger.arrears_at_start_fen)
        _, v0 = ratio_and_variance(champion.recovered_fen, champion.arrears_at_start_fen)
        return math.sqrt(v1 + v0)
    total = 0.0
    for arm in (challenger, champion):
        hits, n = _hits(metric, arm)
        if n == 0:
            return math.nan
        p = (hits + 1) / (n + 2)
        total += p * (1 - p) / n
    return math.sqrt(total)


def power_for(
    *,
    arm: str,
    challenger: ArmOutcomes,
    champion: ArmOutcomes,
    design: Design,
    difference: float,
    comparisons: int = 1,
) -> Power:
    """MDE = (z₁₋α′/₂ + z_power) · SE, with α′ = α / comparisons (Bonferroni: the Holm test that
    decides is never less powerful, so the MDE is a safe upper bound). The sample needed for
    `min_effect` keeps the arms' current proportions: both grow by (MDE / min_effect)²."""
    se = _planning_se(design.primary, challenger, champion)
    z_alpha = _z(design.alpha / max(comparisons, 1))
    z_power = float(_special().ndtri(design.power))
    n1, n0 = challenger.accounts, champion.accounts
    if math.isnan(se) or se == 0:
        mde = math.nan if math.isnan(se) else 0.0
        observed = math.nan if math.isnan(se) else 1.0
        needed = (None, None) if math.isnan(se) else (n0, n1)
    else:
        mde = (z_alpha + z_power) * se
        shift = abs(difference) / se if not math.isnan(difference) else 0.0
        observed = float(_special().ndtr(shift - z_alpha) + _special().ndtr(-z_alpha - shift))
        factor = max((mde / design.min_effect) ** 2, 1.0)
        needed = (math.ceil(n0 * factor), math.ceil(n1 * factor))
    return Power(
        arm=arm, metric=design.primary, mde=mde, observed_power=observed,
        min_effect=design.min_effect, champion_accounts=n0, challenger_accounts=n1,
        needed_champion=needed[0], needed_challenger=needed[1],
    )  # fmt: skip


@dataclass(frozen=True)
class Guardrail:
    """A one-sided test for harm: complaints up, or CSAT down. A breach vetoes the arm."""

    arm: str
    metric: Metric
    comparison: Comparison
    breached: bool


GUARDRAILS: dict[Metric, Alternative] = {
    Metric.COMPLAINT_RATE: "larger",
    Metric.CSAT_MEAN: "smaller",
}


def guardrails_for(
    *, arm: str, challenger: ArmOutcomes, champion: ArmOutcomes, alpha: float
) -> tuple[Guardrail, ...]:
    """Each guardrail at one-sided alpha, not corrected: a guardrail errs on the side of the
    customer, so a false alarm (keeping the champion) is the cheaper mistake."""
    result = []
    for metric, harm in GUARDRAILS.items():
        c = compare(
            metric, arm=arm, challenger=challenger, champion=champion, alpha=alpha,
            alternative=harm,
        )  # fmt: skip
        result.append(Guardrail(arm, metric, c, breached=bool(c.p_value < alpha)))
    return tuple(result)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the k-th smallest of m p-values is multiplied by m − k + 1,
    made non-decreasing, capped at 1. NaN p-values (untestable arms) stay NaN and do not count.
    (statsmodels' multipletests does the same but runs a full garbage collection per call.)"""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * p))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Verdict:
    """What to do with one challenger arm (or, as the recommendation, with the experiment)."""

    action: Action
    reason: Reason
    arm: str | None = None
    breaches: tuple[Metric, ...] = ()
    extra_days: int | None = None  # run longer: days of intake to reach the needed sample


@dataclass(frozen=True)
class ExperimentReport:
    design: Design
    timing: Timing
    summaries: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]  # two-sided, every metric × challenger
    power: tuple[Power, ...]  # primary metric, per challenger
    guardrails: tuple[Guardrail, ...]
    verdicts: tuple[Verdict, ...]  # per challenger
    recommendation: Verdict
    correction: str = "Holm"

    @property
    def challengers(self) -> tuple[str, ...]:
        return tuple(s.arm for s in self.summaries if s.arm != CHAMPION)

    def summary(self, arm: str) -> ArmSummary:
        return next(s for s in self.summaries if s.arm == arm)

    def comparison(self, arm: str, metric: Metric) -> Comparison:
        return next(c for c in self.comparisons if c.arm == arm and c.metric == metric)

    def power_of(self, arm: str) -> Power:
        return next(p for p in self.power if p.arm == arm)

    def guardrails_of(self, arm: str) -> tuple[Guardrail, ...]:
        return tuple(g for g in self.guardrails if g.arm == arm)

    def verdict(self, arm: str) -> Verdict:
        return next(v for v in self.verdicts if v.arm == arm)


def _extra_days(power: Power, intake_per_day: Mapping[str, float], arm: str) -> int | None:
    """Days of further intake until both arms reach the needed sample, at the current rates."""
    days = 0.0
    for name, have, need in (
        (CHAMPION, power.champion_accounts, power.needed_champion),
        (arm, power.challenger_accounts, power.needed_challenger),
    ):
        rate = intake_per_day.get(name, 0.0)
        if need is None or rate <= 0:
            return None
        days = max(days, (need - have) / rate)
    return math.ceil(days)


def _arm_verdict(
    *,
    arm: str,
    primary: Comparison,
    power: Power,
    guardrails: Sequence[Guardrail],
    design: Design,
    intake_per_day: Mapping[str, float],
) -> Verdict:
    if power.champion_accounts == 0 or power.challenger_accounts == 0:
        return Verdict(Action.RUN_LONGER, Reason.NO_SAMPLE, arm)
    breaches = tuple(g.metric for g in guardrails if g.breached)
    if breaches:
        return Verdict(Action.KEEP, Reason.VETOED, arm, breaches)
    p = primary.p_adjusted if primary.p_adjusted is not None else primary.p_value
    if not math.isnan(p) and p < design.alpha:
        if primary.difference > 0:
            return Verdict(Action.PROMOTE, Reason.SIGNIFICANT_GAIN, arm)
        return Verdict(Action.KEEP, Reason.WORSE, arm)
    if power.underpowered:
        return Verdict(
            Action.RUN_LONGER, Reason.UNDERPOWERED, arm,
            extra_days=_extra_days(power, intake_per_day, arm),
        )  # fmt: skip
    return Verdict(Action.KEEP, Reason.NO_SIGNIFICANT_GAIN, arm)


def _overall(verdicts: Sequence[Verdict], report_primary: Mapping[str, Comparison]) -> Verdict:
    promoted = [v for v in verdicts if v.action is Action.PROMOTE]
    if promoted:
        # Several winners: the one with the largest gain (each is already significant).
        return max(promoted, key=lambda v: report_primary[v.arm or ""].difference)
    longer = [v for v in verdicts if v.action is Action.RUN_LONGER]
    if longer:
        days = [v.extra_days for v in longer if v.extra_days is not None]
        first = longer[0]
        return Verdict(first.action, first.reason, first.arm, extra_days=max(days, default=None))
    if not verdicts:
        return Verdict(Action.RUN_LONGER, Reason.NO_SAMPLE)
    vetoed = [v for v in verdicts if v.reason is Reason.VETOED]
    return vetoed[0] if vetoed else verdicts[0]


def analyse(
    arms: Mapping[str, ArmOutcomes],
    *,
    design: Design,
    timing: Timing,
    intake_per_day: Mapping[str, float] | None = None,
) -> ExperimentReport:
    """Every challenger against the champion: all metrics, power, guardrails and a verdict.

    Before the horizon the verdict is "run longer" whatever the numbers say (fixed horizon:
    an early look at a p-value would inflate the false-winner rate)."""
    champion = arms.get(CHAMPION, ArmOutcomes.empty())
    names = sorted(a for a in arms if a != CHAMPION)
    summaries = (summarise(CHAMPION, champion), *(summarise(a, arms[a]) for a in names))
    comparisons: list[Comparison] = []
    for arm in names:
        for metric in Metric:
            comparisons.append(
                compare(
                    metric, arm=arm, challenger=arms[arm], champion=champion, alpha=design.alpha
                )
            )
    primaries = [c for c in comparisons if c.metric is design.primary]
    adjusted = holm([c.p_value for c in primaries])
    primary_by_arm: dict[str, Comparison] = {}
    for c, p in zip(primaries, adjusted, strict=True):
        fixed = replace(c, p_adjusted=p)
        comparisons[comparisons.index(c)] = fixed
        primary_by_arm[c.arm] = fixed
    powers = tuple(
        power_for(
            arm=a, challenger=arms[a], champion=champion, design=design,
            difference=primary_by_arm[a].difference, comparisons=len(names),
        )
        for a in names
    )  # fmt: skip
    guardrails = tuple(
        g
        for a in names
        for g in guardrails_for(arm=a, challenger=arms[a], champion=champion, alpha=design.alpha)
    )
    verdicts = tuple(
        _arm_verdict(
            arm=a, primary=primary_by_arm[a], power=p, design=design,
            guardrails=[g for g in guardrails if g.arm == a], intake_per_day=intake_per_day or {},
        )
        for a, p in zip(names, powers, strict=True)
    )  # fmt: skip
    if not timing.horizon_reached:
        recommendation = Verdict(Action.RUN_LONGER, Reason.HORIZON_NOT_REACHED)
    else:
        recommendation = _overall(verdicts, primary_by_arm)
    return ExperimentReport(
        design=design, timing=timing, summaries=summaries, comparisons=tuple(comparisons),
        power=powers, guardrails=guardrails, verdicts=verdicts, recommendation=recommendation,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The report in words (English and zh-CN).

Language = Literal["en", "zh-CN"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-CN")

METRIC_NAMES: dict[Language, dict[Metric, str]] = {
    "en": {
        Metric.RECOVERY_RATE: "recovery rate",
        Metric.CURE_RATE: "cure rate",
        Metric.COMPLAINT_RATE: "complaint rate",
        Metric.CSAT_MEAN: "CSAT",
        Metric.CSAT_SATISFIED: "satisfied share (CSAT ≥ 4)",
        Metric.COST_PER_ACCOUNT: "cost per account",
    },
    "zh-CN": {
        Metric.RECOVERY_RATE: "回收率",
        Metric.CURE_RATE: "出催率",
        Metric.COMPLAINT_RATE: "投诉率",
        Metric.CSAT_MEAN: "满意度",
        Metric.CSAT_SATISFIED: "满意占比（≥4 分）",
        Metric.COST_PER_ACCOUNT: "单户成本",
    },
}


def format_value(metric: Metric, value: float, *, signed: bool = False) -> str:
    """A metric's value for people: shares in %, differences of shares in points, money in
    yuan, CSAT in points."""
    if math.isnan(value):
        return "—"
    unit = UNITS[metric]
    sign = "+" if signed else ""
    if unit is Unit.SHARE:
        return f"{value * 100:{sign}.1f} pp" if signed else f"{value:.1%}"
    if unit is Unit.FEN:
        return f"{value / 100:{sign},.2f} CNY"
    return f"{value:{sign}.2f}"


def format_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_words(p: float | None, *, name: str = "p") -> str:
    """'p = 0.012', 'p < 0.001' or 'p = —'."""
    text = format_p(p)
    return f"{name} < 0.001" if text == "<0.001" else f"{name} = {text}"


def peeking_rule(timing: Timing, lang: Language = "en") -> str:
    """The stated protection against peeking: a fixed horizon, judged once."""
    h, s, n = timing.horizon_date, timing.started_on, timing.horizon_days
    if lang == "zh-CN":
        return (
            f"防偷看规则：固定观察期。实验只评判一次：在 {h}（首次分组 {s} 之后 {n} 天）或其后的"
            "第一个快照上；每个账户的结果从分组次日计到该日。观察期届满前报告只显示中期数字，"
            "一律建议继续运行；届满后数字固定在观察期末，再次查看不会改变结论。"
        )
    return (
        f"Peeking protection: fixed horizon. The experiment is judged once, on the first snapshot "
        f"on or after {h} ({n} days after its first assignment on {s}); each account's outcome "
        "counts from the day after its assignment until then. Before the horizon the report "
        "shows interim numbers and always says 'run longer'; after it the numbers are frozen at "
        "the horizon, so looking again does not change the answer."
    )


def _difference_words(c: Comparison, lang: Language) -> str:
    diff = format_value(c.metric, c.difference, signed=True)
    low = format_value(c.metric, c.ci_low, signed=True)
    high = format_value(c.metric, c.ci_high, signed=True)
    p = p_words(c.p_adjusted if c.p_adjusted is not None else c.p_value)
    if lang == "zh-CN":
        return f"差 {diff}，95% 置信区间 {low} 至 {high}，{p}"
    return f"{diff}, 95% CI {low} to {high}, {p}"


def _breach_words(report: ExperimentReport, arm: str, lang: Language) -> str:
    parts = []
    for g in report.guardrails_of(arm):
        if not g.breached:
            continue
        c = g.comparison
        name = METRIC_NAMES[lang][g.metric]
        one, zero = format_value(c.metric, c.challenger), format_value(c.metric, c.champion)
        if lang == "zh-CN":
            parts.append(f"{name} {one}，冠军组 {zero}（单侧 {p_words(c.p_value)}）")
        else:
            parts.append(f"{name} {one} vs {zero} (one-sided {p_words(c.p_value)})")
    return ("；" if lang == "zh-CN" else "; ").join(parts)


LONG_WAIT_DAYS = 365


def _intake_words(days: int | None, lang: Language) -> str:
    """How long the needed sample takes at the current intake, when that is known."""
    if days is None:
        return ""
    if days > LONG_WAIT_DAYS:
        if lang == "zh-CN":
            return "按目前的入组速度需要一年以上：请考虑提高流量占比或扩大实验客群。"
        return (
            " At the current intake that takes more than a year: consider a larger traffic share"
            " or a bigger cell."
        )
    if lang == "zh-CN":
        return f"按目前的入组速度约需再运行 {days} 天。"
    return f" At the current intake that is about {days} more days."


def verdict_text(report: ExperimentReport, verdict: Verdict, lang: Language = "en") -> str:
    """One verdict (an arm's, or the recommendation) in words, with the reason."""
    timing, design = report.timing, report.design
    metric = METRIC_NAMES[lang][design.primary]
    zh = lang == "zh-CN"
    if verdict.reason is Reason.HORIZON_NOT_REACHED:
        if zh:
            return (
                f"继续运行：固定观察期 {timing.horizon_days} 天，于 {timing.horizon_date} 届满"
                f"（还有 {timing.days_to_horizon} 天）；届满前的数字仅供参考，不作决策依据。"
            )
        return (
            f"Run longer: the fixed horizon of {timing.horizon_days} days is reached on "
            f"{timing.horizon_date} ({timing.days_to_horizon} days from {timing.as_of}); until "
            "then the numbers are interim and not a basis for a decision."
        )
    arm = verdict.arm or ""
    if verdict.reason is Reason.NO_SAMPLE:
        who = arm if arm and report.summary(CHAMPION).accounts else CHAMPION
        if zh:
            return f"继续运行：{who} 组还没有可评估的账户。"
        return f"Run longer: the {who} arm has no accounts to judge yet."
    primary = report.comparison(arm, design.primary)
    words = _difference_words(primary, lang)
    one = format_value(design.primary, primary.challenger)
    zero = format_value(design.primary, primary.champion)
    if verdict.reason is Reason.SIGNIFICANT_GAIN:
        if zh:
            return f"推广 {arm}：{metric} {one}，冠军组 {zero}（{words}，Holm 校正），护栏指标均未触发。"
        return (
            f"Promote {arm}: {metric} {one} against {zero} for the champion ({words} after "
            "Holm), and no guardrail is breached."
        )
    if verdict.reason is Reason.VETOED:
        breaches = _breach_words(report, arm, lang)
        if zh:
            return f"保留冠军策略：{arm} 触发护栏被否决——{breaches}。"
        return f"Keep the champion: {arm} is vetoed by its guardrails — {breaches}."
    if verdict.reason is Reason.WORSE:
        if zh:
            return f"保留冠军策略：{arm} 的{metric}更差（{one}，冠军组 {zero}；{words}）。"
        return f"Keep the champion: {arm} does worse on {metric} ({one} against {zero}; {words})."
    power = report.power_of(arm)
    min_effect = format_value(design.primary, power.min_effect, signed=True)
    if verdict.reason is Reason.UNDERPOWERED:
        mde = format_value(design.primary, power.mde, signed=True)
        need0, need1 = f"{power.needed_champion or 0:,}", f"{power.needed_challenger or 0:,}"
        have0, have1 = f"{power.champion_accounts:,}", f"{power.challenger_accounts:,}"
        if zh:
            return (
                f"继续运行：{arm} 的{metric}差异不显著（{words}），而样本太小，发现不了 {min_effect} "
                f"的提升（目前能检出 {mde}）。需要冠军组约 {need0} 户、{arm} 组约 {need1} 户"
                f"（现有 {have0} 户与 {have1} 户）。{_intake_words(verdict.extra_days, lang)}"
            )
        return (
            f"Run longer: {arm}'s difference in {metric} is not significant ({words}), and the "
            f"sample is too small to detect {min_effect} (detectable now: {mde}). That needs "
            f"about {need0} champion and {need1} {arm} accounts (now {have0} and {have1})."
            f"{_intake_words(verdict.extra_days, lang)}"
        )
    share = f"{design.power:.0%}"
    if zh:
        return (
            f"保留冠军策略：{arm} 的{metric}没有显著提升（{words}）；以现有样本，{min_effect} 的提升"
            f"至少有 {share} 的把握被发现。"
        )
    return (
        f"Keep the champion: {arm} shows no significant gain in {metric} ({words}); with this "
        f"sample a gain of {min_effect} would have been found at least {share} of the time."
    )
