"""The generator's delivery through the real import: valid, and its delinquency equals the truth."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from huancui.portfolio.synthetic import generate_portfolio
from tests.conftest import Cli

AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "delivery"
    generate_portfolio(accounts=3_000, months=13, seed=11, as_of=AS_OF, out=out)
    return out


def test_generated_delivery_imports_cleanly(sqlite_cli: Cli, generated: Path) -> None:
    result = sqlite_cli("import", str(generated), "--as-of", AS_OF.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accounts"] == 3_000
    assert report["rejected_rows"] == 0
    assert report["warnings"] == []


def test_days_past_due_and_arrears_equal_the_worlds_truth(
    sqlite_cli: Cli, generated: Path, tmp_path: Path, home: Path
) -> None:
    # The world has no grace period or tolerance, so compare under a strict policy.
    policy = tmp_path / "strict.yaml"
    policy.write_text("grace_days: 0\ntolerance_yuan: '0'\n", encoding="utf-8")
    result = sqlite_cli(
        "import", str(generated), "--as-of", AS_OF.isoformat(), "--policy", str(policy)
    )
    assert result.exit_code == 0, result.output
    computed = home / "snapshots" / AS_OF.isoformat() / "accounts.parquet"
    truth = generated / "truth" / "accounts.parquet"
    differ = (
        duckdb.connect()
        .execute(
            f"""
        SELECT count(*) FILTER (WHERE e.days_past_due <> t.days_past_due_at_as_of),
               count(*) FILTER (WHERE e.arrears_fen <> t.unpaid_due_fen),
               count(*) FILTER (WHERE t.days_past_due_at_as_of > 30), count(*)
        FROM '{computed}' e JOIN '{truth}' t USING (account_id)
        """
        )
        .fetchone()
    )
    assert differ is not None
    dpd_differ, arrears_differ, late, total = differ
    assert total == 3_000
    assert late > 20  # the comparison covers a real number of delinquent accounts
    assert dpd_differ == 0
    assert arrears_differ == 0
