"""Does the uplift dispatch beat the balance ranking where there is room, on worlds chosen in advance?

A confirmatory run of one comparison, declared before it ran: at 15 calls and 15 visits a day
(where the `hidden` bound of scripts/dispatch_headroom.py shows room), `optimised` (the registered
uplift model, value net of the contact's cost, CP-SAT) against `balance` (highest arrears first),
on evaluation worlds 6-20, which no earlier evaluation looked at (scripts/optimise_evaluation.py
uses 1-5). The uplift model is trained as in that script, but on the dispatch holdout experiment
of thirty worlds (seeds 101-130) instead of six: on six, the learner's differences between
accounts did not hold up on held-out first nights and the model fell back to the arrears ranking.

Every figure in the output comes from the run; differences are paired by seed (same world, same
luck) with a 95 % t-interval. Runs are spread over `--jobs` processes, a share of the seeds each;
every process trains the score models on world 100 itself (the same code and data, so the same
models). About 30 minutes on two cores at the defaults. Usage:

    .venv/bin/python scripts/optimise_confirmation.py [--jobs 2] [--eval-seeds 6 7 ...]
        [--out docs/optimisation-confirmation.json]
        [--table-from docs/optimisation-confirmation.json --doc docs/analytics.md [--block NAME]
         [--pool-with EARLIER.json ...]]

The replication on sixty more worlds ran as `--eval-seeds $(seq 21 80) --out
docs/optimisation-replication.json`, its table with `--pool-with
docs/optimisation-confirmation.json --block optimisation-replication` (docs/analytics.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimise_evaluation as evaluation  # scripts/

from huancui.analytics.dispatch import train_uplift
from huancui.analytics.registry import save_uplift
from huancui.kit.doc_blocks import measured, show
from huancui.kit.settings import Settings
from huancui.simulation.kpis import interval
from huancui.simulation.report import format_summary
from huancui.simulation.runner import DecisionLogs, from_strategy_file, simulate

ROOT = evaluation.ROOT
TRAIN_SEEDS = tuple(range(101, 131))
EVAL_SEEDS = tuple(range(6, 21))
CAPACITY = "15:15"
POLICIES = ("balance", "optimised")
ACCOUNTS, DAYS = 20_000, 60


def _common(work: Path, size: tuple[int, int]) -> dict[str, Any]:
    """What every simulate call of a process shares; each process has its own folder and home."""
    settings = Settings(home=work / "home")
    accounts, days = size
    args = argparse.Namespace(
        accounts=accounts, days=days, work=work, score_targets=list(evaluation.SCORE_TARGETS)
    )
    return {
        "accounts": accounts,
        "days": days,
        "start": evaluation.START,
        "work": work / "simulations",
        "settings": settings,
        "score_models": evaluation.score_models(args, settings, {}),
    }


def train_part(seeds: list[int], work: Path, size: tuple[int, int]) -> pa.Table:
    """The holdout experiment's decision log on `seeds` (one process)."""
    logs = DecisionLogs()
    base = from_strategy_file(evaluation.STRATEGY)
    cap = evaluation.parse_capacity("40:40")  # the holdout ignores capacity
    simulate(
        [evaluation.contender(base, "holdout", cap, None)],
        seeds=seeds,
        on_outcome=logs.add,
        **_common(work, size),
    )
    return logs.table()


def evaluate_part(
    seeds: list[int], version: int, work: Path, size: tuple[int, int]
) -> dict[str, Any]:
    """Every policy on `seeds` (one process; the model is in `work`/home): the simulator's
    result dict."""
    base = from_strategy_file(evaluation.STRATEGY)
    cap = evaluation.parse_capacity(CAPACITY)
    contenders = [
        evaluation.contender(base, p, cap, version if p == "optimised" else None) for p in POLICIES
    ]
    return simulate(contenders, seeds=seeds, **_common(work, size))


def _shares(seeds: tuple[int, ...], jobs: int) -> list[list[int]]:
    return [list(seeds[i::jobs]) for i in range(jobs) if seeds[i::jobs]]


def per_seed(parts: list[dict[str, Any]], name: str, key: str) -> dict[int, Any]:
    """seed → the KPI of contender `name`, gathered over the processes' results."""
    found: dict[int, Any] = {}
    for part in parts:
        seeds = part["simulation"]["seeds"]
        values = part["results"][name][key]["per_seed"]
        found.update(zip(seeds, values, strict=True))
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    size = (args.accounts, args.days)
    train_seeds, eval_seeds = tuple(args.train_seeds), tuple(args.eval_seeds)
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        print(f"1. holdout experiment on {len(train_seeds)} worlds", flush=True)
        logs = list(
            pool.map(
                train_part,
                _shares(train_seeds, args.jobs),
                [args.work / f"train-{i}" for i in range(args.jobs)],
                [size] * args.jobs,
            )
        )
        log = pa.concat_tables(logs)
        trained = time.perf_counter()
        print(f"2. uplift model from {log.num_rows:,} logged decisions", flush=True)
        model, report = train_uplift(log, seed=7, learner="t")
        shares = _shares(eval_seeds, args.jobs)
        folders = [args.work / f"eval-{i}" for i in range(len(shares))]
        versions = [
            int(
                save_uplift(
                    model,
                    folder / "home",
                    {
                        "source": "scripts/optimise_confirmation.py",
                        "train_seeds": list(train_seeds),
                    },
                ).name.removeprefix("v")
            )
            for folder in folders
        ]
        version = versions[0]
        fitted = time.perf_counter()
        print(f"3. {', '.join(POLICIES)} at {CAPACITY} on seeds {list(eval_seeds)}", flush=True)
        parts = list(pool.map(evaluate_part, shares, versions, folders, [size] * len(shares)))
    cap = evaluation.parse_capacity(CAPACITY)
    names = {p: evaluation.run_name(p, cap) for p in POLICIES}
    keys = [key for _, key, _ in evaluation.SHOWN]
    results: dict[str, dict[str, Any]] = {}
    for policy, name in names.items():
        results[policy] = {}
        for key in keys:
            values = per_seed(parts, name, key)
            results[policy][key] = interval([values[s] for s in eval_seeds])
    differences = {
        key: interval(
            [
                None if a is None or b is None else a - b
                for a, b in zip(
                    results["optimised"][key]["per_seed"],
                    results["balance"][key]["per_seed"],
                    strict=True,
                )
            ]
        )
        for key in keys
    }
    return {
        "command": "python scripts/optimise_confirmation.py " + " ".join(sys.argv[1:]),
        "capacity": CAPACITY,
        "accounts": args.accounts,
        "days": args.days,
        "train_seeds": list(train_seeds),
        "eval_seeds": list(eval_seeds),
        "model": {"version": version, "report": report},
        "results": results,
        "optimised_minus_balance": differences,
        "seconds": {
            "training_runs": round(trained - started, 1),
            "model": round(fitted - trained, 1),
            "evaluation_runs": round(time.perf_counter() - fitted, 1),
            "total": round(time.perf_counter() - started, 1),
            "jobs": args.jobs,
        },
    }


