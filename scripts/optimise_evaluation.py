"""Does dispatching scarce calls and visits by an uplift model beat the bank's balance ranking?
Trains the model on a holdout experiment's log and measures it on other worlds; every figure in
docs/optimisation.json comes from the run, none is typed. Usage:

    .venv/bin/python scripts/optimise_evaluation.py [--accounts 20000] [--days 60]
        [--capacity 40:40 15:15] [--eval-seeds 1 2 3 4 5] [--out docs/optimisation.json]

1. Training: the default programme on seeds 101-106 with the dispatch holdout experiment: by the
   stable hash of the account, half the accounts get every planned call and visit and half only
   the automated channels, for the whole run (analytics/dispatch `holdout`, known propensity
   0.5); every candidate of every night is logged with what the account paid in the next 14 days
   (simulation/loop.DECISION_REWARD_DAYS). An earlier design drew calls and visits at random each
   night; its controls were mostly contacted a few nights later, so the model learnt the value
   of contacting first, not of contacting, and lost to the balance ranking (docs/analytics.md).
2. The uplift model (T-learner, analytics/dispatch.train_uplift) is fitted on that log and
   registered (analytics/registry.save_uplift) in the run's own HUANCUI_HOME.
3. Evaluation on seeds 1-5 (worlds the model never saw), at each staff capacity (`--capacity`,
   calls:visits a day; default 40:40 and 15:15): the same programme with
   balance (highest arrears first), optimised (the registered model, CP-SAT, value net of the
   call's or visit's cost), optimised-fill (the same model with the staff's cost left out, so the
   capacity is filled) and random dispatch, and without any capacity for reference. Same worlds and luck for all (common random numbers);
   differences are paired by seed with 95 % t-intervals.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from huancui.analytics.dispatch import train_uplift
from huancui.analytics.registry import save_uplift
from huancui.analytics.service import fit
from huancui.kit.doc_blocks import write_block
from huancui.kit.settings import Settings
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.simulation.kpis import interval
from huancui.simulation.loop import DECISION_REWARD_DAYS, prepare_world
from huancui.simulation.report import format_summary
from huancui.simulation.runner import (
    Capacity,
    Contender,
    DecisionLogs,
    DispatchSpec,
    from_strategy_file,
    simulate,
)

ROOT = Path(__file__).resolve().parent.parent
STRATEGY = ROOT / "strategies" / "default.yaml"
START = date(2026, 11, 27)
TRAIN_SEEDS = (101, 102, 103, 104, 105, 106)
# The score models (pay_30d, ability, willingness) are trained once, on a world of their own, and
# score the first day of every training and evaluation world.
SCORE_SEED = 100
SCORE_TARGETS = ("pay_30d", "ability", "willingness")
EVAL_SEEDS = (1, 2, 3, 4, 5)
# Staff capacity, calls:visits a day. At 20,000 accounts the default programme without a capacity
# makes about 87 calls and 66 visits a day (docs/optimisation.json, `unlimited`), so 40:40 is
# about half of that and 15:15 about a fifth.
CAPACITIES = ("40:40", "15:15")
UNLIMITED = "unlimited"
FILL = "optimised-fill"  # optimised, the cost of a call or visit left out of the choice
POLICIES = ("balance", "optimised", "random")
# (figure, KPI key, unit) in the printed table, in this order.
SHOWN = (
    ("Collected", "collected", "money"),
    ("Net recovery (collected − contact cost)", "net_recovery", "money"),
    ("Cost of contacts", "contact_cost", "money"),
    ("Calls made", "calls_made", "count"),
    ("Visits made", "visits_made", "count"),
    ("Calls deferred by capacity", "calls_deferred", "count"),
    ("Visits deferred by capacity", "visits_deferred", "count"),
    ("Cure rate", "cure_rate", "rate"),
    ("Complaints per 1,000 contacted", "complaints_per_1000_accounts", "per_1000"),
)
# Paired differences reported with intervals: (minuend, subtrahend).
PAIRS = (
    ("optimised", "balance"),
    (FILL, "balance"),
    ("optimised", "random"),
    ("balance", "random"),
    (UNLIMITED, "balance"),
)


def label(capacity: Capacity) -> str:
    return f"{capacity.call}:{capacity.visit}"


def parse_capacity(text: str) -> Capacity:
    """CALLS:VISITS, e.g. 40:40."""
    calls, _, visits = text.partition(":")
    try:
        return Capacity(call=int(calls), visit=int(visits))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected CALLS:VISITS, e.g. 40:40") from None


def run_name(policy: str, capacity: Capacity) -> str:
    """A contender's name in the evaluation run: the policy at a capacity."""
    return f"{policy}@{label(capacity)}"


