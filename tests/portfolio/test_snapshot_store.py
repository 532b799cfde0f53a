"""Imports on SQLite and PostgreSQL: snapshots replace, history and summary are stored, audited."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text

from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.portfolio.importer import DeliveryRejected, import_delivery
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.strategy.pipeline import snapshot_timezones
from tests.conftest import Cli

AS_OF = "2026-11-27"


def scalar(settings: Settings, sql: str) -> object:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_import_then_summary(cli: Cli, settings: Settings, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    result = cli("portfolio", "summary", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accounts"] == 3
    assert summary["delinquent_accounts"] == 2
    assert summary["delinquency_rate"] == "0.6667"
    buckets = {b["bucket"]: b for b in summary["buckets"]}
    assert set(buckets) == {"M0", "M3", "M6"}
    assert buckets["M3"]["arrears"] == "3300.48"
    assert summary["balance"] == "42395.00"  # 12000 + (9000 + 135 + 60) + (18500 + 2300 + 400)
    assert summary["products"]["instalment_loan"]["delinquency_rate"] == "1.0000"


def test_reimport_replaces_the_snapshot(cli: Cli, settings: Settings, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    # the bank re-delivers the day with a late payment that settles A0001's November due
    with (delivery / "payments.csv").open("a", encoding="utf-8") as fh:
        fh.write("P0003,A0001,2026-11-27,1180.00,app\n")
    second = cli("import", str(delivery), "--as-of", AS_OF, "--note", "corrected delivery")
    assert second.exit_code == 0, second.output
    assert "Replaced snapshot 2026-11-27" in second.stdout
    assert scalar(settings, "SELECT count(*) FROM snapshots") == 1
    assert scalar(settings, "SELECT count(*) FROM account_snapshots") == 3
    assert scalar(settings, "SELECT count(*) FROM customers") == 3
    assert (
        scalar(settings, "SELECT arrears_fen FROM account_snapshots WHERE account_id = 'A0001'")
        == 0
    )
    assert scalar(settings, "SELECT count(*) FROM audit_events") == 2
    assert (
        scalar(
            settings, "SELECT reason FROM audit_events WHERE action = 'portfolio.snapshot_replaced'"
        )
        == "corrected delivery"
    )
    parquet = pq.read_table(settings.snapshots_dir / AS_OF / "accounts.parquet")
    assert parquet.num_rows == 3
    leftovers = [p.name for p in settings.snapshots_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_two_dates_are_two_snapshots(cli: Cli, settings: Settings, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", "2026-11-27").exit_code == 0
    assert cli("import", str(delivery), "--as-of", "2026-11-30").exit_code == 0
    assert scalar(settings, "SELECT count(*) FROM snapshots") == 2
    assert scalar(settings, "SELECT count(*) FROM account_snapshots") == 6
    # master data remembers when it was first and last seen
    assert str(scalar(settings, "SELECT first_seen_on FROM customers WHERE customer_id='C0001'")
               ) == "2026-11-27"  # fmt: skip
    assert str(scalar(settings, "SELECT last_seen_on FROM customers WHERE customer_id='C0001'")
               ) == "2026-11-30"  # fmt: skip


def test_failed_database_write_leaves_previous_snapshot(settings: Settings, delivery: Path) -> None:
    policy = DelinquencyPolicy()
    first = import_delivery(directory=delivery, as_of=date(2026, 11, 27), settings=settings,
                            policy=policy, actor="tester")  # fmt: skip
    assert first.accounts == 3
    before = (settings.snapshots_dir / AS_OF / "manifest.json").read_text(encoding="utf-8")
    # Sabotage the database so the second import's transaction fails half-way.
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE blocker (x INTEGER)"))
        conn.execute(text("DROP TABLE delinquency_spells"))
    engine.dispose()
    with pytest.raises(Exception, match="delinquency_spells"):
        import_delivery(directory=delivery, as_of=date(2026, 11, 27), settings=settings,
                        policy=policy, actor="tester")  # fmt: skip
    after = (settings.snapshots_dir / AS_OF / "manifest.json").read_text(encoding="utf-8")
    assert after == before
    assert scalar(settings, "SELECT count(*) FROM account_snapshots") == 3
    assert scalar(settings, "SELECT count(*) FROM audit_events") == 1


def test_rejected_delivery_keeps_the_previous_snapshot(settings: Settings, delivery: Path) -> None:
    policy = DelinquencyPolicy()
    import_delivery(directory=delivery, as_of=date(2026, 11, 27), settings=settings, policy=policy)
    (delivery / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    with pytest.raises(DeliveryRejected):
        import_delivery(directory=delivery, as_of=date(2026, 11, 27), settings=settings,
                        policy=policy)  # fmt: skip
    assert scalar(settings, "SELECT count(*) FROM account_snapshots") == 3


def test_account_history_from_the_cli(cli: Cli, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    result = cli("portfolio", "account", "A0002", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    account = json.loads(result.stdout)
    assert account["days_past_due"] == 83
    assert account["bucket"] == "M3"
    assert [h["event"] for h in account["history"]] == [
        "entered", "rolled_forward", "cured", "entered", "rolled_forward", "rolled_forward",
    ]  # fmt: skip


def test_audit_verify_detects_tampering(cli: Cli, settings: Settings, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    assert cli("import", str(delivery), "--as-of", "2026-11-28").exit_code == 0
    assert cli("audit", "verify").exit_code == 0
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE event_id = 1"))
    engine.dispose()
    result = cli("audit", "verify", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["first_bad_event"] == 1


def test_summary_for_missing_date_says_what_exists(cli: Cli, delivery: Path) -> None:
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    result = cli("portfolio", "summary", "--as-of", "2026-01-01")
    assert result.exit_code == 3
    assert "no snapshot for 2026-01-01; the latest is 2026-11-27" in result.stderr


def test_unit_of_work_rolls_back_on_error(settings: Settings) -> None:
    from huancui.access.audit import record
    from huancui.kit.database import migrate

    migrate(settings.resolved_database_url)
    with pytest.raises(RuntimeError), unit_of_work(settings.resolved_database_url) as session:
        record(session, actor="t", action="x", entity_type="y", entity_id="1")
        raise RuntimeError("boom")
    assert scalar(settings, "SELECT count(*) FROM audit_events") == 0


def test_snapshot_files_are_laid_out_for_the_nightly_plan(
    cli: Cli, settings: Settings, delivery: Path
) -> None:
    """Accounts in arrears come first (the plan's row-group skipping relies on it); the holds and
    contacts name the customer of their account (the guard needs no scan of the accounts);
    contacts are in time order."""
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    folder = settings.snapshots_dir / AS_OF
    accounts = pq.read_table(folder / "accounts.parquet").to_pylist()
    arrears = [a["days_past_due"] > 0 for a in accounts]
    assert arrears == sorted(arrears, reverse=True) and any(arrears) and not all(arrears)
    owner = {a["account_id"]: a["customer_id"] for a in accounts}
    for name in ("holds", "contacts"):
        rows = pq.read_table(folder / f"{name}.parquet").to_pylist()
        assert rows, name
        assert all(r["customer_id"] == owner[r["account_id"]] for r in rows), name
    contacts = pq.read_table(folder / "contacts.parquet").column("contacted_at").to_pylist()
    assert contacts == sorted(contacts)
    holds = pq.read_table(folder / "holds.parquet").column("hold_id").to_pylist()
    assert holds == ["H0001", "H0002"]  # the delivery's order


def test_the_manifest_lists_the_customers_time_zones(
    cli: Cli, settings: Settings, delivery: Path
) -> None:
    """The nightly plan takes the zones for its lawful windows from the manifest, not a scan."""
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    folder = settings.snapshots_dir / AS_OF
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    zones = {r["timezone"] for r in pq.read_table(folder / "customers.parquet").to_pylist()}
    assert set(manifest["customer_timezones"]) == zones
    assert len(zones) > 1  # the example has a customer in Xinjiang
    assert set(snapshot_timezones(folder)) == zones
    (folder / "manifest.json").write_text("{}", encoding="utf-8")  # an older snapshot's
    assert set(snapshot_timezones(folder)) == zones
