"""The batch plane's copy of a snapshot: Parquet files per as-of date, replaced atomically.

Personal data (names, ID numbers, phones, e-mail, birth dates) stays in the case plane; the batch
plane gets only what strategies and models need.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from huancui.portfolio.contract import CUSTOMERS
from huancui.portfolio.validation import lit

# What goes into each Parquet file, as SELECTs over the import's DuckDB tables.
_CUSTOMER_COLUMNS = ", ".join(
    c.name for c in CUSTOMERS.columns if not c.pii and c.name != "customer_id"
)
SNAPSHOT_QUERIES: dict[str, str] = {
    "accounts": "SELECT * FROM snapshot_accounts",
    "customers": f"SELECT customer_id, {_CUSTOMER_COLUMNS} FROM valid_customers",
    "dues": "SELECT * EXCLUDE (_row) FROM valid_dues",
    "payments": "SELECT * EXCLUDE (_row) FROM valid_payments",
    "contacts": "SELECT * EXCLUDE (_row) FROM valid_contacts",
    "holds": "SELECT * EXCLUDE (_row) FROM valid_holds",
    # A score is 1–5: int32 is the agreed Parquet type (typed tables hold integers as BIGINT).
    "feedback": "SELECT * EXCLUDE (_row) REPLACE (CAST(score AS INTEGER) AS score) "
    "FROM valid_feedback",
    "delinquency_spells": "SELECT * FROM delinquency_spells",
}


def snapshot_dir(root: Path, as_of: date) -> Path:
    return root / as_of.isoformat()


def write_snapshot(
    con: duckdb.DuckDBPyConnection, *, root: Path, as_of: date, manifest: dict[str, Any]
) -> Path:
    """Write the Parquet files into a fresh temporary folder next to the final one."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{as_of.isoformat()}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    # Tables and views alike (a file that passed validation in full is a view of its typed table).
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    for name, query in SNAPSHOT_QUERIES.items():
        source = query.rsplit(" FROM ", 1)[1]
        if source not in tables:
            continue
        target = tmp / f"{name}.parquet"
        con.execute(f"COPY ({query}) TO {lit(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return tmp


@contextmanager
def swap_in(prepared: Path, *, root: Path, as_of: date) -> Iterator[Path]:
    """Put `prepared` in place of the as-of folder; undo if the block raises."""
    final = snapshot_dir(root, as_of)
    backup = root / f".{as_of.isoformat()}.{uuid.uuid4().hex}.old"
    had_old = final.exists()
    if had_old:
        final.rename(backup)
    prepared.rename(final)
    try:
        yield final
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        if had_old:
            backup.rename(final)
        raise
    if had_old:
        shutil.rmtree(backup, ignore_errors=True)


def discard(prepared: Path) -> None:
    shutil.rmtree(prepared, ignore_errors=True)