def contender(
    base: Contender, policy: str, capacity: Capacity, version: int | None, *, name: str = ""
) -> Contender:
    """The default programme under `capacity` with `policy`, named `policy@CALLS:VISITS`; name
    FILL: `optimised` with the staff's cost left out (capacity filled by the model's value
    alone)."""
    fill = name == FILL
    return Contender(
        name=run_name(name or policy, capacity),
        title_en=f"{base.title_en}, {policy} dispatch" + (", staff cost sunk" if fill else ""),
        title_zh=base.title_zh,
        source=base.source,
        strategy=base.strategy,
        dispatch=DispatchSpec(
            capacity=capacity,
            policy=policy,  # type: ignore[arg-type]
            model_version=version if policy == "optimised" else None,
            staff_cost=not fill,
        ),
    )


def treated_later(log: pa.Table, treatment: str) -> dict[str, Any]:
    """Of the logged nights an account could have had `treatment` but got automated, the share
    that got it on a later night within the reward window: how much of the logged contrast is
    'now or a few days later' rather than 'or not at all'."""
    allowed = f"allowed_{treatment}"
    result = duckdb.sql(
        f"""
        WITH log AS (SELECT seed, account_id, day, treatment, {allowed} AS ok FROM log),
        control AS (
            SELECT seed, account_id, day FROM log WHERE treatment = 'automated' AND ok
            AND day <= (SELECT max(day) FROM log) - {DECISION_REWARD_DAYS})
        SELECT count(*), avg(got::INTEGER) FROM (
            SELECT c.seed, c.account_id, c.day, bool_or(l.treatment = '{treatment}') AS got
            FROM control c JOIN log l ON l.seed = c.seed AND l.account_id = c.account_id
                AND l.day > c.day AND l.day <= c.day + {DECISION_REWARD_DAYS}
            GROUP BY ALL
            UNION ALL
            SELECT c.seed, c.account_id, c.day, false FROM control c ANTI JOIN log l
                ON l.seed = c.seed AND l.account_id = c.account_id
                AND l.day > c.day AND l.day <= c.day + {DECISION_REWARD_DAYS})
        """
    ).fetchall()[0]
    return {"control_nights": int(result[0]), "share_treated_later": float(result[1] or 0.0)}


def names_at(capacity: dict[str, int]) -> dict[str, str]:
    """Column name in the tables → contender name in the run, for one capacity."""
    cap = Capacity(**capacity)
    shown = {p: run_name(p, cap) for p in (POLICIES[0], POLICIES[1], FILL, *POLICIES[2:])}
    return shown | {UNLIMITED: UNLIMITED}


def paired(result: dict[str, Any], a: str, b: str, key: str) -> dict[str, Any]:
    """a − b per seed (same world, same luck) with its 95 % t-interval."""
    left = result["results"][a][key]["per_seed"]
    right = result["results"][b][key]["per_seed"]
    return interval(
        [None if x is None or y is None else x - y for x, y in zip(left, right, strict=True)]
    )


def differences(result: dict[str, Any], names: dict[str, str], keys: list[str]) -> dict[str, Any]:
    """Every pair of PAIRS at one capacity (`names`: column → contender), per KPI."""
    return {
        f"{a}-{b}": {key: paired(result, names[a], names[b], key) for key in keys} for a, b in PAIRS
    }


