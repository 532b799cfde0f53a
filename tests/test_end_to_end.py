"""What `make run` does, through the installed `huancui` command: generate, import, summarise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

HUANCUI = Path(sys.executable).parent / "huancui"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUANCUI), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_generate_import_summary(tmp_path: Path) -> None:
    env = {**os.environ, "HUANCUI_HOME": str(tmp_path / "home")}
    env.pop("HUANCUI_DATABASE_URL", None)
    delivery = tmp_path / "delivery"
    generated = run("generate", "--accounts", "2000", "--months", "13", "--seed", "3",
                    "--as-of", "2026-11-27", "--out", str(delivery), "--json", env=env)  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    assert json.loads(generated.stdout)["rows"]["accounts"] == 2000

    imported = run("import", str(delivery), "--as-of", "2026-11-27", "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["accounts"] == 2000

    summary = run("portfolio", "summary", "--as-of", "2026-11-27", "--json", env=env)
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    # the summary agrees with an independent count over the batch plane's Parquet snapshot
    parquet = tmp_path / "home" / "snapshots" / "2026-11-27" / "accounts.parquet"
    late, active = duckdb.connect().execute(
        f"SELECT count(*) FILTER (WHERE days_past_due > 0 AND NOT charged_off), "
        f"count(*) FILTER (WHERE NOT charged_off) FROM '{parquet}'"
    ).fetchone() or (0, 0)
    assert data["accounts"] == 2000
    assert data["delinquent_accounts"] == late
    assert data["accounts"] - data["charged_off_accounts"] == active
    assert 0 < late < active

    snapshot = tmp_path / "home" / "snapshots" / "2026-11-27"
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "accounts.parquet", "contacts.parquet", "customers.parquet", "delinquency_spells.parquet",
        "dues.parquet", "holds.parquet", "manifest.json", "payments.parquet",
    ]  # fmt: skip

    human = run("portfolio", "summary", "--as-of", "2026-11-27", env=env)
    assert "Delinquency rate 逾期率" in human.stdout
    # the batch plane holds no personal data
    customers = (
        duckdb.connect()
        .execute(
            f"DESCRIBE SELECT * FROM '{tmp_path / 'home' / 'snapshots' / '2026-11-27' / 'customers.parquet'}'"
        )
        .fetchall()
    )
    assert {"name", "national_id", "phone", "email"}.isdisjoint({c[0] for c in customers})
