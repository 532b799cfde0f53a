"""The strategy compiler: one SQL statement gives every delinquent account exactly one plan row, with
the segment, stage, treatment, arm and priority the strategy's rules say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huancui.kit.settings import Settings
from huancui.strategy.assignment import assign_arm
from huancui.strategy.columns import SNAPSHOT_COLUMNS, SqlType
from huancui.strategy.compiler import (
    CHAMPION,
    NO_SEGMENT_REASON,
    PLAN_COLUMNS,
    compile_plan_sql,
    plan,
)
from huancui.strategy.loader import parse_strategy
from huancui.strategy.spec import Strategy
from tests.conftest import Cli
from tests.strategy.conftest import default_text, variant

AS_OF = "2026-11-27"
Row = dict[str, Any]


def load(text: str) -> Strategy:
    strategy = parse_strategy(text, source="strategy.yaml").strategy
    assert strategy is not None
    return strategy


DEFAULT = load(default_text())

_DEFAULTS: dict[str, Any] = {
    "product": "credit_card",
    "status": "open",
    "credit_grade": "A",
    "province": "11",
    "open_date": "2024-01-01",
    "bucket": "M1",
    "charged_off": False,
}
_ZERO = {SqlType.BIGINT: 0, SqlType.INTEGER: 0, SqlType.DOUBLE: 0.0}


def account(account_id: str, **values: Any) -> Row:
    """A snapshot account with the given values and plain defaults for everything else."""
    row: Row = {"account_id": account_id, "customer_id": f"C{account_id}"}
    for column in SNAPSHOT_COLUMNS:
        default = _DEFAULTS.get(
            column.name, None if column.nullable else _ZERO.get(column.sql_type)
        )
        row[column.name] = values.get(column.name, default)
    row.update(values)
    return row


def accounts_table(rows: list[Row]) -> duckdb.DuckDBPyConnection:
    """A DuckDB table `accounts` with the snapshot columns (and no score columns, as today)."""
    con = duckdb.connect()
    columns = ", ".join(f"{c.name} {c.sql_type}" for c in SNAPSHOT_COLUMNS)
    con.execute(f"CREATE TABLE accounts (account_id VARCHAR, customer_id VARCHAR, {columns})")
    names = ["account_id", "customer_id", *(c.name for c in SNAPSHOT_COLUMNS)]
    marks = ", ".join("?" for _ in names)
    con.executemany(f"INSERT INTO accounts VALUES ({marks})", [[r[n] for n in names] for r in rows])
    return con


def plan_rows(con: duckdb.DuckDBPyConnection, strategy: Strategy = DEFAULT) -> dict[str, Row]:
    relation = plan(con, strategy, accounts_relation="accounts")
    assert tuple(relation.columns) == PLAN_COLUMNS
    rows = [dict(zip(PLAN_COLUMNS, r, strict=True)) for r in relation.fetchall()]
    by_id = {r["account_id"]: r for r in rows}
    assert len(by_id) == len(rows), "an account has more than one plan row"
    return by_id


# The default programme's rules, written out again in Python.
def default_segment(row: Row) -> str:
    grade, dpd = row["credit_grade"], row["days_past_due"]
    if grade in ("A", "B") and dpd <= 30 and row["cycles_delinquent"] <= 2:
        return "prime"
    if grade in ("A", "B", "C") and dpd <= 90:
        return "standard"
    return "high_risk"


def default_stage(dpd: int) -> str:
    return "early" if dpd <= 15 else "contact" if dpd <= 30 else "late"


def default_priority(row: Row) -> float:
    return float(row["arrears_fen"] / 100.0 * (1 + row["days_past_due"] / 30.0))


def eligible(row: Row) -> bool:
    return bool(row["days_past_due"] >= 1 and not row["charged_off"])


def test_hand_made_accounts_get_the_first_matching_segment_and_their_stage() -> None:
    con = accounts_table(
        [
            account("prime_early", credit_grade="A", days_past_due=10, cycles_delinquent=1),
            account("standard_late", credit_grade="C", days_past_due=45, cycles_delinquent=1),
            account("high_risk_early", credit_grade="E", days_past_due=5, cycles_delinquent=1),
            # Grade A but three cycles: not prime, so the next segment in order.
            account("standard_contact", credit_grade="A", days_past_due=20, cycles_delinquent=3),
            account("high_risk_late", credit_grade="B", days_past_due=91, cycles_delinquent=1),
        ]
    )
    rows = plan_rows(con)
    got = {i: (r["segment"], r["segment_rule_index"], r["stage"]) for i, r in rows.items()}
    assert got == {
        "prime_early": ("prime", 0, "early"),
        "standard_late": ("standard", 1, "late"),
        "high_risk_early": ("high_risk", 2, "early"),
        "standard_contact": ("standard", 1, "contact"),
        "high_risk_late": ("high_risk", 2, "late"),
    }
    late = rows["standard_late"]
    assert (late["channels"], late["template"], late["tone"]) == (
        ["visit", "letter"],
        "visit.standard",
        "firm",
    )
    assert (late["cadence_days"], late["queue"], late["reason"]) == (7, "field", None)
    assert late["experiment"] is None and late["arm"] is None


def test_current_and_charged_off_accounts_get_no_plan_row() -> None:
    con = accounts_table(
        [
            account("current", days_past_due=0),
            account("charged_off", days_past_due=200, charged_off=True),
            account("bank_wrote_off", days_past_due=200, status="charged_off"),
            account("delinquent", days_past_due=1),
        ]
    )
    assert set(plan_rows(con)) == {"delinquent"}


def test_stage_boundaries_follow_the_ladder() -> None:
    dpds = [1, 15, 16, 30, 31, 400]
    con = accounts_table([account(f"d{d}", credit_grade="E", days_past_due=d) for d in dpds])
    rows = plan_rows(con)
    assert {d: rows[f"d{d}"]["stage"] for d in dpds} == {d: default_stage(d) for d in dpds}


def test_challenger_arm_replaces_only_the_fields_it_changes() -> None:
    ids = [f"P{i:04d}" for i in range(400)]
    con = accounts_table([account(i, credit_grade="A", days_past_due=3) for i in ids])
    rows = plan_rows(con)
    experiment, arms = DEFAULT.arms("prime", "early")
    assert experiment is not None
    champion = DEFAULT.treatment_for("prime", "early")
    for account_id, row in rows.items():
        expected = assign_arm(experiment=experiment, account_id=account_id, arms=arms)
        assert row["experiment"] == experiment
        assert row["arm"] == (expected or CHAMPION)
        channels = ["sms", "email"] if expected else list(champion.channels)
        assert row["channels"] == channels
        assert (row["template"], row["tone"], row["cadence_days"], row["queue"]) == (
            champion.template,
            champion.tone,
            champion.cadence_days,
            champion.queue,
        )
    arms_seen = {r["arm"] for r in rows.values()}
    assert arms_seen == {"sms_and_email", CHAMPION}


def test_accounts_matching_no_segment_are_kept_with_the_reason() -> None:
    strategy = load(variant('condition: "TRUE"', "condition: credit_grade IN ('D', 'E')"))
    con = accounts_table(
        [
            account("unmatched", credit_grade="C", days_past_due=120),
            account("matched", credit_grade="D", days_past_due=120),
        ]
    )
    rows = plan_rows(con, strategy)
    unmatched = rows["unmatched"]
    assert unmatched["segment"] is None and unmatched["segment_rule_index"] is None
    assert unmatched["reason"] == NO_SEGMENT_REASON
    assert unmatched["stage"] == "late" and unmatched["queue"] is None
    assert unmatched["priority"] == pytest.approx(0.0)
    assert rows["matched"]["segment"] == "high_risk" and rows["matched"]["reason"] is None


def test_a_strategy_without_challengers_has_no_experiments() -> None:
    strategy = load(default_text().split("\nchallengers:")[0] + "\n")
    con = accounts_table([account("a", credit_grade="A", days_past_due=3)])
    row = plan_rows(con, strategy)["a"]
    assert (row["experiment"], row["arm"], row["channels"]) == (None, None, ["sms"])


def test_score_columns_are_used_when_present_and_null_when_absent() -> None:
    scored = variant(
        "condition: credit_grade IN ('A', 'B', 'C') AND days_past_due <= 90",
        "condition: COALESCE(score_pay_30d, 0) > 0.5",
    )
    strategy = load(scored)
    con = accounts_table([account("e", credit_grade="E", days_past_due=50)])
    assert plan_rows(con, strategy)["e"]["segment"] == "high_risk"  # no score column: NULL
    con.execute("ALTER TABLE accounts ADD COLUMN score_pay_30d DOUBLE DEFAULT 0.9")
    assert plan_rows(con, strategy)["e"]["segment"] == "standard"


def test_the_sql_names_the_relation_it_reads() -> None:
    sql = compile_plan_sql(DEFAULT, accounts_relation="read_parquet('x/accounts.parquet')")
    assert "read_parquet('x/accounts.parquet')" in sql
    assert "CAST(NULL AS DOUBLE) AS score_" not in sql  # columns assumed present unless told


accounts_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "credit_grade": st.sampled_from("ABCDE"),
            "days_past_due": st.integers(min_value=0, max_value=400),
            "arrears_fen": st.integers(min_value=0, max_value=10**12),
            "cycles_delinquent": st.integers(min_value=0, max_value=5),
            "charged_off": st.booleans(),
        }
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=accounts_strategy, prefix=st.from_regex(r"[A-Za-z0-9'_-]{0,8}", fullmatch=True))
def test_every_eligible_account_gets_one_row_as_the_rules_say(rows: list[Row], prefix: str) -> None:
    accounts = [account(f"{prefix}{i}", **values) for i, values in enumerate(rows)]
    plans = plan_rows(accounts_table(accounts))
    assert set(plans) == {a["account_id"] for a in accounts if eligible(a)}
    for a in (a for a in accounts if eligible(a)):
        row = plans[a["account_id"]]
        segment, stage = default_segment(a), default_stage(a["days_past_due"])
        assert (row["segment"], row["stage"]) == (segment, stage)
        for s in DEFAULT.stages:
            if s.id == stage:
                assert s.min_dpd <= a["days_past_due"] <= (s.max_dpd or a["days_past_due"])
        assert row["priority"] == pytest.approx(default_priority(a), rel=1e-9, abs=1e-9)
        experiment, arms = DEFAULT.arms(segment, stage)
        if experiment is None:
            assert row["arm"] is None
        else:
            expected = assign_arm(experiment=experiment, account_id=a["account_id"], arms=arms)
            assert row["arm"] == (expected or CHAMPION)


@pytest.fixture
def example_snapshot(sqlite_cli: Cli, sqlite_settings: Settings, delivery: Path) -> Path:
    """The small example delivery imported through the real CLI; its accounts Parquet file."""
    result = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return sqlite_settings.snapshots_dir / AS_OF / "accounts.parquet"


def test_the_example_delivery_gets_a_plan_for_each_delinquent_account(
    example_snapshot: Path,
) -> None:
    con = duckdb.connect()
    relation = f"read_parquet('{example_snapshot}')"
    expected = con.execute(
        f"SELECT account_id, credit_grade, days_past_due, cycles_delinquent, arrears_fen"
        f" FROM {relation} WHERE days_past_due >= 1 AND NOT charged_off"
        f" AND status <> 'charged_off'"
    ).fetchall()
    assert expected, "the example delivery should hold delinquent accounts"
    rows = plan(con, DEFAULT, accounts_relation=relation).fetchall()
    got = {r[0]: dict(zip(PLAN_COLUMNS, r, strict=True)) for r in rows}
    assert len(got) == len(rows) == len(expected)
    for account_id, grade, dpd, cycles, arrears in expected:
        facts = {
            "credit_grade": grade,
            "days_past_due": dpd,
            "cycles_delinquent": cycles,
            "arrears_fen": arrears,
        }
        row = got[account_id]
        assert row["segment"] == default_segment(facts)
        assert row["stage"] == default_stage(dpd)
        assert row["priority"] == pytest.approx(default_priority(facts), rel=1e-9)
        assert row["queue"] is not None and row["reason"] is None
