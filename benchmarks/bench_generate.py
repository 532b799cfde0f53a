"""Benchmark: generate 1,000,000 accounts × 13 months and report wall time, peak memory and rows.

The generation runs in a child process so that its peak resident set size is its own.
Usage: .venv/bin/python benchmarks/bench_generate.py [--accounts N] [--months M] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = datetime.date(2025, 6, 30)
SEED = 20250630


def child(*, accounts: int, months: int, out: Path) -> None:
    from huancui.portfolio.synthetic import generate_portfolio

    report = generate_portfolio(accounts=accounts, months=months, seed=SEED, as_of=AS_OF, out=out)
    print(
        json.dumps(
            {
                "generator_seconds": round(report.elapsed_seconds, 2),
                "rows": report.rows,
                "customers": report.customers,
                "share_30_plus": round(report.share_30_plus, 4),
                "card_balance_30_plus_share": round(report.card_balance_30_plus_share, 4),
            }
        )
    )


def parent(*, accounts: int, months: int, keep: Path | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="huancui-bench-") as scratch:
        out = keep or Path(scratch) / "delivery"
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--accounts",
                str(accounts),
                "--months",
                str(months),
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    result: dict[str, object] = {
        "accounts": accounts,
        "months": months,
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "output_mib": round(size / 2**20, 1),
    }
    result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(accounts=args.accounts, months=args.months, out=args.out)
        return
    print(json.dumps(parent(accounts=args.accounts, months=args.months, keep=args.keep), indent=2))


if __name__ == "__main__":
    main()
