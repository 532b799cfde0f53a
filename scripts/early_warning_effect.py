"""Measure early-warning care on the simulated world: does a courtesy reminder before the due
date keep high-risk accounts that are still current out of arrears?

1. The first seed's world (13 months of delivered history) trains an `early_warning` model with
   the product's own code (analytics.service.fit: six month ends train, the latest validates).
2. For each seed, the world's first-day snapshot is scored with it (analytics.service
   .write_scores, the file `huancui model score` writes), and the shipped default strategy, whose
   `early_warning` section reads score_ew, runs for DAYS days through the production planner and
   compliance guard (simulation.loop.run_strategy with the score folder). Its holdout is raised
   from a fifth to a half for statistical power; the stable hash draws it, so the treated and
   the held-out accounts differ only by the reminders.
3. Outcomes of every picked account (current on the first day, score at or above the section's
   threshold): entered arrears within the window, reached 30+ days past due, collected, SMS sent,
   complaints. The effect is treated − held out: per seed, and pooled over the seeds with a
   95 % t-interval across seeds.
4. The score's out-of-time discrimination: AUC of the first-day score for entering arrears in the
   simulated window, over the current accounts nobody reminded (held out or not picked).

Every number in the output comes from this run. Usage:

    .venv/bin/python scripts/early_warning_effect.py --accounts 50000 --days 60 \\
        --seeds 1 2 3 4 --out docs/early-warning.json
    .venv/bin/python scripts/early_warning_effect.py --table-from docs/early-warning.json \\
        --doc docs/analytics.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml
from scipy import stats
from sklearn.metrics import roc_auc_score

from huancui.analytics.service import fit, write_scores
from huancui.contact.policy import load_pack
from huancui.kit.doc_blocks import write_block
from huancui.kit.settings import Settings
from huancui.monitoring.data import load_channel_costs
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.simulation.behaviour import CHANNELS, load_behaviour
from huancui.simulation.loop import prepare_world, run_strategy
from huancui.strategy.assignment import Arm, assign_arm
from huancui.strategy.loader import parse_strategy
from huancui.strategy.spec import EW_EXPERIMENT, EW_HOLDOUT, Strategy

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 11, 27)
HOLDOUT = 0.5
OUTCOMES = ("entered_arrears", "reached_30", "collected_yuan", "sms_sent", "complaints")


def strategy_with_holdout(share: float) -> tuple[Strategy, float]:
    """The shipped default with its early-warning holdout set to `share`, and its threshold."""
    data = yaml.safe_load((ROOT / "strategies" / "default.yaml").read_text(encoding="utf-8"))
    data["early_warning"]["holdout_share"] = share
    loaded = parse_strategy(yaml.safe_dump(data, allow_unicode=True), source="default.yaml")
    assert loaded.strategy is not None, loaded.errors
    condition = data["early_warning"]["condition"]
    threshold = float(condition.split(">=")[1].split()[0])
    return loaded.strategy, threshold


def interval(values: list[float]) -> dict[str, float | None]:
    """Mean and 95 % Student-t interval across seeds."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return {"mean": mean, "low": None, "high": None}
    half = (
        stats.t.ppf(0.975, len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    )
    return {"mean": mean, "low": mean - half, "high": mean + half}


def one_seed(
    seed: int,
    *,
    accounts: int,
    days: int,
    work: Path,
    settings: Settings,
    model: tuple[Any, dict[str, Any]] | None,
    strategy: Strategy,
    threshold: float,
) -> tuple[dict[str, Any], tuple[Any, dict[str, Any]]]:
    policy = DelinquencyPolicy()
    source = prepare_world(
        accounts=accounts, seed=seed, as_of=START, work=work, settings=settings, policy=policy
    )
    trained: dict[str, Any] = {}
    if model is None:
        mark = time.perf_counter()
        pair, metadata = fit(source.snapshot, target="early_warning", as_of=START)
        trained = {
            "seconds": round(time.perf_counter() - mark, 1),
            "validation_auc": metadata["metrics"]["lightgbm"]["validation"]["auc"],
            "rows": metadata["rows"],
        }
        model = (pair, {**metadata, "version": 1})
    folder = work / f"scores-{seed}"
    path = write_scores(
        source.snapshot, as_of=START, target="early_warning", pair=model[0],
        metadata=model[1], lang="en", out=folder,
    )  # fmt: skip
    scores = pq.read_table(path)
    score_of = dict(
        zip(
            scores.column("account_id").to_pylist(),
            scores.column("score_early_warning").to_pylist(),
            strict=True,
        )
    )
    outcome = run_strategy(
        source=source,
        strategy=strategy,
        name="early-warning",
        pack=load_pack(settings.compliance_pack).pack,
        behaviour=load_behaviour().behaviour,
        policy=policy,
        days=days,
        settings=settings,
        engine_name="duckdb",
        work=work,
        scores=folder,
    )
    world = outcome.world
    first = pq.read_table(source.snapshot / "accounts.parquet").to_pylist()
    index = {a: i for i, a in enumerate(world.account_ids.to_pylist())}
    tally = world.tally
    sms_row = CHANNELS.index("sms")
    arms = [Arm(EW_HOLDOUT, HOLDOUT)]
    groups: dict[str, list[int]] = {"treated": [], "holdout": [], "not_picked": []}
    score_values: list[float] = []
    untreated_labels: list[int] = []
    untreated_scores: list[float] = []
    for row in first:
        current = (
            row["days_past_due"] == 0
            and row["status"] == "open"
            and not row["charged_off"]
            and row["balance_fen"] > 0
        )
        score = score_of.get(row["account_id"])
        if not current or score is None:
            continue
        i = index[row["account_id"]]
        if score >= threshold:
            arm = assign_arm(experiment=EW_EXPERIMENT, account_id=row["account_id"], arms=arms)
            group = "holdout" if arm == EW_HOLDOUT else "treated"
        else:
            group = "not_picked"
        groups[group].append(i)
        score_values.append(score)
        if group != "treated":
            untreated_scores.append(score)
            untreated_labels.append(int(tally.ever_delinquent[i]))

    def measures(rows: list[int]) -> dict[str, np.ndarray]:
        idx = np.asarray(rows, dtype=np.int64)
        return {
            "entered_arrears": tally.ever_delinquent[idx].astype(float),
            "reached_30": tally.reached_30[idx].astype(float),
            "collected_yuan": tally.collected[idx].astype(float) / 100.0,
            "sms_sent": tally.attempts[sms_row, idx].astype(float),
            "complaints": tally.complaints[idx].astype(float),
        }

    by_group = {g: measures(rows) for g, rows in groups.items()}
    result = {
        "seed": seed,
        "current_accounts": len(score_values),
        "picked": len(groups["treated"]) + len(groups["holdout"]),
        "treated": len(groups["treated"]),
        "holdout": len(groups["holdout"]),
        "means": {
            g: {k: float(v.mean()) if v.size else None for k, v in m.items()}
            for g, m in by_group.items()
        },
        "effect": {},
        "auc_untreated": float(roc_auc_score(untreated_labels, untreated_scores)),
        "run_seconds": round(sum(outcome.seconds.values()), 1),
    }
    for key in OUTCOMES:
        t, h = by_group["treated"][key], by_group["holdout"][key]
        diff = float(t.mean() - h.mean())
        se = math.sqrt(t.var(ddof=1) / t.size + h.var(ddof=1) / h.size)
        result["effect"][key] = {"diff": diff, "low": diff - 1.96 * se, "high": diff + 1.96 * se}
    if trained:
        result["model"] = trained
    return result, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--table-from", type=Path, default=None, help="Print the table of an earlier --out file."
    )
    parser.add_argument(
        "--doc", type=Path, default=None, help="Also write the table into this Markdown file."
    )
    args = parser.parse_args(argv)
    if args.table_from is not None:
        text = table(json.loads(args.table_from.read_text(encoding="utf-8")))
        if args.doc is not None:
            write_block(args.doc, "early-warning", text)
        print(text)
        return 0
    started = time.perf_counter()
    strategy, threshold = strategy_with_holdout(HOLDOUT)
    costs, _ = load_channel_costs(None)
    with tempfile.TemporaryDirectory(prefix="hc-ew-") as tmp:
        work = Path(tmp)
        settings = Settings(home=work / "home", database_url=f"sqlite:///{work / 'hc.db'}")
        model = None
        seeds = []
        for seed in args.seeds:
            result, model = one_seed(
                seed, accounts=args.accounts, days=args.days, work=work, settings=settings,
                model=model, strategy=strategy, threshold=threshold,
            )  # fmt: skip
            seeds.append(result)
            print(
                f"seed {seed}: {result['treated']:,} treated, {result['holdout']:,} held out; "
                f"entered arrears {result['effect']['entered_arrears']['diff']:+.4f}",
                file=sys.stderr,
            )
    pooled = {key: interval([s["effect"][key]["diff"] for s in seeds]) for key in OUTCOMES}
    output = {
        "accounts": args.accounts,
        "days": args.days,
        "seeds": args.seeds,
        "start": START.isoformat(),
        "threshold": threshold,
        "holdout_share": HOLDOUT,
        "sms_cost_yuan": float(costs.fen()["sms"]) / 100.0,
        "per_seed": seeds,
        "pooled_effect": pooled,
        "auc_untreated": interval([s["auc_untreated"] for s in seeds]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(output, indent=2, ensure_ascii=False)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(table(output))
    return 0


def table(output: dict[str, Any]) -> str:
    """The markdown table docs/analytics.md shows."""

    def shown(summary: dict[str, float | None], scale: float = 1.0, digits: int = 2) -> str:
        mean = f"{summary['mean'] * scale:+.{digits}f}"
        if summary["low"] is None or summary["high"] is None:
            return mean
        return f"{mean} ({summary['low'] * scale:+.{digits}f} to {summary['high'] * scale:+.{digits}f})"

    p = output["pooled_effect"]
    treated = sum(s["treated"] for s in output["per_seed"])
    held = sum(s["holdout"] for s in output["per_seed"])

    def mean(group: str, key: str, scale: float) -> str:
        values = [s["means"][group][key] * scale for s in output["per_seed"]]
        return f"{np.mean(values):.2f}"

    lines = [
        f"{output['accounts']:,} accounts × {output['days']} days from {output['start']}, seeds "
        f"{', '.join(str(s) for s in output['seeds'])}; threshold score_ew ≥ "
        f"{output['threshold']}; {treated:,} treated and {held:,} held-out accounts in all; "
        f"{output['seconds'] / 60:.1f} min.",
        "",
        "| outcome per picked account | held out | treated | treated − held out, mean over seeds (95 % interval) |",
        "|---|---:|---:|---|",
        f"| entered arrears in the window (%) | {mean('holdout', 'entered_arrears', 100)} | {mean('treated', 'entered_arrears', 100)} | {shown(p['entered_arrears'], 100)} |",
        f"| reached 30+ days past due (%) | {mean('holdout', 'reached_30', 100)} | {mean('treated', 'reached_30', 100)} | {shown(p['reached_30'], 100)} |",
        f"| collected from arrears (yuan) | {mean('holdout', 'collected_yuan', 1)} | {mean('treated', 'collected_yuan', 1)} | {shown(p['collected_yuan'], 1)} |",
        f"| SMS sent | {mean('holdout', 'sms_sent', 1)} | {mean('treated', 'sms_sent', 1)} | {shown(p['sms_sent'], 1)} |",
        f"| complaints per 1,000 | {mean('holdout', 'complaints', 1000)} | {mean('treated', 'complaints', 1000)} | {shown(p['complaints'], 1000)} |",
        "",
        f"Out-of-time AUC of the first-day score for entering arrears (accounts nobody reminded): "
        f"{shown(output['auc_untreated'], 1, 3).lstrip('+')}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
