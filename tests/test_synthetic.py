"""The synthetic world and demo-data generator: a delivery that honours the data contract,
is reproducible from its seed, and behaves like a real card and loan portfolio."""

from __future__ import annotations

import csv
import datetime
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huancui.portfolio.contract import FILES, ColumnType, FileSpec
from huancui.portfolio.synthetic import GenerationReport, generate_portfolio
from huancui.portfolio.synthetic.calibration import measure
from huancui.portfolio.synthetic.formatting import money
from huancui.portfolio.synthetic.people import national_id_codes
from huancui.portfolio.synthetic.schedule import equal_instalment_schedule, level_instalment

AS_OF = datetime.date(2025, 6, 30)
TRUTH_FILES = {"customers", "life_events", "accounts", "account_months"}
TRUTH_COLUMNS = {
    "ability",
    "willingness",
    "ability_effective",
    "arrears_bucket",
    "in_hardship_at_as_of",
    "event_type",
    "transactor",
}
MONEY_TEXT = re.compile(r"[0-9]+\.[0-9]{2}")
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIMESTAMP_TEXT = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):00\+08:00")


def _generate(
    out: Path, *, accounts: int = 3_000, seed: int = 11, months: int = 13
) -> GenerationReport:
    return generate_portfolio(accounts=accounts, months=months, seed=seed, as_of=AS_OF, out=out)


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("delivery")
    return out, _generate(out)


def _rows(out: Path, spec: FileSpec) -> list[dict[str, str]]:
    with (out / f"{spec.name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _check_id(national_id: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(national_id[:17], weights, strict=True))
    return "10X98765432"[total % 11] == national_id[17]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    _generate(tmp_path / "a", accounts=1_500)
    _generate(tmp_path / "b", accounts=1_500)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == len(FILES) + len(TRUTH_FILES)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seeds_give_different_portfolios(tmp_path: Path) -> None:
    _generate(tmp_path / "a", accounts=500, seed=1)
    _generate(tmp_path / "b", accounts=500, seed=2)
    for name in ("customers.csv", "accounts.csv", "dues.csv", "payments.csv"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_every_file_has_exactly_the_contracts_columns(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, report = delivery
    for spec in FILES:
        header = (out / f"{spec.name}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert tuple(header.split(",")) == spec.column_names
        assert report.rows[spec.name] == len(_rows(out, spec)) > 0


@pytest.mark.parametrize("spec", FILES, ids=lambda s: s.name)
def test_every_value_is_written_as_the_contract_says(
    delivery: tuple[Path, GenerationReport], spec: FileSpec
) -> None:
    out, _ = delivery
    rows = _rows(out, spec)
    for column in spec.columns:
        values = [row[column.name] for row in rows]
        present = [v for v in values if v != ""]
        if column.required:
            assert len(present) == len(values), f"{spec.name}.{column.name} has empty values"
        for value in present:
            _assert_value_fits(
                spec.name, column.name, column.type, value, column.values, column.pattern
            )


def _assert_value_fits(
    file: str, name: str, kind: ColumnType, value: str, codes: tuple[str, ...], pattern: str | None
) -> None:
    where = f"{file}.{name} = {value!r}"
    if kind is ColumnType.MONEY:
        assert MONEY_TEXT.fullmatch(value), where  # two decimals and never negative
    elif kind is ColumnType.DATE:
        assert DATE_TEXT.fullmatch(value), where
        datetime.date.fromisoformat(value)
    elif kind is ColumnType.TIMESTAMP:
        assert TIMESTAMP_TEXT.fullmatch(value), where
    elif kind is ColumnType.BOOLEAN:
        assert value in ("true", "false"), where
    elif kind is ColumnType.ENUM:
        assert value in codes, where
    elif kind is ColumnType.INTEGER:
        assert value.isdigit(), where
    elif kind is ColumnType.RATE:
        assert re.fullmatch(r"0\.[0-9]{4}", value), where
    if pattern and kind is ColumnType.STRING:
        assert re.fullmatch(pattern, value), where


def test_national_ids_carry_a_valid_check_character_birth_date_and_gender_digit(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, _ = delivery
    for row in _rows(out, FILES[0]):
        national_id = row["national_id"]
        assert _check_id(national_id), national_id
        assert national_id[6:14] == row["birth_date"].replace("-", "")
        assert national_id[:2] in _province_prefixes()[row["province"]]


def _province_prefixes() -> dict[str, set[str]]:
    from huancui.portfolio.synthetic.geography import PROVINCES

    return {p.code: {c.code[:2] for c in p.cities} for p in PROVINCES}


@settings(max_examples=200, deadline=None)
@given(
    area=st.integers(110000, 659999),
    birth=st.dates(datetime.date(1940, 1, 1), datetime.date(2007, 12, 31)),
    sequence=st.integers(0, 999),
)
def test_national_id_check_character_follows_iso_7064(
    area: int, birth: datetime.date, sequence: int
) -> None:
    day = np.array([(birth - datetime.date(1970, 1, 1)).days])
    codes = national_id_codes(
        area_code=np.array([area]), birth_day=day, sequence=np.array([sequence])
    )
    national_id = bytes(codes[0]).decode("ascii")
    assert national_id[:14] == f"{area}{birth:%Y%m%d}"
    assert _check_id(national_id)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5_000_000_000), min_size=1, max_size=20))
def test_money_is_exact_yuan_with_two_decimals(fen: list[int]) -> None:
    table = pa.table({"amount": money(np.array(fen, dtype=np.int64))})
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False))
    written = sink.getvalue().to_pybytes().decode().split()
    assert written == [f"{f // 100}.{f % 100:02d}" for f in fen]


