"""Bad deliveries: each gives FILE:ROW:COLUMN messages, exit code 2, and stores nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, inspect, text

from huancui.access.pii import read_customer
from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from tests.conftest import Cli

AS_OF = "2026-11-27"


def rewrite(path: Path, transform: callable) -> None:  # type: ignore[valid-type]
    """Apply `transform` to the rows (header included) of a CSV file."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = transform(rows)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cell(path: Path, *, row: int, column: str, value: str) -> None:
    """Set a cell addressed as a spreadsheet would: row 2 is the first record."""

    def change(rows: list[list[str]]) -> list[list[str]]:
        rows[row - 1][rows[0].index(column)] = value
        return rows

    rewrite(path, change)


def nothing_stored(settings: Settings) -> bool:
    """No snapshot in the database and no Parquet snapshot folder."""
    snapshots = settings.snapshots_dir
    if snapshots.exists() and any(p for p in snapshots.iterdir() if not p.name.startswith(".")):
        return False
    engine = create_engine(settings.resolved_database_url)
    try:
        if "snapshots" not in inspect(engine).get_table_names():
            return True
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM snapshots")).scalar_one() == 0
    finally:
        engine.dispose()


def refused(cli: Cli, settings: Settings, delivery: Path) -> str:
    result = cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 2, result.output
    assert "nothing stored" in result.stderr
    assert nothing_stored(settings)
    return result.stderr


