"""Does the uplift learner rank the top of each night better than arrears, and does that pay?

Research, on the training log `scripts/optimise_evaluation.py` writes
(`var/optimise-evaluation/decisions-train.parquet`: the dispatch holdout experiment on six
worlds). Two checks, written to `--out` (JSON):

1. **The top of each night, on held-out accounts.** The learner is fitted as
   `huancui model uplift` fits it, on the same 70 % of the accounts (analytics.uplift's split);
   on the other 30 %, per night and per treatment, the candidates whose staffed contact would be
   that treatment (a visit where one is planned, else a call: the holdout's own rule) are ranked
   by each blend of learner and average effect, and the difference in mean 14-day payments
   between treated and held-out accounts among the top share of the night is reported, beside
   the same for random rankings. The evaluation fills 15 calls of about 1,000 candidates a night
   (1.5 %) and 15 visits of about 2,000 (0.75 %), so the top 2 % is the share that matters;
   held-out Qini, which picks the blend, averages over every depth.
   The same on each account's first logged night only (`first_nights`), pooled over nights:
   there no arm has yet acted on the account, so treated and held-out rows are alike but for
   chance. On later nights a treated account is a survivor of its earlier contacts (the
   customers they brought to pay have left) while a held-out one is not, so the per-night figures
   above compare unlike rows; `train_uplift` judges on first nights for this reason.
2. **With `--simulate CALLS:VISITS`**: the balance ranking and `optimised-fill` on the evaluation
   worlds (seeds 1–5) with the blend forced to `--blend CALL:VISIT`, paired by seed as in
   scripts/optimise_evaluation.py (about 13 minutes at 20,000 accounts × 60 days).

Usage:
    .venv/bin/python scripts/uplift_blend_check.py [--simulate 15:15 --blend 1:1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimise_evaluation as evaluation

from huancui.analytics import uplift
from huancui.analytics.dispatch import (
    BLENDS,
    DECISION_FEATURES,
    TREATMENTS,
    _arrears_base,
    check_log,
    first_nights,
    train_uplift,
)
from huancui.analytics.registry import save_uplift
from huancui.kit.settings import Settings
from huancui.simulation.runner import from_strategy_file, simulate

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "optimise-evaluation"
SHARES = (0.02, 0.05, 0.1, 0.25)
# First nights are one row per account: a few hundred per treatment in the held-out part, so the
# top 2 % would be a handful of rows.
FIRST_SHARES = (0.1, 0.25, 0.5)
SEED = 7  # train_uplift's


def lift(
    score: np.ndarray,
    share: float,
    nights: list[np.ndarray],
    treated: np.ndarray,
    paid: np.ndarray,
) -> float:
    """Mean 14-day payment of treated minus held-out rows among each night's top `share` by
    `score`, in yuan (0 if either group is empty)."""
    chosen = np.zeros(paid.size, dtype=bool)
    for rows in nights:
        k = max(1, round(share * rows.size))
        chosen[rows[np.argsort(-score[rows], kind="stable")[:k]]] = True
    on, off = chosen & treated, chosen & ~treated
    if not (on.any() and off.any()):
        return 0.0
    return float((paid[on].mean() - paid[off].mean()) / 100)


def by_share(
    scores: dict[str, np.ndarray],
    shares: tuple[float, ...],
    groups: list[np.ndarray],
    treated: np.ndarray,
    paid: np.ndarray,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Per top share: `lift` of each score (blend → score), and of 20 random rankings."""
    found = []
    for share in shares:
        randoms = [lift(rng.random(paid.size), share, groups, treated, paid) for _ in range(20)]
        found.append(
            {
                "top_share": share,
                "uplift_yuan_per_row": {
                    b: lift(score, share, groups, treated, paid) for b, score in scores.items()
                },
                "random_mean": float(np.mean(randoms)),
                "random_sd": float(np.std(randoms)),
            }
        )
    return found


