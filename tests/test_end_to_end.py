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
        "dues.parquet", "feedback.parquet", "holds.parquet", "manifest.json", "payments.parquet",
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


def test_nightly_job_then_send_and_rerun(tmp_path: Path) -> None:
    """`make run`'s nightly part on a generated portfolio: activate, run, send in the window,
    run again, send again — the second round sends nothing."""
    from tests.conftest import ROOT

    env = {**os.environ, "HUANCUI_HOME": str(tmp_path / "home")}
    env.pop("HUANCUI_DATABASE_URL", None)
    delivery = tmp_path / "delivery"
    assert run("generate", "--accounts", "3000", "--months", "13", "--seed", "5",
               "--as-of", "2026-11-27", "--out", str(delivery), env=env).returncode == 0  # fmt: skip
    assert run("import", str(delivery), "--as-of", "2026-11-27", env=env).returncode == 0
    activated = run("strategy", "activate", str(ROOT / "strategies" / "default.yaml"), env=env)
    assert activated.returncode == 0, activated.stderr

    first = run("run", "--as-of", "2026-11-27", "--json", env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    segments = {c["segment"] for c in report["planned_by_cell"]}
    assert segments == {"prime", "standard", "high_risk"}
    assert report["messages_added"] > 0 and report["work_items_added"] > 0

    # 07:00 Beijing time is before every window: nothing goes; at 10:00 the day's messages go.
    early = json.loads(run("outbox", "send", "--now", "2026-11-28T07:00:00+08:00", "--json",
                           env=env).stdout)  # fmt: skip
    assert early["sent"] == 0
    sent = json.loads(run("outbox", "send", "--now", "2026-11-28T10:00:00+08:00", "--json",
                          env=env).stdout)  # fmt: skip
    assert sent["sent"] > 0
    lines = (tmp_path / "home" / "outbox" / "messages.jsonl").read_text(encoding="utf-8")

    again = json.loads(run("run", "--as-of", "2026-11-27", "--json", env=env).stdout)
    assert again["plan_sha256"] == report["plan_sha256"]
    assert (again["messages_added"], again["work_items_added"]) == (0, 0)
    resent = json.loads(run("outbox", "send", "--now", "2026-11-28T10:05:00+08:00", "--json",
                            env=env).stdout)  # fmt: skip
    assert resent["sent"] == 0
    assert (tmp_path / "home" / "outbox" / "messages.jsonl").read_text(encoding="utf-8") == lines

    human = run("run", "--as-of", "2026-11-27", env=env)
    assert "Planned actions" in human.stdout and "Suppressed by rule" in human.stdout
    assert "same plan as before" in human.stdout
