"""The experiment statistics on simulated data where the truth is known: planted effects are
found, no effect gives no false winner at the stated rate, guardrails veto, the fixed horizon and
small samples say "run longer", the ratio-metric interval covers the truth, edge cases hold."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from huancui.monitoring.experiments import (
    CHAMPION,
    LANGUAGES,
    Action,
    ArmOutcomes,
    Design,
    Metric,
    Reason,
    Timing,
    analyse,
    compare,
    holm,
    peeking_rule,
    power_for,
    verdict_text,
)

ARM = "sms_and_email"
STARTED = date(2026, 11, 27)
AFTER_HORIZON = Timing(started_on=STARTED, horizon_days=30, as_of=date(2026, 12, 27))
ALPHA = 0.05


def simulate(
    rng: np.random.Generator,
    n: int,
    *,
    cure: float = 0.25,
    pay: float = 0.4,
    complain: float = 0.01,
    csat_mean: float = 3.8,
) -> ArmOutcomes:
    """Accounts with skewed arrears; payers repay a Beta(2, 3) share (truth: pay × 0.4)."""
    arrears = np.round(rng.lognormal(mean=np.log(3_000_00), sigma=0.8, size=n)).astype(np.int64)
    paid = rng.random(n) < pay
    collected = np.round(arrears * paid * rng.beta(2, 3, size=n)).astype(np.int64)
    rated = rng.random(n) < 0.15
    scores = np.clip(np.round(rng.normal(csat_mean, 1.0, size=n)), 1, 5)
    return ArmOutcomes.of(
        collected_fen=collected,
        arrears_at_start_fen=arrears,
        cured=rng.random(n) < cure,
        complained=rng.random(n) < complain,
        csat=np.where(rated, scores, np.nan),
        cost_fen=rng.poisson(3, size=n) * 5 + rng.binomial(1, 0.3, size=n) * 250,
    )


def test_planted_cure_gain_is_promoted() -> None:
    rng = np.random.default_rng(20261127)
    arms = {CHAMPION: simulate(rng, 4_000, cure=0.25), ARM: simulate(rng, 4_000, cure=0.30)}
    report = analyse(arms, design=Design(primary=Metric.CURE_RATE), timing=AFTER_HORIZON)
    assert report.recommendation.action is Action.PROMOTE
    assert report.recommendation.arm == ARM
    cure = report.comparison(ARM, Metric.CURE_RATE)
    assert cure.test == "two-proportion z"
    assert cure.ci_low < 0.05 < cure.ci_high  # the interval covers the planted +5 points
    assert cure.p_adjusted is not None and cure.p_adjusted < ALPHA
    text = verdict_text(report, report.recommendation, "en")
    assert text.startswith(f"Promote {ARM}: cure rate") and "no guardrail is breached" in text
    assert verdict_text(report, report.recommendation, "zh-CN").startswith(f"推广 {ARM}")


def test_planted_recovery_gain_is_promoted_on_the_ratio_metric() -> None:
    rng = np.random.default_rng(7)
    arms = {CHAMPION: simulate(rng, 3_000, pay=0.40), ARM: simulate(rng, 3_000, pay=0.55)}
    report = analyse(arms, design=Design(primary=Metric.RECOVERY_RATE), timing=AFTER_HORIZON)
    recovery = report.comparison(ARM, Metric.RECOVERY_RATE)
    assert recovery.test == "delta-method z"
    assert recovery.ci_low > 0  # truth: +6 points, (0.55 − 0.40) × E[Beta(2, 3)]
    assert report.recommendation.action is Action.PROMOTE


def null_runs(runs: int, *, arms: int, n: int, primary: Metric) -> list[Action]:
    """The recommendation in `runs` experiments whose arms all share one distribution."""
    actions = []
    # An effect of interest the sample can see (MDE below it), so "keep" is a possible answer.
    design = Design(primary=primary, min_effect=0.06)
    for seed in range(runs):
        rng = np.random.default_rng(10_000 + seed)
        data = {CHAMPION: simulate(rng, n)} | {f"arm_{k}": simulate(rng, n) for k in range(arms)}
        report = analyse(data, design=design, timing=AFTER_HORIZON)
        actions.append(report.recommendation.action)
    return actions


def allowed_false_winners(runs: int) -> float:
    """α plus three binomial standard errors of a rate α measured over `runs` runs."""
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


@pytest.mark.parametrize("primary", [Metric.CURE_RATE, Metric.RECOVERY_RATE])
def test_no_effect_gives_no_false_winner_at_the_stated_rate(primary: Metric) -> None:
    runs = 400
    actions = null_runs(runs, arms=1, n=1_500, primary=primary)
    promoted = actions.count(Action.PROMOTE) / runs
    # A two-sided test at α = 0.05 promotes (gain side only) in about 2.5 % of null runs.
    assert promoted <= allowed_false_winners(runs), f"false-winner rate {promoted:.3f}"
    # The sample is big enough to say "no gain" rather than "wait".
    assert actions.count(Action.KEEP) / runs >= 1 - allowed_false_winners(runs)


def test_holm_keeps_the_false_winner_rate_with_several_challengers() -> None:
    runs = 200
    actions = null_runs(runs, arms=3, n=800, primary=Metric.CURE_RATE)
    promoted = actions.count(Action.PROMOTE) / runs
    assert promoted <= allowed_false_winners(runs), f"family-wise false winners {promoted:.3f}"


def test_holm_matches_the_reference_implementation() -> None:
    p = [0.01, 0.04, 0.03, 0.2, math.nan]
    reference = multipletests(p[:4], method="holm")[1]
    assert holm(p)[:4] == pytest.approx(list(reference))
    assert math.isnan(holm(p)[4])


def test_challenger_raising_recovery_and_complaints_is_vetoed() -> None:
    rng = np.random.default_rng(3)
    arms = {
        CHAMPION: simulate(rng, 3_000, pay=0.40, complain=0.01),
        ARM: simulate(rng, 3_000, pay=0.55, complain=0.03),
    }
    report = analyse(arms, design=Design(primary=Metric.RECOVERY_RATE), timing=AFTER_HORIZON)
    recovery = report.comparison(ARM, Metric.RECOVERY_RATE)
    assert recovery.difference > 0 and recovery.p_value < ALPHA  # it does collect more …
    verdict = report.recommendation
    assert (verdict.action, verdict.reason, verdict.breaches) == (
        Action.KEEP,
        Reason.VETOED,
        (Metric.COMPLAINT_RATE,),
    )
    text = verdict_text(report, verdict, "en")
    assert "vetoed" in text and "complaint rate" in text and "one-sided p" in text
    assert "投诉率" in verdict_text(report, verdict, "zh-CN")


def test_lower_csat_vetoes_a_winner() -> None:
    rng = np.random.default_rng(5)
    arms = {
        CHAMPION: simulate(rng, 4_000, cure=0.25, csat_mean=4.0),
        ARM: simulate(rng, 4_000, cure=0.31, csat_mean=3.5),
    }
    report = analyse(arms, design=Design(), timing=AFTER_HORIZON)
    assert report.recommendation.reason is Reason.VETOED
    assert report.recommendation.breaches == (Metric.CSAT_MEAN,)


def test_before_the_horizon_the_answer_is_run_longer_whatever_the_p_value() -> None:
    rng = np.random.default_rng(11)
    arms = {CHAMPION: simulate(rng, 4_000, cure=0.20), ARM: simulate(rng, 4_000, cure=0.35)}
    early = Timing(started_on=STARTED, horizon_days=30, as_of=date(2026, 12, 10))
    report = analyse(arms, design=Design(), timing=early)
    assert report.verdict(ARM).action is Action.PROMOTE  # what an impatient look would see
    assert report.recommendation.action is Action.RUN_LONGER
    assert report.recommendation.reason is Reason.HORIZON_NOT_REACHED
    text = verdict_text(report, report.recommendation, "en")
    assert "reached on 2026-12-27 (17 days from 2026-12-10)" in text
    assert "2026-12-27" in peeking_rule(early, "en") and "固定观察期" in peeking_rule(
        early, "zh-CN"
    )


def test_small_sample_says_run_longer_with_the_sample_needed() -> None:
    rng = np.random.default_rng(13)
    arms = {CHAMPION: simulate(rng, 300), ARM: simulate(rng, 300)}
    report = analyse(
        arms, design=Design(min_effect=0.03), timing=AFTER_HORIZON,
        intake_per_day={CHAMPION: 10.0, ARM: 10.0},
    )  # fmt: skip
    verdict = report.recommendation
    assert (verdict.action, verdict.reason) == (Action.RUN_LONGER, Reason.UNDERPOWERED)
    power = report.power_of(ARM)
    assert power.mde > 0.03
    assert power.needed_champion is not None and power.needed_challenger is not None
    assert power.needed_champion > 300 and power.needed_challenger > 300
    assert verdict.extra_days == math.ceil((power.needed_champion - 300) / 10)
    text = verdict_text(report, verdict, "en")
    assert f"about {power.needed_champion:,} champion and {power.needed_challenger:,}" in text
    # With the sample it asks for, the same rates would detect the effect of interest.
    bigger = {
        CHAMPION: simulate(rng, power.needed_champion),
        ARM: simulate(rng, power.needed_challenger),
    }
    again = power_for(
        arm=ARM, challenger=bigger[ARM], champion=bigger[CHAMPION],
        design=Design(min_effect=0.03), difference=0.0,
    )  # fmt: skip
    assert again.mde == pytest.approx(0.03, rel=0.05)
    assert not again.underpowered or again.mde < 0.0305


def test_ratio_metric_interval_covers_the_truth_at_the_nominal_rate() -> None:
    runs, covered = 400, 0
    truth = (0.45 - 0.40) * 0.4  # payers repay E[Beta(2, 3)] = 0.4 of their arrears
    for seed in range(runs):
        rng = np.random.default_rng(50_000 + seed)
        champion, challenger = simulate(rng, 1_000, pay=0.40), simulate(rng, 1_000, pay=0.45)
        c = compare(Metric.RECOVERY_RATE, arm=ARM, challenger=challenger, champion=champion)
        covered += c.ci_low <= truth <= c.ci_high
    coverage = covered / runs
    margin = 3 * math.sqrt(0.95 * 0.05 / runs)
    assert 0.95 - margin <= coverage <= 0.95 + margin, f"coverage {coverage:.3f}"


def test_rare_complaints_use_fishers_exact_test() -> None:
    rng = np.random.default_rng(17)
    champion = simulate(rng, 200, complain=0.0)
    challenger = simulate(rng, 200, complain=0.02)
    c = compare(
        Metric.COMPLAINT_RATE, arm=ARM, challenger=challenger, champion=champion,
        alternative="larger",
    )  # fmt: skip
    assert c.test == "Fisher exact"
    assert 0 <= c.p_value <= 1


def test_empty_arms_and_zero_denominators_do_not_crash() -> None:
    rng = np.random.default_rng(19)
    zero_arrears = ArmOutcomes.of(collected_fen=[0, 0], arrears_at_start_fen=[0, 0], cured=[0, 0])
    one = ArmOutcomes.of(collected_fen=[100], arrears_at_start_fen=[500], cured=[1])
    cases: list[dict[str, ArmOutcomes]] = [
        {CHAMPION: simulate(rng, 50), ARM: ArmOutcomes.empty()},
        {ARM: simulate(rng, 50)},
        {CHAMPION: simulate(rng, 50)},
        {},
        {CHAMPION: zero_arrears, ARM: zero_arrears},
        {CHAMPION: one, ARM: one},
        {CHAMPION: simulate(rng, 50, complain=0.0), ARM: simulate(rng, 50, complain=0.0)},
    ]
    for index, arms in enumerate(cases):
        for primary in (Metric.CURE_RATE, Metric.RECOVERY_RATE):
            report = analyse(arms, design=Design(primary=primary), timing=AFTER_HORIZON)
            if index < 6:  # degenerate: nothing to judge a winner on
                assert report.recommendation.action in (Action.RUN_LONGER, Action.KEEP)
            for lang in LANGUAGES:
                assert verdict_text(report, report.recommendation, lang)
                for verdict in report.verdicts:
                    assert verdict_text(report, verdict, lang)
    empty = analyse(cases[0], design=Design(), timing=AFTER_HORIZON)
    assert empty.recommendation.reason is Reason.NO_SAMPLE
    assert "no accounts" in verdict_text(empty, empty.recommendation, "en")
    zero = analyse(cases[4], design=Design(primary=Metric.RECOVERY_RATE), timing=AFTER_HORIZON)
    assert math.isnan(zero.summary(CHAMPION).recovery_rate)
    quiet = analyse(cases[6], design=Design(), timing=AFTER_HORIZON)
    complaints = next(g for g in quiet.guardrails if g.metric is Metric.COMPLAINT_RATE)
    assert complaints.comparison.p_value == 1.0 and not complaints.breached


def test_arrays_of_different_lengths_are_refused_with_the_lengths() -> None:
    with pytest.raises(ValueError, match="one entry per account"):
        ArmOutcomes.of(collected_fen=[1, 2], arrears_at_start_fen=[1], cured=[True])


def test_a_secondary_metric_cannot_be_primary() -> None:
    with pytest.raises(ValueError, match="primary metric"):
        Design(primary=Metric.COMPLAINT_RATE)


def test_recovery_counts_payments_only_up_to_the_arrears() -> None:
    settled = ArmOutcomes.of(
        collected_fen=[90_000, 500], arrears_at_start_fen=[1_000, 1_000], cured=[1, 0]
    )
    assert settled.recovered_fen.tolist() == [1_000, 500]
