"""Make a "collections book" snapshot: N accounts that are all collectable on the as-of date.

A bank hands its collections platform the delinquent part of its book. The synthetic generator
writes a whole book (about 4 % of accounts delinquent on a given day), so a 1,000,000-account
book gives the nightly plan only ~42,000 accounts to treat. This script takes an imported snapshot
folder and copies its collectable accounts (days past due ≥ 1, not charged off) with their
customers, holds and contact history, renaming every id with a copy suffix, until there are N of
them: the same mix of grades, arrears, time zones, holds and histories, N times over.

    .venv/bin/python benchmarks/collections_book.py SNAPSHOT_DIR TARGET_DIR [--accounts 1000000]
    .venv/bin/python benchmarks/bench_plan.py --snapshot TARGET_DIR

Only the Parquet files the plan reads are written (accounts, customers, holds, contacts), plus the
manifest.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import duckdb


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def build(source: Path, target: Path, accounts: int) -> dict[str, int]:
    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE seed AS SELECT * FROM read_parquet("
        f"{_lit(source / 'accounts.parquet')}) WHERE days_past_due >= 1"
        " AND NOT coalesce(charged_off, FALSE) AND status IS DISTINCT FROM 'charged_off'"
    )
    seed = con.execute("SELECT count(*) FROM seed").fetchone()
    assert seed is not None and seed[0] > 0, "no collectable accounts in the source snapshot"
    copies = math.ceil(accounts / seed[0])
    con.execute(f"CREATE TEMP TABLE copies AS SELECT range AS k FROM range({copies})")
    suffix = "'-' || lpad(CAST(c.k AS VARCHAR), 3, '0')"
    con.execute(
        f"COPY (SELECT * REPLACE (s.account_id || {suffix} AS account_id,"
        f" s.customer_id || {suffix} AS customer_id)"
        " FROM seed AS s, copies AS c"
        f" ORDER BY c.k, s.account_id LIMIT {accounts})"
        f" TO {_lit(target / 'accounts.parquet')} (FORMAT parquet, COMPRESSION zstd)"
    )
    con.execute(
        "CREATE TEMP TABLE kept AS SELECT account_id, customer_id FROM read_parquet("
        f"{_lit(target / 'accounts.parquet')})"
    )
    # Customers: every copy of a customer some kept account belongs to.
    con.execute(
        f"COPY (SELECT * REPLACE (p.customer_id || {suffix} AS customer_id)"
        f" FROM read_parquet({_lit(source / 'customers.parquet')}) AS p, copies AS c"
        f" WHERE p.customer_id || {suffix} IN (SELECT customer_id FROM kept))"
        f" TO {_lit(target / 'customers.parquet')} (FORMAT parquet, COMPRESSION zstd)"
    )
    for name, key in (("holds", "hold_id"), ("contacts", "contact_id")):
        path = source / f"{name}.parquet"
        if not path.exists():
            continue
        con.execute(
            f"COPY (SELECT * REPLACE (x.{key} || {suffix} AS {key},"
            f" x.account_id || {suffix} AS account_id)"
            f" FROM read_parquet({_lit(path)}) AS x, copies AS c"
            f" WHERE x.account_id || {suffix} IN (SELECT account_id FROM kept))"
            f" TO {_lit(target / f'{name}.parquet')} (FORMAT parquet, COMPRESSION zstd)"
        )
    counts = {
        name: int(
            (
                con.execute(
                    f"SELECT count(*) FROM read_parquet({_lit(target / f'{name}.parquet')})"
                ).fetchone()
                or (0,)
            )[0]
        )
        for name in ("accounts", "customers", "holds", "contacts")
        if (target / f"{name}.parquet").exists()
    }
    con.close()
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["derived"] = {
        "from": str(source),
        "what": "collections book: collectable accounts copied with id suffixes",
        "seed_accounts": int(seed[0]),
        "copies": copies,
        "rows": counts,
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.target.exists():
        shutil.rmtree(args.target)
    print(json.dumps(build(args.source, args.target, args.accounts), indent=2))


if __name__ == "__main__":
    main()