def test_valid_example_imports(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "Imported snapshot 2026-11-27: 3 accounts" in result.stdout
    assert not nothing_stored(sqlite_settings)


def test_missing_file_is_named(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    (delivery / "payments.csv").unlink()
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "payments.csv: file is missing: expected payments.csv or payments.parquet" in message


def test_optional_files_may_be_absent(sqlite_cli: Cli, delivery: Path) -> None:
    (delivery / "contacts.csv").unlink()
    (delivery / "holds.csv").unlink()
    assert sqlite_cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0


def test_missing_required_column(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    rewrite(delivery / "accounts.csv", lambda rows: [r[:10] + r[11:] for r in rows])
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "accounts.csv:1:outstanding_principal: required column is missing" in message


def test_unknown_column_is_a_warning(sqlite_cli: Cli, delivery: Path) -> None:
    rewrite(delivery / "payments.csv", lambda rows: [[*r, "x"] for r in rows])
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "payments.csv:1:x: warning: unknown column ignored" in result.stderr


def test_wrong_type(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    set_cell(delivery / "dues.csv", row=3, column="due_date", value="25/10/2026")
    set_cell(delivery / "accounts.csv", row=4, column="term_months", value="twelve")
    set_cell(delivery / "payments.csv", row=2, column="amount", value="1,180.00")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "dues.csv:3:due_date: '25/10/2026' is not a date: expected YYYY-MM-DD" in message
    assert "accounts.csv:4:term_months: 'twelve' is not a whole number" in message
    assert "payments.csv:2:amount: '1,180.00' is not an amount" in message


def test_negative_and_absurd_amounts(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    set_cell(delivery / "accounts.csv", row=2, column="outstanding_principal", value="-30.00")
    set_cell(delivery / "accounts.csv", row=3, column="loan_amount", value="1200000000.00")
    set_cell(delivery / "dues.csv", row=2, column="interest_due", value="180.005")
    set_cell(delivery / "payments.csv", row=3, column="amount", value="0.00")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "accounts.csv:2:outstanding_principal: -30.00 is negative" in message
    assert "accounts.csv:3:loan_amount: 1200000000.00 yuan is absurd" in message
    assert "dues.csv:2:interest_due: '180.005' has more than two decimals" in message
    assert "payments.csv:3:amount: 0.00 must be above zero" in message


def test_dates_after_as_of(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    set_cell(delivery / "payments.csv", row=3, column="paid_date", value="2026-11-28")
    set_cell(
        delivery / "contacts.csv", row=2, column="contacted_at", value="2026-11-28T09:00:00+08:00"
    )
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "payments.csv:3:paid_date: 2026-11-28 is after the as-of date 2026-11-27" in message
    assert "contacts.csv:2:contacted_at: 2026-11-28T01:00:00Z is after the as-of date" in message


def test_future_dues_are_allowed(sqlite_cli: Cli, delivery: Path) -> None:
    # dues.csv already holds instalment 11 due on 2026-12-05, after the as-of date
    assert sqlite_cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0


def test_duplicate_keys(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    rewrite(delivery / "payments.csv", lambda rows: [*rows, rows[1]])
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "payments.csv:2:payment_id: duplicate key payment_id=P0001: also on row(s) 11" in message
    assert "payments.csv:11:payment_id: duplicate key payment_id=P0001: also on row(s) 2" in message


def test_payment_for_unknown_account(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    set_cell(delivery / "payments.csv", row=4, column="account_id", value="A9999")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "payments.csv:4:account_id: 'A9999' does not exist in accounts.csv" in message


def test_reference_to_refused_row_says_so(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    set_cell(delivery / "accounts.csv", row=2, column="annual_rate", value="18")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert (
        "accounts.csv:2:annual_rate: 18 is above 1 (rates are fractions: 0.18 for 18 %)" in message
    )
    assert "payments.csv:2:account_id: 'A0001' is a rejected row of accounts.csv" in message


def test_empty_file(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    (delivery / "dues.csv").write_bytes(b"")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "dues.csv: file is empty: expected a header row" in message


def test_header_only(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    rewrite(delivery / "accounts.csv", lambda rows: rows[:1])
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "accounts.csv: has a header but no data rows" in message


def test_header_only_payments_is_a_warning(sqlite_cli: Cli, delivery: Path) -> None:
    rewrite(delivery / "payments.csv", lambda rows: rows[:1])
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "payments.csv: warning: has no data rows" in result.stderr


def test_mixed_encodings(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    path = delivery / "customers.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    mixed = b"".join(line.encode("gb18030" if i == 3 else "utf-8") for i, line in enumerate(lines))
    path.write_bytes(mixed)
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "customers.csv:4: mixed encodings: row 2 is UTF-8 but row 4 is GB18030" in message


def test_gb18030_file_imports_with_names_intact(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    for name in ("customers.csv", "accounts.csv", "holds.csv"):
        path = delivery / name
        path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output
    with unit_of_work(sqlite_settings.resolved_database_url) as session:
        customer = read_customer(session, sqlite_settings, "C0001")
        assert customer is not None and customer.name == "测试甲"
    engine = create_engine(sqlite_settings.resolved_database_url)
    with engine.connect() as conn:
        product = conn.execute(text("SELECT product_name FROM accounts WHERE account_id='A0002'"))
        assert product.scalar_one() == "消费分期贷"


def test_utf8_with_bom_imports(sqlite_cli: Cli, delivery: Path) -> None:
    path = delivery / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert sqlite_cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0


def test_truncated_last_line(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    path = delivery / "payments.csv"
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data[: data.rfind(b",")])  # cut inside the last record
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "payments.csv:10: row has 4 fields, expected 5 (truncated line?)" in message


def test_unterminated_quote_at_end(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    path = delivery / "holds.csv"
    path.write_bytes(path.read_bytes() + b'H0003,A0002,dispute,,2026-11-01,,"customer disputes')
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "holds.csv" in message and "truncated" in message


def test_error_limit_then_count(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    rewrite(
        delivery / "dues.csv", lambda rows: [rows[0]] + [[*r[:4], "x", *r[5:]] for r in rows[1:]]
    )
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF, "--max-errors", "5")
    assert result.exit_code == 2
    listed = [line for line in result.stderr.splitlines() if line.startswith("dues.csv:")]
    assert len(listed) == 5
    assert "... and 16 more errors (21 in 21 rows)" in result.stderr
    assert nothing_stored(sqlite_settings)


def test_personal_data_is_masked_in_messages(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    set_cell(delivery / "customers.csv", row=2, column="phone", value="23812345678")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "customers.csv:2:phone: '238****5678' is not valid" in message
    assert "23812345678" not in message


def test_national_id_checksum(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> None:
    set_cell(delivery / "customers.csv", row=3, column="national_id", value="440305198506150021")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "customers.csv:3:national_id: check character does not match" in message


def test_quarantine_stores_valid_rows_and_writes_rejects(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path, tmp_path: Path
) -> None:
    set_cell(delivery / "accounts.csv", row=4, column="product", value="mortgage")
    rejects = tmp_path / "rejects.csv"
    result = sqlite_cli(
        "import", str(delivery), "--as-of", AS_OF, "--quarantine", str(rejects), "--json"
    )
    assert result.exit_code == 0, result.output
    engine = create_engine(sqlite_settings.resolved_database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT account_id FROM account_snapshots ORDER BY 1")).all()
    assert [r[0] for r in stored] == ["A0001", "A0002"]
    with rejects.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_file = {(r["file"], r["row"], r["column"]) for r in rows}
    assert ("accounts.csv", "4", "product") in by_file
    # everything hanging on the refused account is refused with it
    assert ("dues.csv", "16", "account_id") in by_file
    assert ("payments.csv", "10", "account_id") in by_file
    assert ("holds.csv", "2", "account_id") in by_file
    assert all("mortgage" in r["values"] for r in rows if r["file"] == "accounts.csv")


def test_quarantine_does_not_save_a_file_level_problem(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path, tmp_path: Path
) -> None:
    (delivery / "customers.csv").unlink()
    result = sqlite_cli(
        "import", str(delivery), "--as-of", AS_OF, "--quarantine", str(tmp_path / "r.csv")
    )
    assert result.exit_code == 2
    assert nothing_stored(sqlite_settings)


def test_parquet_delivery_matches_csv(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path, tmp_path: Path
) -> None:
    as_parquet = tmp_path / "parquet-delivery"
    as_parquet.mkdir()
    for path in delivery.glob("*.csv"):
        table = pacsv.read_csv(path)  # typed columns, as a bank's Parquet export would be
        pq.write_table(table, as_parquet / f"{path.stem}.parquet")
    from_parquet = sqlite_cli("import", str(as_parquet), "--as-of", AS_OF, "--json")
    assert from_parquet.exit_code == 0, from_parquet.output
    parquet_state = pq.read_table(sqlite_settings.snapshots_dir / AS_OF / "accounts.parquet")
    from_csv = sqlite_cli("import", str(delivery), "--as-of", AS_OF, "--json")
    assert from_csv.exit_code == 0, from_csv.output
    csv_state = pq.read_table(sqlite_settings.snapshots_dir / AS_OF / "accounts.parquet")
    columns = ["account_id", "days_past_due", "bucket", "arrears_fen", "balance_fen"]
    assert (
        parquet_state.select(columns)
        .sort_by("account_id")
        .equals(csv_state.select(columns).sort_by("account_id"))
    )


def test_both_formats_for_one_file_is_refused(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    pq.write_table(pacsv.read_csv(delivery / "holds.csv"), delivery / "holds.parquet")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "both CSV and Parquet delivered" in message


@pytest.mark.parametrize("bad_date", ["2026-13-01", "2026-02-30", "yesterday"])
def test_impossible_dates(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path, bad_date: str
) -> None:
    set_cell(delivery / "accounts.csv", row=2, column="open_date", value=bad_date)
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert f"accounts.csv:2:open_date: '{bad_date}' is not a date" in message
