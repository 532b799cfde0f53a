"""Benchmarks of the foundation: generate and import a large portfolio; results to docs/benchmarks.md.

Each measured step runs as its own child process through the real `huancui` command, and its wall
time and peak resident memory (from wait4's rusage of that child alone) are recorded side by side
in one run. Usage:

    .venv/bin/python benchmarks/run.py [--accounts 1000000] [--months 13] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUANCUI = Path(sys.executable).parent / "huancui"
AS_OF = "2026-11-27"


@dataclass(frozen=True)
class Measure:
    step: str
    seconds: float
    peak_rss_mib: float
    detail: str


def measured(step: str, args: list[str], env: dict[str, str]) -> tuple[Measure, str]:
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{step} failed:\n{stdout}\n{stderr}")
    return Measure(step, seconds, usage.ru_maxrss / 1024, ""), stdout


def run(accounts: int, months: int) -> list[Measure]:
    work = Path(tempfile.mkdtemp(prefix="huancui-bench-"))
    env = {**os.environ, "HUANCUI_HOME": str(work / "home")}
    env.pop("HUANCUI_DATABASE_URL", None)
    delivery = work / "delivery"
    results: list[Measure] = []
    try:
        gen, out = measured(
            "generate",
            [str(HUANCUI), "generate", "--accounts", str(accounts), "--months", str(months),
             "--seed", "1", "--as-of", AS_OF, "--out", str(delivery), "--json"],
            env,
        )  # fmt: skip
        rows = json.loads(out).get("rows", {})
        size = sum(p.stat().st_size for p in delivery.glob("*.csv")) / 2**20
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(rows.items())) + f"; {size:,.0f} MiB CSV"
        results.append(Measure(gen.step, gen.seconds, gen.peak_rss_mib, detail))
        imp, out = measured(
            "import (SQLite + DuckDB)",
            [str(HUANCUI), "import", str(delivery), "--as-of", AS_OF, "--json"],
            env,
        )
        info = json.loads(out)
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in info["seconds_by_step"].items())
        detail = (
            f"{info['accounts']:,} accounts, {info['delinquency_spells']:,} delinquency records;"
            f" {steps}"
        )
        results.append(Measure(imp.step, imp.seconds, imp.peak_rss_mib, detail))
        again, _ = measured(
            "re-import same date (replace)",
            [str(HUANCUI), "import", str(delivery), "--as-of", AS_OF, "--json"],
            env,
        )
        results.append(Measure(again.step, again.seconds, again.peak_rss_mib, "snapshot replaced"))
        pg = os.environ.get("HUANCUI_TEST_POSTGRES_URL")
        if pg:
            pg_env = {**env, "HUANCUI_DATABASE_URL": pg, "HUANCUI_HOME": str(work / "pg-home")}
            pgm, _ = measured(
                "import (PostgreSQL COPY + DuckDB)",
                [str(HUANCUI), "import", str(delivery), "--as-of", AS_OF, "--json"],
                pg_env,
            )
            results.append(Measure(pgm.step, pgm.seconds, pgm.peak_rss_mib, "same delivery"))
        summ, _ = measured(
            "portfolio summary",
            [str(HUANCUI), "portfolio", "summary", "--as-of", AS_OF, "--json"],
            env,
        )
        results.append(Measure(summ.step, summ.seconds, summ.peak_rss_mib, ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def markdown(results: list[Measure], *, accounts: int, months: int) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"### Foundation: {accounts:,} accounts × {months} months",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({cpu}), Python "
        f"{platform.python_version()}, with `.venv/bin/python benchmarks/run.py --accounts "
        f"{accounts} --months {months}`. Wall time and peak resident memory of each command as a "
        "child process, in one run. Peak memory is resident set size, which includes the pages "
        "of the memory-mapped staging files (file-backed, reclaimable by the OS); DuckDB itself is "
        "capped by `HUANCUI_DUCKDB_MEMORY_LIMIT` (default 3GB) and spills to disk beyond it.",
        "",
        "| step | wall time | peak memory | detail |",
        "|---|---:|---:|---|",
    ]
    for m in results:
        lines.append(f"| {m.step} | {m.seconds:,.1f} s | {m.peak_rss_mib:,.0f} MiB | {m.detail} |")
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    from huancui.kit.doc_blocks import write_block

    head = (
        "# Benchmarks\n\nSpeed and memory targets are checked here, never in timed unit tests. "
        "Figures are from one run on the machine named; the machine is shared and noisy, so "
        "compare rows of one run, not runs of different days.\n\n"
    )
    write_block(ROOT / "docs" / "benchmarks.md", "foundation", section, head=head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    results = run(args.accounts, args.months)
    section = markdown(results, accounts=args.accounts, months=args.months)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
