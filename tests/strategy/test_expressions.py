"""Rule expressions: only documented columns and allow-listed SQL, typed, normalised for DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from huancui.strategy.columns import RULE_COLUMNS
from huancui.strategy.expressions import (
    ExpressionError,
    compile_condition,
    compile_number,
    with_null_columns,
)


@pytest.mark.parametrize(
    ("rule", "sql"),
    [
        ("credit_grade in ('A','B') and DAYS_PAST_DUE <= 30",
         "credit_grade IN ('A', 'B') AND days_past_due <= 30"),
        ("days_past_due BETWEEN 1 AND 15", "days_past_due BETWEEN 1 AND 15"),
        ("NOT charged_off OR last_payment_date IS NULL",
         "NOT charged_off OR last_payment_date IS NULL"),
        ("COALESCE(score_pay_30d, 0.5) < 0.2", "COALESCE(score_pay_30d, 0.5) < 0.2"),
        ("CASE WHEN product = 'credit_card' THEN arrears_fen > 100000 ELSE TRUE END",
         "CASE WHEN product = 'credit_card' THEN arrears_fen > 100000 ELSE TRUE END"),
        ("last_payment_date < '2026-01-01'", "last_payment_date < '2026-01-01'"),
        ('"days_past_due" > 0', "days_past_due > 0"),
    ],
)  # fmt: skip
def test_conditions_are_normalised_to_duckdb_sql(rule: str, sql: str) -> None:
    assert compile_condition(rule) == sql


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("dpd > 30", "unknown column 'dpd' (did you mean days_past_due?)"),
        ("balanec_fen > 0", "unknown column 'balanec_fen' (did you mean balance_fen?)"),
        ("name = 'x'", "unknown column 'name'"),
        ("a.days_past_due > 0", "must not name a table"),
        ("risk_band(days_past_due) > 1", "unknown function 'risk_band'"),
        ("sqrt(days_past_due) > 1", "function 'SQRT' is not allowed"),
        ("upper(province) = 'GD'", "function 'UPPER' is not allowed"),
        ("days_past_due IN (SELECT 1)", "subqueries are not allowed"),
        ("EXISTS (SELECT 1)", "subqueries are not allowed"),
        ("(SELECT max(days_past_due) FROM accounts) > 1", "subqueries are not allowed"),
        ("*", "'*' is not allowed"),
        ("DROP TABLE accounts", "not a SQL statement"),
        ("days_past_due > 1; DELETE FROM accounts", "one expression, not several statements"),
        ("days_past_due >", "is not valid SQL"),
        ("credit_grade LIKE 'A%'", "'LIKE' is not allowed"),
        ("days_past_due", "must be a boolean expression but gives a number"),
        ("credit_grade = 1", "mixes a text ('credit_grade') with a number ('1')"),
        ("charged_off + 1 > 0", "needs a number but 'charged_off' gives a boolean"),
        ("days_past_due > 1 AND arrears_fen", "AND needs a boolean"),
        ("CASE WHEN charged_off THEN 'x' ELSE 1 END = 1", "CASE mixes"),
        ("", "is empty"),
    ],
)
def test_bad_conditions_are_refused_with_the_reason(rule: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition(rule)
    assert message in str(caught.value)


def test_priority_must_be_numeric() -> None:
    assert compile_number("arrears_fen / 100.0 * (1 + days_past_due / 30.0)") == (
        "arrears_fen / 100.0 * (1 + days_past_due / 30.0)"
    )
    assert compile_number("GREATEST(LN(1 + balance_fen), ABS(ROUND(LOG(10, 2), 2)))")
    with pytest.raises(ExpressionError, match="must be a number expression but gives a boolean"):
        compile_number("days_past_due > 3")


def _empty_snapshot() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    columns = ", ".join(f"{c.name} {c.sql_type}" for c in RULE_COLUMNS)
    con.execute(f"CREATE TABLE accounts ({columns})")
    return con


@pytest.mark.parametrize(
    "rule",
    [
        "credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2",
        "last_payment_date < '2026-01-01' OR charge_off_date IS NOT NULL",
        "COALESCE(score_roll, 0) * arrears_fen > LEAST(balance_fen, 100000)",
        "CASE product WHEN 'credit_card' THEN days_past_due > 60 ELSE days_past_due > 90 END",
    ],
)
def test_normalised_rules_run_in_duckdb_over_the_documented_columns(rule: str) -> None:
    con = _empty_snapshot()
    compiled = compile_condition(rule)
    described = con.execute(f"DESCRIBE SELECT {compiled} AS matches FROM accounts").fetchall()
    assert described[0][1] == "BOOLEAN"  # DuckDB binds every column and gives a condition
    assert con.execute(f"SELECT count(*) FROM accounts WHERE {compiled}").fetchall() == [(0,)]


def test_missing_score_columns_become_null_in_compiled_sql() -> None:
    sql = compile_condition(
        "coalesce(Score_EW, 0) >= 0.5 AND score_roll IS NULL AND balance_fen > 0"
    )
    assert with_null_columns(sql, []) == sql
    folded = with_null_columns(sql, ["score_ew"])
    assert "score_ew" not in folded.lower() and "CAST(NULL AS DOUBLE)" in folded
    assert "score_roll IS NULL" in folded