def markdown(report: dict[str, Any]) -> str:
    result = report["evaluation"]["result"]
    sim = result["simulation"]
    model = report["model"]["report"]
    held = [
        f"{name}: on {t['n_treated'] + t['n_control']:,} held-out first nights, "
        f"Qini ¥{t['qini_coefficient'] / 100:,.0f} per account (random rankings "
        f"±¥{t['qini_null_sd'] / 100:,.0f}; arrears alone ¥{t['qini_average_only'] / 100:,.0f}), "
        f"blend {t['blend']}, average effect ¥{t['ate'] / 100:,.0f} "
        f"(¥{t['ate_ci_low'] / 100:,.0f} to ¥{t['ate_ci_high'] / 100:,.0f})"
        for name, t in model["treatments"].items()
        if "blend" in t
    ]
    scored = {k: v for k, v in report.get("score_models", {}).items() if k != "seconds"}
    scores_line = (
        "Decision features include the first-day scores of "
        + ", ".join(f"{t} (validation AUC {v['validation_auc']:.3f})" for t, v in scored.items())
        + f", trained on world {SCORE_SEED}."
        if scored
        else "No model scores among the decision features."
    )
    lines = [
        scores_line,
        "",
        f"Model v{report['model']['version']}: {model['learner']}-learner on "
        f"{model.get('outcome', 'fen')}, {model['rows']:,} logged decisions of "
        f"{model['accounts']:,} accounts; " + "; ".join(held) + ".",
        "",
        f"{sim['accounts']:,} accounts × {sim['days']} days, evaluation seeds "
        f"{', '.join(map(str, sim['seeds']))}. `unlimited` makes every planned contact (the same "
        "run under every capacity). Mean across seeds (95 % interval).",
    ]
    for capacity in report["capacities"]:
        names = names_at(capacity)
        differences = report["differences"][label(Capacity(**capacity))]
        lines += [
            "",
            f"#### {capacity['call']} calls and {capacity['visit']} visits a day",
            "",
            "| figure | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for title, key, unit in SHOWN:
            cells = [format_summary(result["results"][n][key], unit) for n in names.values()]
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Paired differences (same worlds, same luck), 95 % t-interval across seeds:",
            "",
            "| figure | " + " | ".join(f"{a} − {b}" for a, b in PAIRS) + " |",
            "|---|" + "---|" * len(PAIRS),
        ]
        for title, key, unit in SHOWN:
            cells = [
                format_summary(differences[f"{a}-{b}"][key], unit, difference=True)
                for a, b in PAIRS
            ]
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def score_models(
    args: argparse.Namespace, settings: Settings, report: dict[str, Any]
) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Train each score target on world SCORE_SEED's 13 months of history (the product's own
    analytics.service.fit: six month ends train, the latest validates)."""
    source = prepare_world(
        accounts=args.accounts, seed=SCORE_SEED, as_of=START, work=args.work / "simulations",
        settings=settings, policy=DelinquencyPolicy(),
    )  # fmt: skip
    models: dict[str, tuple[Any, dict[str, Any]]] = {}
    for target in args.score_targets:
        pair, metadata = fit(source.snapshot, target=target, as_of=START)
        models[target] = (pair, {**metadata, "version": 1})
        report[target] = {
            "validation_auc": metadata["metrics"]["lightgbm"]["validation"]["auc"],
            "rows": metadata["rows"],
        }
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument(
        "--capacity",
        type=parse_capacity,
        nargs="+",
        default=[parse_capacity(c) for c in CAPACITIES],
        help="calls and visits the staff can make a day, CALLS:VISITS; each is evaluated",
    )
    parser.add_argument("--train-seeds", type=int, nargs="+", default=list(TRAIN_SEEDS))
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=list(EVAL_SEEDS))
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "optimise-evaluation")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "optimisation.json")
    parser.add_argument(
        "--score-targets",
        nargs="*",
        default=list(SCORE_TARGETS),
        help="models whose first-day scores the plans and the dispatch read (none: no scores)",
    )
    parser.add_argument("--table-from", type=Path, default=None, help="Print an earlier --out.")
    parser.add_argument("--doc", type=Path, default=None, help="Also write it into this file.")
    args = parser.parse_args()
    if args.table_from is not None:
        text = markdown(json.loads(args.table_from.read_text(encoding="utf-8")))
        if args.doc is not None:
            write_block(args.doc, "optimisation", text)
        print(text)
        return
    started = time.perf_counter()
    settings = Settings(home=args.work / "home")  # the model registry of this run only
    base = from_strategy_file(STRATEGY)
    common: dict[str, Any] = {
        "accounts": args.accounts,
        "days": args.days,
        "start": START,
        "work": args.work / "simulations",
        "settings": settings,
    }
    score_report: dict[str, Any] = {}
    if args.score_targets:
        print(f"0. score models {args.score_targets} on world {SCORE_SEED}", flush=True)
        mark = time.perf_counter()
        common["score_models"] = score_models(args, settings, score_report)
        score_report["seconds"] = round(time.perf_counter() - mark, 1)

    def progress(message: str) -> None:
        if message.endswith(f"day {args.days}/{args.days}"):
            print(f"  {message} ({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"1. the dispatch holdout experiment on training seeds {args.train_seeds}", flush=True)
    mark = time.perf_counter()
    logs = DecisionLogs()
    training = simulate(
        [contender(base, "holdout", args.capacity[0], None)],
        seeds=args.train_seeds,
        on_progress=progress,
        on_outcome=logs.add,
        **common,
    )
    log = logs.table()
    args.work.mkdir(parents=True, exist_ok=True)
    pq.write_table(log, args.work / "decisions-train.parquet")
    train_seconds = time.perf_counter() - mark

    print(f"2. uplift model from {log.num_rows:,} logged decisions", flush=True)
    mark = time.perf_counter()
    model, model_report = train_uplift(log, seed=7, learner="t")
    folder = save_uplift(
        model,
        settings.home,
        {"source": "scripts/optimise_evaluation.py", "train_seeds": args.train_seeds},
    )
    version = int(folder.name.removeprefix("v"))
    fit_seconds = time.perf_counter() - mark

    print(f"3. every dispatch policy and unlimited on seeds {args.eval_seeds}", flush=True)
    mark = time.perf_counter()
    contenders = []
    for capacity in args.capacity:
        contenders += [contender(base, p, capacity, version) for p in POLICIES]
        contenders.insert(-1, contender(base, "optimised", capacity, version, name=FILL))
    contenders.append(
        Contender(
            UNLIMITED, f"{base.title_en}, no capacity", base.title_zh, base.source, base.strategy
        )
    )
    evaluation = simulate(contenders, seeds=args.eval_seeds, on_progress=progress, **common)
    eval_seconds = time.perf_counter() - mark

    keys = [key for _, key, _ in SHOWN]
    report: dict[str, Any] = {
        "command": "python scripts/optimise_evaluation.py "
        f"--accounts {args.accounts} --days {args.days} "
        f"--capacity {' '.join(label(c) for c in args.capacity)}",
        "strategy": str(STRATEGY.relative_to(ROOT)),
        "capacities": [c.model_dump() for c in args.capacity],
        "reward_days": DECISION_REWARD_DAYS,
        "train_seeds": args.train_seeds,
        "eval_seeds": args.eval_seeds,
        "training": {
            "decisions_logged": log.num_rows,
            "controls_treated_later": {t: treated_later(log, t) for t in ("call", "visit")},
            "result": training,
        },
        "model": {"version": version, "report": model_report},
        "score_models": score_report,
        "evaluation": {"result": evaluation},
        "differences": {
            label(c): differences(evaluation, names_at(c.model_dump()), keys) for c in args.capacity
        },
        "seconds": {
            "training_runs": round(train_seconds, 1),
            "model": round(fit_seconds, 1),
            "evaluation_runs": round(eval_seconds, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    args.out.write_text(
        json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    print()
    print(markdown(report))
    print(f"written to {args.out} in {report['seconds']['total'] / 60:.1f} min")


if __name__ == "__main__":
    main()