def pooled(report: dict[str, Any], earlier: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """optimised − balance of `key` over the seeds of `report` and of `earlier` runs together.

    Only runs of one design pool: the same model training, capacity and world size, on seeds no
    two of them share."""
    same = ("train_seeds", "capacity", "accounts", "days")
    seeds = list(report["eval_seeds"])
    values = list(report["optimised_minus_balance"][key]["per_seed"])
    for other in earlier:
        differ = [name for name in same if other[name] != report[name]]
        if differ:
            raise SystemExit(f"--pool-with: the runs differ in {', '.join(differ)}")
        if set(other["eval_seeds"]) & set(seeds):
            raise SystemExit("--pool-with: the runs share evaluation seeds")
        seeds += other["eval_seeds"]
        values += other["optimised_minus_balance"][key]["per_seed"]
    return interval(values)


def markdown(report: dict[str, Any], earlier: list[dict[str, Any]] | None = None) -> str:
    model = report["model"]["report"]
    held = [
        f"{name}: on {t['n_treated'] + t['n_control']:,} held-out first nights, Qini "
        f"¥{t['qini_coefficient'] / 100:,.0f} per account against ¥"
        f"{t['qini_average_only'] / 100:,.0f} for arrears alone (random rankings "
        f"±¥{t['qini_null_sd'] / 100:,.0f}), blend {t['blend']}"
        for name, t in model["treatments"].items()
    ]
    seeds = report["eval_seeds"]
    lines = [
        f"Model v{report['model']['version']}: {model['learner']}-learner on {model['outcome']}, "
        f"{model['rows']:,} logged decisions of {model['accounts']:,} accounts in "
        f"{len(report['train_seeds'])} worlds; " + "; ".join(held) + ".",
        "",
        f"{report['accounts']:,} accounts × {report['days']} days at {report['capacity']} calls:"
        f"visits a day, evaluation seeds {seeds[0]}–{seeds[-1]} ({len(seeds)} worlds); mean "
        "across seeds (95 % interval), and `optimised` − `balance` paired by seed:",
        "",
        "| figure | balance | optimised | optimised − balance |",
        "|---|---:|---:|---|",
    ]
    for title, key, unit in evaluation.SHOWN:
        lines.append(
            f"| {title} | {format_summary(report['results']['balance'][key], unit)} | "
            f"{format_summary(report['results']['optimised'][key], unit)} | "
            f"{format_summary(report['optimised_minus_balance'][key], unit, difference=True)} |"
        )
    ahead = sum(1 for v in report["optimised_minus_balance"]["collected"]["per_seed"] if v > 0)
    lines += ["", f"`optimised` collected more than `balance` in {ahead} of {len(seeds)} worlds."]
    if earlier:
        both = pooled(report, earlier, "collected")
        total = len(both["per_seed"])
        others = ", ".join(f"{r['eval_seeds'][0]}–{r['eval_seeds'][-1]}" for r in earlier)
        lines += [
            "",
            f"Pooled with the run on seeds {others} (the same model and design; {total} worlds): "
            f"`optimised` − `balance` collected {format_summary(both, 'money', difference=True)}, "
            f"ahead in {sum(1 for v in both['per_seed'] if v > 0)} of {total} worlds.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=list(TRAIN_SEEDS))
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=list(EVAL_SEEDS))
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "optimise-confirmation")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "optimisation-confirmation.json"
    )
    parser.add_argument("--table-from", type=Path, default=None, help="Print an earlier --out.")
    parser.add_argument("--doc", type=Path, default=None, help="Also write it into this file.")
    parser.add_argument(
        "--block", default="optimisation-confirmation", help="The block of --doc to write."
    )
    parser.add_argument(
        "--pool-with", type=Path, nargs="*", default=[],
        help="Earlier --out files of the same model on other seeds: add the pooled difference.",
    )  # fmt: skip
    args = parser.parse_args()
    report = measured(lambda: run(args), out=args.out, table_from=args.table_from)
    earlier = [json.loads(path.read_text(encoding="utf-8")) for path in args.pool_with]
    show(markdown(report, earlier), doc=args.doc, name=args.block)


if __name__ == "__main__":
    main()