def top_of_night(log_path: Path) -> dict[str, Any]:
    """Check 1 (see the module doc)."""
    raw_log = pq.read_table(log_path)
    log = check_log(raw_log)
    first = first_nights(raw_log)
    features = np.column_stack(
        [log.column(n).to_numpy(zero_copy_only=False) for n in DECISION_FEATURES]
    ).astype(np.float64)
    treatment = np.asarray([TREATMENTS.index(t) for t in log.column("treatment").to_pylist()])
    reward = log.column("reward_fen").to_numpy(zero_copy_only=False).astype(np.float64)
    base = _arrears_base(features)
    data = uplift.UpliftData(
        features=features,
        treatment=treatment,
        outcome=reward / base,
        propensity=log.column("propensity").to_numpy(zero_copy_only=False),
    )
    accounts = log.column("account_id").to_numpy(zero_copy_only=False)
    train_rows, test_rows = uplift._stratified_split(
        treatment, seed=SEED, test_share=0.3, groups=accounts
    )
    train, test = data.subset(train_rows), data.subset(test_rows)
    raw = uplift.fit_t_learner(train, seed=SEED).predict_uplift(test.features)
    scale, paid = base[test_rows], reward[test_rows]
    night = log.column("day").to_numpy()[test_rows]
    allowed_visit = log.column("allowed_visit").to_numpy(zero_copy_only=False)[test_rows]
    allowed_call = log.column("allowed_call").to_numpy(zero_copy_only=False)[test_rows]
    rng = np.random.default_rng(SEED)
    report: dict[str, Any] = {"log": str(log_path), "rows": log.num_rows, "treatments": {}}
    for arm, name in enumerate(TREATMENTS[1:], start=1):
        # The holdout gives a visit where one is planned, else the call: its candidates for a
        # treatment are those whose staffed contact would be that one.
        own = allowed_visit if name == "visit" else (allowed_call & ~allowed_visit)
        pool = own & ((test.treatment == 0) | (test.treatment == arm))
        treated = test.treatment == arm
        nights = [np.flatnonzero(pool & (night == n)) for n in np.unique(night[pool])]
        mean_effect = float(np.mean(raw[:, arm - 1]))

        scores = {str(b): (b * raw[:, arm - 1] + (1 - b) * mean_effect) * scale for b in BLENDS}
        rows_out = by_share(scores, SHARES, nights, treated, paid, rng)
        clean = pool & first[test_rows]
        first_out = by_share(scores, FIRST_SHARES, [np.flatnonzero(clean)], treated, paid, rng)
        report["treatments"][name] = {
            "candidates_per_night": float(pool.sum() / max(1, len(nights))),
            "treated_rows": int((pool & treated).sum()),
            "held_out_rows": int((pool & ~treated).sum()),
            "by_top_share": rows_out,
            "first_nights": {
                "treated_rows": int((clean & treated).sum()),
                "held_out_rows": int((clean & ~treated).sum()),
                "by_top_share": first_out,
            },
        }
    return report


def forced_blend(capacity: str, blend: tuple[float, float]) -> dict[str, Any]:
    """Check 2 (see the module doc)."""
    cap = evaluation.parse_capacity(capacity)
    settings = Settings(home=WORK / "blend-check-home")
    args = argparse.Namespace(
        accounts=20_000, days=60, work=WORK, score_targets=list(evaluation.SCORE_TARGETS)
    )
    common: dict[str, Any] = {
        "accounts": args.accounts,
        "days": args.days,
        "start": evaluation.START,
        "work": WORK / "simulations",
        "settings": settings,
        "score_models": evaluation.score_models(args, settings, {}),
    }
    model, _ = train_uplift(pq.read_table(WORK / "decisions-train.parquet"), seed=SEED)
    chosen = model.blend
    folder = save_uplift(
        dataclasses.replace(model, blend=blend), settings.home, {"source": __file__}
    )
    version = int(folder.name.removeprefix("v"))
    base = from_strategy_file(evaluation.STRATEGY)
    contenders = [
        evaluation.contender(base, "balance", cap, None),
        evaluation.contender(base, "optimised", cap, version, name=evaluation.FILL),
    ]
    result = simulate(contenders, seeds=list(evaluation.EVAL_SEEDS), **common)
    names = evaluation.names_at(cap.model_dump())
    keys = [key for _, key, _ in evaluation.SHOWN]
    return {
        "capacity": capacity,
        "blend_forced": list(blend),
        "blend_chosen_by_qini": list(chosen),
        "eval_seeds": list(evaluation.EVAL_SEEDS),
        "fill_minus_balance": {
            key: evaluation.paired(result, names[evaluation.FILL], names["balance"], key)
            for key in keys
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, default=WORK / "decisions-train.parquet")
    parser.add_argument("--simulate", metavar="CALLS:VISITS", default=None)
    parser.add_argument("--blend", metavar="CALL:VISIT", default="1:1")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "uplift-blend-check.json")
    args = parser.parse_args()
    if not args.log.exists():
        raise SystemExit(
            f"{args.log}: run scripts/optimise_evaluation.py first (it writes the log)"
        )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": " ".join(["python scripts/uplift_blend_check.py", *sys.argv[1:]]),
        "top_of_night": top_of_night(args.log),
    }
    if args.simulate:
        call, _, visit = args.blend.partition(":")
        report["forced_blend"] = forced_blend(args.simulate, (float(call), float(visit)))
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for name, found in report["top_of_night"]["treatments"].items():
        for where, rows in (
            ("of each night", found["by_top_share"]),
            ("of first nights", found["first_nights"]["by_top_share"]),
        ):
            for row in rows:
                blends = ", ".join(f"{b}: ¥{v:,.0f}" for b, v in row["uplift_yuan_per_row"].items())
                print(
                    f"{name} top {row['top_share']:.0%} {where}: {blends}"
                    f" (random ¥{row['random_mean']:,.0f} ± {row['random_sd']:,.0f})"
                )
    if "forced_blend" in report:
        collected = report["forced_blend"]["fill_minus_balance"]["collected"]
        print(f"optimised-fill − balance, collected (fen): {collected}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
