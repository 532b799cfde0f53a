"""The batch plane's plan query: strategy actions (compiler) → compliance guard, as one SELECT.

`PlanQuery` holds everything that decides a plan (strategy, compliance pack, the snapshot folder,
the planned contact day) and renders the SQL once; the engines (strategy/engines.py) only register
the relations it names and run it:

    snap_accounts, snap_customers, snap_contacts  ← the snapshot's Parquet files
    snap_holds                                     ← the snapshot's holds file + the case plane's
    ref_days, ref_windows, ref_local_days          ← contact/guard.reference_tables
    snap_score_ew, snap_score_roll, …              ← the date's model score files, if any
                                                     (strategy/scores.py), joined onto the
                                                     accounts under their rule columns

A snapshot without a holds or contacts file gets an empty relation of the right columns. The
holds are small (one row per hold), so they are handed over as one Arrow table: the bank's own
holds from the snapshot and the holds placed in huancui (contact/holds.for_run: 缓催 pauses,
arrangements in good standing, holds placed by compliance officers).

The nightly plan uses no data frame, so this path avoids the pyarrow calls that import pandas
(pq.read_table, pa.array, schema.empty_table) or pyarrow.compute (casts): a quarter of a second
of a run that otherwise takes under one (docs/benchmarks.md, nightly plan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from huancui.contact.guard import (
    GUARD_HOLDS_SCHEMA,
    ReferenceTables,
    guard_sql,
    reference_tables,
)
from huancui.contact.policy import CompliancePack
from huancui.kit import duck
from huancui.kit.sql import lit
from huancui.portfolio.snapshot_store import MANIFEST_TIMEZONES
from huancui.strategy.compiler import compile_actions_ctes
from huancui.strategy.scores import ScoreFile, score_files, scored_accounts_sql
from huancui.strategy.spec import Strategy

SNAPSHOT_RELATIONS: dict[str, str] = {
    "snap_accounts": "accounts",
    "snap_customers": "customers",
    "snap_contacts": "contacts",
}

# The contact history's columns (the simulator writes its contact files in these).
CONTACTS_SCHEMA = pa.schema(
    [
        ("contact_id", pa.string()),
        ("account_id", pa.string()),
        ("contacted_at", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
        ("connected", pa.bool_()),
        ("right_party", pa.bool_()),
        ("outcome", pa.string()),
        ("agent_id", pa.string()),
    ]
)
# The column an imported snapshot's contacts and holds files add: the account's customer.
OWNER = "customer_id"

# Columns of the optional files, for the empty stand-ins.
_EMPTY: dict[str, pa.Schema] = {
    "holds": GUARD_HOLDS_SCHEMA,
    "contacts": CONTACTS_SCHEMA.append(pa.field(OWNER, pa.string())),
}


def planned_date_for(as_of: date) -> date:
    """Actions decided on the night of `as_of` are for the next day."""
    return as_of + timedelta(days=1)


@dataclass(frozen=True)
class PlanQuery:
    strategy: Strategy
    pack: CompliancePack
    snapshot: Path
    as_of: date
    refs: ReferenceTables
    sql: str
    holds: pa.Table  # every hold the guard applies, in GUARD_HOLDS_SCHEMA
    scores: tuple[ScoreFile, ...] = ()  # the model score files joined onto the accounts
    owners_in_rows: bool = False  # the holds and contacts name their customers (guard_sql)

    def file(self, name: str) -> Path | None:
        path = self.snapshot / f"{name}.parquet"
        return path if path.exists() else None

    def empty(self, name: str) -> pa.Table:
        return empty_table(_EMPTY[name])


def empty_table(schema: pa.Schema) -> pa.Table:
    """No rows of `schema`; unlike schema.empty_table(), without importing pandas."""
    return pa.Table.from_batches([], schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` (columns in the order of `schema`) in `schema`.

    Where only the nullability differs (a file's NOT NULL columns), the columns are relabelled:
    a cast would import pyarrow.compute, which the nightly run does not otherwise need.
    """
    if table.schema.types == schema.types:
        return pa.Table.from_arrays(table.columns, schema=schema)
    return table.cast(schema)


def all_holds(snapshot: Path, case_holds: pa.Table | None) -> tuple[pa.Table, bool]:
    """The snapshot's holds file (if any) and the case plane's holds, as one table, and whether
    every source named the customer of each hold's account (column OWNER); where one did not,
    the column is NULL and the guard looks the owners up in the accounts."""
    schema = GUARD_HOLDS_SCHEMA
    parts, owned = [], True
    path = snapshot / "holds.parquet"
    if path.exists():
        # ParquetFile, not pq.read_table: the latter imports pyarrow.dataset and with it pandas
        # (a quarter of a second) into a nightly run that uses no data frame.
        holds_file = pq.ParquetFile(path)
        present = set(holds_file.schema_arrow.names)
        parts.append(holds_file.read(columns=[n for n in schema.names if n in present]))
    if case_holds is not None:
        parts.append(case_holds.select([n for n in schema.names if n in case_holds.schema.names]))
    tables = []
    for table in parts:
        if OWNER not in table.schema.names:
            owned = False
            table = table.append_column(OWNER, pa.nulls(table.num_rows, pa.string()))
        tables.append(conform(table, schema))
    return (pa.concat_tables(tables) if tables else empty_table(schema)), owned


def snapshot_timezones(snapshot: Path) -> list[str | None]:
    """The distinct time zones of the snapshot's customers (None for a missing one).

    The import records them in the manifest (`customer_timezones`); for a snapshot without
    them, DuckDB reads the one column (pq.read_table would import pandas, see all_holds).
    """
    manifest = snapshot / "manifest.json"
    if manifest.exists():
        zones = json.loads(manifest.read_text(encoding="utf-8")).get(MANIFEST_TIMEZONES)
        if isinstance(zones, list):
            return [z if isinstance(z, str) else None for z in zones]
    path = lit(str(snapshot / "customers.parquet"))
    with duck.connection() as con:
        rows = con.execute(f"SELECT DISTINCT timezone FROM read_parquet({path})").fetchall()
    return [row[0] for row in rows]


def build_query(
    *,
    strategy: Strategy,
    pack: CompliancePack,
    snapshot: Path,
    as_of: date,
    case_holds: pa.Table | None = None,
    scores: Path | None = None,
) -> PlanQuery:
    """Read what the SQL depends on (columns, time zones, holds, score files) and render it.

    `scores` is the date's score folder (strategy/scores.scores_dir); None or a missing folder
    leaves every score column NULL.
    """
    accounts_file = snapshot / "accounts.parquet"
    available = set(pq.read_schema(accounts_file).names)
    files = score_files(scores, present=available)
    refs = reference_tables(
        strategy=strategy,
        pack=pack,
        planned_date=planned_date_for(as_of),
        timezones=snapshot_timezones(snapshot),
    )
    ctes = compile_actions_ctes(
        strategy,
        accounts_relation=scored_accounts_sql("snap_accounts", files),
        available_columns=available | {f.column for f in files},
    )
    holds, holds_owned = all_holds(snapshot, case_holds)
    contacts_file = snapshot / "contacts.parquet"
    owners_in_rows = holds_owned and (
        not contacts_file.exists() or OWNER in pq.read_schema(contacts_file).names
    )
    sql = guard_sql(strategy_ctes=ctes, pack=pack, refs=refs, owners_in_rows=owners_in_rows)
    return PlanQuery(strategy, pack, snapshot, as_of, refs, sql, holds, files, owners_in_rows)