@settings(max_examples=150, deadline=None)
@given(
    principal_yuan=st.integers(1_000, 2_000_000),
    rate_bp=st.integers(0, 3_600),
    term=st.integers(1, 84),
)
def test_loan_schedule_principal_sums_exactly_to_the_loan_amount(
    principal_yuan: int, rate_bp: int, term: int
) -> None:
    principal = np.array([principal_yuan * 100])
    rate, terms = np.array([rate_bp]), np.array([term])
    parts, interest = equal_instalment_schedule(
        principal_fen=principal, annual_rate_bp=rate, term_months=terms
    )
    assert parts.sum() == principal[0]
    assert (parts >= 0).all() and (interest >= 0).all()
    level = level_instalment(principal_fen=principal, annual_rate_bp=rate, term_months=terms)[0]
    instalments = parts[0] + interest[0]
    assert (instalments[: term - 1] == level).all()  # the last one absorbs the rounding


def test_loan_dues_in_the_file_never_exceed_the_loan_amount(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, _ = delivery
    loans = {r["account_id"]: r for r in _rows(out, FILES[1]) if r["product"] == "instalment_loan"}
    scheduled: dict[str, int] = {}
    for due in _rows(out, FILES[2]):
        if due["account_id"] in loans:
            fen = int(due["principal_due"].replace(".", ""))
            scheduled[due["account_id"]] = scheduled.get(due["account_id"], 0) + fen
    assert scheduled
    for account_id, principal in scheduled.items():
        assert principal <= int(loans[account_id]["loan_amount"].replace(".", ""))


def test_payments_and_contacts_never_lie_after_the_as_of_date(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, _ = delivery
    paid = [datetime.date.fromisoformat(r["paid_date"]) for r in _rows(out, FILES[3])]
    assert max(paid) <= AS_OF
    due_dates = [datetime.date.fromisoformat(r["due_date"]) for r in _rows(out, FILES[2])]
    assert max(due_dates) > AS_OF  # future loan instalments are part of the delivery
    for row in _rows(out, FILES[4]):
        day = datetime.date.fromisoformat(row["contacted_at"][:10])
        assert AS_OF - datetime.timedelta(days=60) <= day <= AS_OF


def test_contacts_happen_in_the_customers_local_daytime(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, _ = delivery
    zone = {r["customer_id"]: r["timezone"] for r in _rows(out, FILES[0])}
    owner = {r["account_id"]: r["customer_id"] for r in _rows(out, FILES[1])}
    contacts = _rows(out, FILES[4])
    assert contacts
    for row in contacts:
        match = TIMESTAMP_TEXT.fullmatch(row["contacted_at"])
        assert match
        minute = int(match.group(2)) * 60 + int(match.group(3))
        local = minute - (120 if zone[owner[row["account_id"]]] == "Asia/Urumqi" else 0)
        assert 8 * 60 <= local < 21 * 60, row


def test_truth_is_kept_apart_from_the_delivery(delivery: tuple[Path, GenerationReport]) -> None:
    out, _ = delivery
    assert {p.stem for p in (out / "truth").glob("*.parquet")} == TRUTH_FILES
    assert {p.name for p in out.iterdir() if p.is_file()} == {f"{s.name}.csv" for s in FILES}
    for spec in FILES:
        assert not TRUTH_COLUMNS & set(spec.column_names)


def test_measured_days_past_due_from_the_files_match_the_worlds_own(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, _ = delivery
    assert measure(out, as_of=AS_OF).truth_dpd_agreement == 1.0


def test_charged_off_accounts_were_long_past_due_unless_they_paid_since(
    delivery: tuple[Path, GenerationReport],
) -> None:
    out, report = delivery
    charged = [r for r in _rows(out, FILES[1]) if r["status"] == "charged_off"]
    assert len(charged) == report.charged_off_accounts > 0
    accounts = pq.read_table(out / "truth" / "accounts.parquet").to_pylist()
    months = pq.read_table(out / "truth" / "account_months.parquet").to_pylist()
    recovered = {m["account_id"] for m in months if m["outcome"] == "recovery"}
    for row in accounts:
        if row["status"] == "charged_off" and row["account_id"] not in recovered:
            limit = 180 if row["product"] == "credit_card" else 120
            assert row["days_past_due_at_as_of"] >= limit, row


def test_delinquency_lands_in_the_documented_ranges(tmp_path: Path) -> None:
    """The ranges of docs/world-model.md (section "What the tests hold") on 20,000 accounts."""
    _generate(tmp_path, accounts=20_000, seed=3)
    figures = measure(tmp_path, as_of=AS_OF)
    cards = figures.products["credit_card"]
    loans = figures.products["instalment_loan"]
    assert 0.020 <= cards.share_balances_30_plus <= 0.045
    assert 0.020 <= cards.annual_charge_off_rate <= 0.060
    assert 0.20 <= cards.roll_rates["30-59->60-89"] <= 0.60
    assert 0.010 <= cards.roll_rates["current->1-29"] <= 0.050
    assert cards.roll_rates["1-29->current"] >= 0.40
    assert loans.share_balances_30_plus < cards.share_balances_30_plus


def test_progress_is_reported_up_to_done(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    generate_portfolio(
        accounts=300,
        months=3,
        seed=5,
        as_of=AS_OF,
        out=tmp_path,
        on_progress=lambda stage, done: seen.append((stage, done)),
    )
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and seen[-1] == ("done", 1.0)


@pytest.mark.parametrize(("accounts", "months", "seed"), [(0, 13, 1), (10, 0, 1), (10, 13, -1)])
def test_rejects_arguments_that_make_no_portfolio(
    tmp_path: Path, accounts: int, months: int, seed: int
) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_portfolio(accounts=accounts, months=months, seed=seed, as_of=AS_OF, out=tmp_path)
