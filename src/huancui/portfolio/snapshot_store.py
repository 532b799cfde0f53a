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

from huancui.kit.sql import lit
from huancui.portfolio.contract import CUSTOMERS

# What goes into each Parquet file: the import's DuckDB table it comes from, and the SELECT.
_CUSTOMER_COLUMNS = ", ".join(
    c.name for c in CUSTOMERS.columns if not c.pii and c.name != "customer_id"
)


def _with_owner(table: str, order: str) -> str:
    """A delivered file's rows with the customer who owns each row's account (NULL for an account
    the delivery does not have): the nightly guard needs the person behind every hold and recent
    contact, and reading it here saves the plan a scan of every account (docs/benchmarks.md)."""
    return (
        f"SELECT r.* EXCLUDE (_row), a.customer_id FROM {table} AS r"
        f" LEFT JOIN snapshot_accounts AS a ON a.account_id = r.account_id ORDER BY {order}"
    )


SNAPSHOT_FILES: dict[str, tuple[str, str]] = {
    # Accounts in arrears first: the nightly plan reads only those, and Parquet's row-group
    # statistics on days_past_due then let it skip the groups of current accounts.
    "accounts": (
        "snapshot_accounts",
        "SELECT * FROM snapshot_accounts ORDER BY days_past_due > 0 DESC, account_id",
    ),
    "customers": (
        "valid_customers",
        f"SELECT customer_id, {_CUSTOMER_COLUMNS} FROM valid_customers",
    ),
    "dues": ("valid_dues", "SELECT * EXCLUDE (_row) FROM valid_dues"),
    "payments": ("valid_payments", "SELECT * EXCLUDE (_row) FROM valid_payments"),
    # In time order, so that a look-back reads only the last row groups.
    "contacts": ("valid_contacts", _with_owner("valid_contacts", "r.contacted_at, r._row")),
    "holds": ("valid_holds", _with_owner("valid_holds", "r._row")),
    # A score is 1–5: int32 is the agreed Parquet type (typed tables hold integers as BIGINT).
    "feedback": (
        "valid_feedback",
        "SELECT * EXCLUDE (_row) REPLACE (CAST(score AS INTEGER) AS score) FROM valid_feedback",
    ),
    "delinquency_spells": ("delinquency_spells", "SELECT * FROM delinquency_spells"),
}


# The manifest's list of the customers' distinct time zones (null: a customer without one).
MANIFEST_TIMEZONES = "customer_timezones"


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
    for name, (source, query) in SNAPSHOT_FILES.items():
        if source not in tables:
            continue
        target = tmp / f"{name}.parquet"
        con.execute(f"COPY ({query}) TO {lit(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    if "valid_customers" in tables:
        # The nightly plan builds its lawful windows per zone; reading them here saves it a scan.
        zones = con.execute(
            "SELECT DISTINCT timezone FROM valid_customers ORDER BY timezone NULLS FIRST"
        ).fetchall()
        manifest = {**manifest, MANIFEST_TIMEZONES: [z[0] for z in zones]}
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
