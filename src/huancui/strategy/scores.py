"""Model scores as strategy columns: the date's score files joined onto the snapshot's accounts.

`huancui model score --target T --as-of D` writes `HUANCUI_HOME/scores/D/T.parquet` (account_id,
`score_T`, `scorecard_T`, reasons, model_version; analytics/service.py). The plan for D reads
every such file of a known target and offers its LightGBM probability under the rule column's
name (SCORE_TARGETS: `score_early_warning` becomes `score_ew`). An account the model did not
score (outside the target's population) gets NULL, as does every score column without a file;
a rule says what NULL means, e.g. `coalesce(score_ew, 0) >= 0.4`.

A snapshot whose accounts file already carries a score column (a bank delivering its own score)
keeps it: the file wins and no model file is joined for that column.

Each file used is named in the run's record with its model version and SHA-256
(`model_versions`), so a run can be traced to the exact scores it planned with, and scoring
again gives a different run key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from huancui.kit.digest import sha256_of
from huancui.kit.errors import InvalidInput
from huancui.kit.sql import lit
from huancui.portfolio.snapshot_store import snapshot_dir

# Rule column → the model target whose score file fills it.
SCORE_TARGETS: dict[str, str] = {
    "score_pay_30d": "pay_30d",
    "score_roll": "roll",
    "score_ew": "early_warning",
    "score_ability": "ability",
    "score_willingness": "willingness",
}


@dataclass(frozen=True)
class ScoreFile:
    """One target's scores for the date, as the plan joins them."""

    column: str  # the rule column, e.g. score_ew
    target: str  # the model target, e.g. early_warning
    path: Path
    model_version: int
    sha256: str
    accounts: int

    @property
    def relation(self) -> str:
        """The name the plan SQL reads the file under."""
        return f"snap_{self.column}"

    @property
    def file_column(self) -> str:
        return f"score_{self.target}"


def scores_dir(home: Path, as_of: date) -> Path:
    """Where `huancui model score` writes the scores of `as_of`."""
    return snapshot_dir(home / "scores", as_of)


def score_files(folder: Path | None, *, present: Collection[str] = ()) -> tuple[ScoreFile, ...]:
    """The usable score files in `folder` (none if it does not exist), checked.

    `present` are the accounts file's own columns: a score column it already has is not joined.
    A file with missing columns, repeated accounts or mixed model versions is refused with its
    name, since joining it would drop or duplicate plan rows.
    """
    if folder is None or not folder.is_dir():
        return ()
    own = {name.lower() for name in present}
    found = []
    for column, target in SCORE_TARGETS.items():
        path = folder / f"{target}.parquet"
        if column in own or not path.exists():
            continue
        found.append(_checked(path, column=column, target=target))
    return tuple(found)


def _checked(path: Path, *, column: str, target: str) -> ScoreFile:
    wanted = ("account_id", f"score_{target}", "model_version")
    source = f"read_parquet({lit(str(path))})"
    with duckdb.connect() as con:
        try:
            names = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        except duckdb.Error as exc:
            raise InvalidInput(f"score file {path}: unreadable ({exc})") from None
        missing = [name for name in wanted if name not in names]
        if missing:
            raise InvalidInput(
                f"score file {path}: missing column(s) {', '.join(missing)}; re-run"
                f" `huancui model score --target {target}`"
            )
        row = con.execute(
            "SELECT count(*), count(DISTINCT account_id), min(model_version),"
            f" max(model_version) FROM {source}"
        ).fetchone()
    assert row is not None
    rows, distinct, low, high = int(row[0]), int(row[1]), row[2], row[3]
    if rows != distinct:
        raise InvalidInput(f"score file {path}: {rows - distinct} account(s) appear more than once")
    if low != high:
        raise InvalidInput(f"score file {path}: rows from model versions {low} and {high}")
    return ScoreFile(
        column=column,
        target=target,
        path=path,
        model_version=int(low) if low is not None else 0,
        sha256=sha256_of(path),
        accounts=rows,
    )


def scored_accounts_sql(accounts: str, files: tuple[ScoreFile, ...], *, paths: bool = False) -> str:
    """`accounts` (a relation) with each file's score as its rule column, one row per account.

    The score relations are read under `ScoreFile.relation`, or straight from their files with
    `paths` (explain, which evaluates one account outside an engine).
    """
    if not files:
        return accounts
    selects = []
    joins = []
    for n, f in enumerate(files):
        source = f"read_parquet({lit(str(f.path))})" if paths else f.relation
        selects.append(f"s{n}.{f.file_column} AS {f.column}")
        joins.append(f"LEFT JOIN {source} AS s{n} ON s{n}.account_id = a.account_id")
    return f"(SELECT a.*, {', '.join(selects)} FROM {accounts} AS a {' '.join(joins)}) AS scored"


def model_versions(files: tuple[ScoreFile, ...], home: Path) -> dict[str, Any]:
    """What the run records: per target, the model version and the exact file it planned with."""
    recorded: dict[str, Any] = {}
    for f in files:
        try:
            shown = str(f.path.relative_to(home))
        except ValueError:
            shown = str(f.path)
        recorded[f.target] = {
            "column": f.column,
            "version": f.model_version,
            "file": shown,
            "sha256": f.sha256,
            "accounts": f.accounts,
        }
    return recorded


def recorded_files(recorded: dict[str, Any], home: Path) -> tuple[ScoreFile, ...]:
    """The score files a run recorded (`model_versions`), as they were when it planned."""
    files = []
    for target, entry in sorted(recorded.items()):
        if not isinstance(entry, dict) or "file" not in entry:
            continue
        path = Path(entry["file"])
        files.append(
            ScoreFile(
                column=str(entry["column"]),
                target=target,
                path=path if path.is_absolute() else home / path,
                model_version=int(entry["version"]),
                sha256=str(entry["sha256"]),
                accounts=int(entry.get("accounts", 0)),
            )
        )
    return tuple(files)


def read_scores(folder: Path | None, *, present: Collection[str] = ()) -> list[pa.Table]:
    """The folder's scores, one table per file: account_id and its rule column (see score_files
    for `present`)."""
    tables = []
    for score in score_files(folder, present=present):
        table = pq.read_table(score.path, columns=["account_id", score.file_column])
        tables.append(table.rename_columns(["account_id", score.column]))
    return tables


def join_scores(accounts: pa.Table, scores: list[pa.Table]) -> pa.Table:
    """`accounts` with each read_scores table's column (NULL where unscored), for code that reads
    the accounts outside the plan's SQL (huancui optimise, the simulator)."""
    for table in scores:
        accounts = accounts.join(table, keys="account_id", join_type="left outer")
    return accounts
