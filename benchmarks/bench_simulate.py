"""Benchmark of the closed-loop simulator (issue 7): N accounts × D days of one strategy through
the real `huancui simulate`, as a child process; results to docs/benchmarks.md.

Two runs side by side: the first prepares the world (generate 13 months of history, validate,
compute delinquency) and simulates; the second finds the world prepared and only simulates.
Wall time and peak resident memory come from wait4's rusage of each child alone; the phases
(reading the world, writing its daily snapshot files, the engine's plans, the world's days) from
the command's own JSON. Usage:

    .venv/bin/python benchmarks/bench_simulate.py [--accounts 100000] [--days 90] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_plan import machine  # noqa: E402  (the machine line all benchmarks print)

HUANCUI = Path(sys.executable).parent / "huancui"


def child(args: list[str], env: dict[str, str], out: Path) -> tuple[float, float, dict[str, Any]]:
    """Run a child and measure its wall time and its own peak RSS (wait4)."""
    started = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(args)} failed:\n{err}")
    data = json.loads(out.read_text(encoding="utf-8"))
    return seconds, usage.ru_maxrss / 1024, data


def run(accounts: int, days: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="huancui-bench-sim-"))
    env = {**os.environ, "HUANCUI_HOME": str(work / "home")}
    env.pop("HUANCUI_DATABASE_URL", None)
    args = [str(HUANCUI), "simulate", "--strategy", str(ROOT / "strategies" / "default.yaml"),
            "--accounts", str(accounts), "--days", str(days), "--seeds", "1", "--json",
            "--work", str(work / "sim")]  # fmt: skip
    try:
        first = child(args, env, work / "first.json")
        second = child(args, env, work / "second.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"## Simulator (issue 7): {accounts:,} accounts × {days} days",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, with `.venv/bin/python "
        f"benchmarks/bench_simulate.py --accounts {accounts} --days {days}`: `huancui simulate` "
        "of `strategies/default.yaml` on one seed, run twice as child processes, side by side. "
        "Each simulated night the DuckDB engine plans on the world's snapshot files; each day the "
        "world (numpy) lives through the plan. Peak memory is the child's own maximum resident "
        "set size (wait4).",
        "",
        "| run | wall time | peak memory | preparing the world | reading it | writing the daily "
        "snapshots | engine's plans | world's days |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, (seconds, rss, data) in (
        ("first (prepares the world)", first),
        ("second (world already prepared)", second),
    ):
        s = data["simulation"]["seconds"]
        ph = s["phases"]
        lines.append(
            f"| {label} | {seconds:,.1f} s | {rss:,.0f} MiB | {s['worlds_prepared']:,.1f} s "
            f"| {ph['load']:,.1f} s | {ph['snapshot']:,.1f} s | {ph['plan']:,.1f} s "
            f"| {ph['world']:,.1f} s |"
        )
    per_day = second[2]["simulation"]["seconds"]["phases"]
    total = sum(per_day.values())
    lines += [
        "",
        f"Per simulated day (second run): {total / days:,.2f} s, of which the engine's plan "
        f"{per_day['plan'] / days:,.2f} s and the world's step {per_day['world'] / days:,.2f} s.",
        "",
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    from huancui.kit.doc_blocks import write_block

    write_block(ROOT / "docs" / "benchmarks.md", "simulate", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    section = run(args.accounts, args.days)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
