"""The documented rule columns are the batch plane's real snapshot columns, and rules run on them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from huancui.kit.settings import Settings
from huancui.strategy.columns import SCORE_COLUMNS, SNAPSHOT_COLUMNS, Kind
from huancui.strategy.loader import parse_strategy
from tests.conftest import Cli
from tests.strategy.conftest import default_text

AS_OF = "2026-11-27"
_KINDS = {"BOOLEAN": Kind.BOOLEAN, "DATE": Kind.DATE, "VARCHAR": Kind.TEXT}


@pytest.fixture
def snapshot(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> duckdb.DuckDBPyConnection:
    """The small example delivery imported; its accounts as DuckDB sees them, scores still NULL."""
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    parquet = sqlite_settings.snapshots_dir / AS_OF / "accounts.parquet"
    con = duckdb.connect()
    scores = ", ".join(f"CAST(NULL AS DOUBLE) AS {c.name}" for c in SCORE_COLUMNS)
    con.execute(f"CREATE VIEW accounts AS SELECT *, {scores} FROM read_parquet('{parquet}')")
    return con


def test_every_documented_column_exists_with_its_kind(snapshot: duckdb.DuckDBPyConnection) -> None:
    types = dict(
        snapshot.execute("SELECT column_name, column_type FROM (DESCRIBE accounts)").fetchall()
    )
    for column in SNAPSHOT_COLUMNS:
        assert column.name in types, f"{column.name} is documented but not in the snapshot"
        kind = _KINDS.get(types[column.name], Kind.NUMBER)
        assert kind is column.kind, f"{column.name}: {types[column.name]} is not a {column.kind}"


def test_the_default_strategy_segments_the_snapshot(snapshot: duckdb.DuckDBPyConnection) -> None:
    strategy = parse_strategy(default_text(), source="default.yaml").strategy
    assert strategy is not None
    whens = " ".join(f"WHEN {s.condition_sql} THEN '{s.id}'" for s in strategy.segments)
    rows = snapshot.execute(
        f"SELECT account_id, CASE {whens} END, {strategy.priority_sql} FROM accounts"
        " WHERE days_past_due > 0 ORDER BY account_id"
    ).fetchall()
    assert len(rows) == 2
    assert all(segment is not None and priority > 0 for _, segment, priority in rows)
