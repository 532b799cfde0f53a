"""The optional feedback file (客户反馈): surveys, portal ratings and complaints, through the real
import into the snapshot's feedback.parquet, and as the synthetic world generates them."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from huancui.kit.settings import Settings
from huancui.portfolio.contract import CONTACTS, FEEDBACK
from huancui.portfolio.synthetic import GenerationReport, generate_portfolio
from huancui.portfolio.synthetic.feedback import attempts_in_week
from tests.conftest import Cli
from tests.portfolio.test_import_validation import nothing_stored, refused

AS_OF = date(2026, 11, 27)
HEADER = ",".join(FEEDBACK.column_names)
SNAPSHOT_SCHEMA = pa.schema(
    [
        ("feedback_id", pa.string()),
        ("account_id", pa.string()),
        ("received_date", pa.date32()),
        ("kind", pa.string()),
        ("score", pa.int32()),
        ("channel", pa.string()),
        ("category", pa.string()),
        ("contact_id", pa.string()),
    ]
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("generated") / "delivery"
    report = generate_portfolio(accounts=2_000, months=13, seed=5, as_of=AS_OF, out=out)
    return out, report


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_feedback(delivery: Path, *lines: str) -> None:
    (delivery / "feedback.csv").write_text("\n".join((HEADER, *lines)) + "\n", encoding="utf-8")


def _snapshot(settings: Settings) -> Path:
    return settings.snapshots_dir / AS_OF.isoformat()


def test_generated_feedback_is_stored_in_the_snapshot_with_the_agreed_schema(
    sqlite_cli: Cli, sqlite_settings: Settings, generated: tuple[Path, GenerationReport]
) -> None:
    delivery, report = generated
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    table = pq.read_table(_snapshot(sqlite_settings) / "feedback.parquet")
    # DuckDB marks a column that holds no null as required, so nullability follows the data.
    assert [(f.name, f.type) for f in table.schema] == [(f.name, f.type) for f in SNAPSHOT_SCHEMA]
    assert table.num_rows == report.rows["feedback"] > 0
    rows = table.to_pylist()
    assert {r["kind"] for r in rows} == {"survey", "complaint", "portal_rating"}
    for row in rows:
        assert (row["score"] is None) == (row["kind"] == "complaint"), row
        assert row["received_date"] <= AS_OF


def test_bad_feedback_rows_are_refused_with_file_row_and_column(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    _write_feedback(
        delivery,
        "F1,A0002,2026-11-11,survey,5,call,,K0002",  # fine
        "F2,A0001,2026-11-01,survey,7,sms,,K0001",
        "F3,A0002,2026-11-12,complaint,2,call,frequency,K0002",
        "F4,A0002,2026-11-12,survey,,call,,K0002",
        "F5,A0001,2026-11-02,praise,5,,,",
        "F6,A0001,2026-11-28,portal_rating,4,,,",
        "F7,A9999,2026-11-02,portal_rating,4,,,",
        "F8,A0003,2026-11-20,complaint,,call,shouting,K0003",
    )
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "feedback.csv:3:score: 7 is above 5" in message
    assert (
        "feedback.csv:4:score: must be empty when kind is complaint (got 2); "
        "complaints carry no score" in message
    )
    assert "feedback.csv:5:score: required when kind is survey: a score from 1 to 5" in message
    assert (
        "feedback.csv:6:kind: 'praise' is not one of: survey, complaint, portal_rating" in message
    )
    assert "feedback.csv:7:received_date: 2026-11-28 is after the as-of date 2026-11-27" in message
    assert "feedback.csv:8:account_id: 'A9999' does not exist in accounts.csv" in message
    assert "feedback.csv:9:category: 'shouting' is not one of: harassment, frequency" in message
    assert "feedback.csv:2:" not in message


def test_a_portal_rating_needs_a_score_too(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    _write_feedback(delivery, "F1,A0001,2026-11-01,portal_rating,,,,")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "feedback.csv:2:score: required when kind is portal_rating" in message


def test_an_unreadable_score_is_reported_once(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    _write_feedback(delivery, "F1,A0001,2026-11-01,survey,five,sms,,K0001")
    message = refused(sqlite_cli, sqlite_settings, delivery)
    assert "feedback.csv:2:score: 'five' is not a whole number" in message
    assert message.count("feedback.csv:2:score") == 1


def test_quarantine_keeps_the_good_feedback_and_lists_the_bad(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path, tmp_path: Path
) -> None:
    _write_feedback(
        delivery,
        "F1,A0002,2026-11-11,survey,5,call,,K0002",
        "F2,A0003,2026-11-13,complaint,3,call,frequency,K0003",
    )
    rejects = tmp_path / "rejects.csv"
    result = sqlite_cli(
        "import", str(delivery), "--as-of", AS_OF.isoformat(), "--quarantine", str(rejects)
    )
    assert result.exit_code == 0, result.output
    stored = pq.read_table(_snapshot(sqlite_settings) / "feedback.parquet").to_pylist()
    assert [r["feedback_id"] for r in stored] == ["F1"]
    assert stored[0]["score"] == 5 and stored[0]["received_date"] == date(2026, 11, 11)
    problems = _rows(rejects)
    assert [(p["file"], p["row"], p["column"]) for p in problems] == [
        ("feedback.csv", "3", "score")
    ]


def test_feedback_may_come_as_parquet(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    _write_feedback(delivery, "F1,A0002,2026-11-11,survey,4,call,,K0002")
    typed = pacsv.read_csv(delivery / "feedback.csv")
    (delivery / "feedback.csv").unlink()
    pq.write_table(typed, delivery / "feedback.parquet")
    assert sqlite_cli("import", str(delivery), "--as-of", AS_OF.isoformat()).exit_code == 0
    stored = pq.read_table(_snapshot(sqlite_settings) / "feedback.parquet")
    assert stored.column("score").to_pylist() == [4]


def test_delivery_without_feedback_still_imports(
    sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path
) -> None:
    assert not (delivery / "feedback.csv").exists()
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert not nothing_stored(sqlite_settings)
    # Like contacts and holds: an optional file that was not delivered has no Parquet file.
    assert not (_snapshot(sqlite_settings) / "feedback.parquet").exists()


def test_generated_surveys_and_complaints_refer_to_earlier_contacts_of_the_same_account(
    generated: tuple[Path, GenerationReport],
) -> None:
    delivery, _ = generated
    contacts = {r["contact_id"]: r for r in _rows(delivery / f"{CONTACTS.name}.csv")}
    feedback = _rows(delivery / "feedback.csv")
    assert len({r["feedback_id"] for r in feedback}) == len(feedback)
    for row in feedback:
        received = date.fromisoformat(row["received_date"])
        assert received <= AS_OF
        if row["kind"] == "portal_rating":
            assert row["contact_id"] == row["channel"] == row["category"] == ""
            continue
        contact = contacts[row["contact_id"]]
        assert contact["account_id"] == row["account_id"]
        assert contact["channel"] == row["channel"]
        contacted = date.fromisoformat(contact["contacted_at"][:10])
        assert contacted <= received <= contacted + timedelta(days=2)
        if row["kind"] == "complaint":
            assert row["score"] == "" and row["category"] != ""
        else:
            assert row["category"] == ""
            assert contact["outcome"] != "wrong_number"


def test_promises_score_higher_than_refusals_and_disputes(
    generated: tuple[Path, GenerationReport],
) -> None:
    delivery, _ = generated
    outcome = {r["contact_id"]: r["outcome"] for r in _rows(delivery / "contacts.csv")}
    scores: dict[str, list[int]] = {}
    for row in _rows(delivery / "feedback.csv"):
        if row["kind"] == "survey":
            scores.setdefault(outcome[row["contact_id"]], []).append(int(row["score"]))
    promise = np.mean(scores["promise"])
    tense = np.mean(scores.get("refusal", []) + scores.get("dispute", []))
    assert promise > tense + 0.5


def test_attempts_in_week_count_the_same_accounts_last_seven_days() -> None:
    account = np.array([0, 0, 0, 0, 1, 1])
    day = np.array([10, 12, 16, 17, 16, 16])
    assert attempts_in_week(account=account, day=day).tolist() == [1, 2, 3, 3, 1, 2]
