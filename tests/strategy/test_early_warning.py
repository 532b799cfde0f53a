"""The early-warning section: current accounts with a high early-warning score get a courtesy
treatment through the same compliance guard, and a hashed holdout gets none (the control)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from huancui.contact.policy import load_pack
from huancui.kit.settings import Settings
from huancui.strategy.assignment import Arm, assign_arm
from huancui.strategy.compiler import compile_actions_ctes
from huancui.strategy.engines import DuckDBEngine
from huancui.strategy.loader import parse_strategy
from huancui.strategy.pipeline import build_query
from huancui.strategy.spec import Strategy
from tests.strategy.conftest import GENERATED_AS_OF, default_text

EARLY_WARNING = {
    "condition": "coalesce(score_ew, 0) >= 0.5 AND balance_fen > 0",
    "channels": ["sms"],
    "template": "sms.courtesy_before_due",
    "tone": "gentle",
    "cadence_days": 30,
    "queue": "digital",
    "holdout_share": 0.3,
}


def with_early_warning(**changes: object) -> tuple[Strategy | None, list[str]]:
    data = yaml.safe_load(default_text())
    data["early_warning"] = {**EARLY_WARNING, **changes}
    loaded = parse_strategy(yaml.safe_dump(data, allow_unicode=True), source="ew.yaml")
    return loaded.strategy, [str(e) for e in loaded.errors]


@pytest.fixture(scope="module")
def ew_scores(generated_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An early_warning score for every current account, spread over [0, 1) by a hash."""
    folder = tmp_path_factory.mktemp("ew-scores")
    con = duckdb.connect()
    table = con.sql(
        f"""
        SELECT account_id, (hash(account_id) % 1000) / 1000.0 AS score_early_warning,
               0.5 AS scorecard_early_warning, 'test' AS reasons,
               CAST(2 AS INTEGER) AS model_version
        FROM '{generated_snapshot / "accounts.parquet"}' WHERE days_past_due = 0
        """
    ).to_arrow_table()
    con.close()
    pq.write_table(table, folder / "early_warning.parquet")
    return folder


def test_high_scores_get_the_courtesy_treatment_and_a_hashed_holdout(
    generated_snapshot: Path, ew_scores: Path, tmp_path: Path
) -> None:
    strategy, errors = with_early_warning()
    assert strategy is not None, errors
    query = build_query(
        strategy=strategy, pack=load_pack("cn").pack, snapshot=generated_snapshot,
        as_of=GENERATED_AS_OF, scores=ew_scores,
    )  # fmt: skip
    DuckDBEngine(Settings(home=tmp_path)).write_plan(query, tmp_path / "plan.parquet")
    plan = pq.read_table(tmp_path / "plan.parquet").to_pylist()
    accounts = {
        r["account_id"]: r
        for r in pq.read_table(generated_snapshot / "accounts.parquet").to_pylist()
    }
    scores = {
        r["account_id"]: r["score_early_warning"]
        for r in pq.read_table(ew_scores / "early_warning.parquet").to_pylist()
    }
    picked = {
        a
        for a, r in accounts.items()
        if r["days_past_due"] == 0
        and r["status"] == "open"
        and not r["charged_off"]
        and r["balance_fen"] > 0
        and scores.get(a, 0) >= 0.5
    }
    early = [r for r in plan if r["segment"] == "early_warning"]
    assert {r["account_id"] for r in early} == picked and len(picked) > 200
    assert all(
        r["stage"] == "pre_delinquency" and r["experiment"] == "early_warning" for r in early
    )
    # The arm is the stable hash of (early_warning, account), as for every experiment.
    arms = {r["account_id"]: r["arm"] for r in early}
    for account, arm in arms.items():
        assert arm == (
            assign_arm(experiment="early_warning", account_id=account, arms=[Arm("holdout", 0.3)])
            or "champion"
        )
    held = [a for a, arm in arms.items() if arm == "holdout"]
    assert 0.2 < len(held) / len(arms) < 0.4
    for r in early:
        if r["arm"] == "holdout":
            assert r["channel"] is None and r["status"] == "suppressed"
            assert r["suppressed_by"] == "strategy.early_warning_holdout"
        else:
            assert r["channel"] == "sms" and r["template"] == "sms.courtesy_before_due"
            assert r["status"] in ("planned", "suppressed")
    # The guard still has the last word: the same rules as for any contact are applied.
    assert any(r["rules"] for r in early if r["channel"] == "sms")
    # Delinquent accounts are planned exactly as without the section.
    assert {r["segment"] for r in plan if r["segment"] != "early_warning"} <= {
        "prime", "standard", "high_risk",
    }  # fmt: skip


def test_the_section_is_checked() -> None:
    _, errors = with_early_warning(condition="score_ew >= ")
    assert any("early_warning.condition" in e or "early_warning" in e for e in errors), errors
    _, errors = with_early_warning(holdout_share=1.0)
    assert errors
    data = yaml.safe_load(default_text())
    data["segments"][0]["id"] = "early_warning"
    data["treatments"] = [
        {**t, "segment": "early_warning"} if t["segment"] == "prime" else t
        for t in data["treatments"]
    ]
    data["challengers"] = [
        {**c, "segment": "early_warning"} if c.get("segment") == "prime" else c
        for c in data["challengers"]
    ]
    loaded = parse_strategy(yaml.safe_dump(data, allow_unicode=True), source="bad.yaml")
    assert any("reserved for the early_warning section" in str(e) for e in loaded.errors)


def test_without_a_score_file_no_current_account_is_contacted(
    generated_snapshot: Path, tmp_path: Path
) -> None:
    strategy, errors = with_early_warning()
    assert strategy is not None, errors
    query = build_query(
        strategy=strategy, pack=load_pack("cn").pack, snapshot=generated_snapshot,
        as_of=GENERATED_AS_OF,
    )  # fmt: skip
    DuckDBEngine(Settings(home=tmp_path)).write_plan(query, tmp_path / "plan.parquet")
    plan = pq.read_table(tmp_path / "plan.parquet")
    assert "early_warning" not in set(plan.column("segment").to_pylist())
    assert isinstance(plan, pa.Table) and plan.num_rows > 0


def _rows_scanned(con: duckdb.DuckDBPyConnection, sql: str, profile: Path) -> list[int]:
    """The rows each Parquet scan of `sql` emitted, from DuckDB's JSON profile."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{profile}'")
    con.execute(sql).fetchall()
    con.execute("PRAGMA disable_profiling")
    found: list[int] = []

    def walk(node: dict[str, object]) -> None:
        if node.get("name") == "READ_PARQUET":
            found.append(int(node["intermediate_rows"]))  # type: ignore[call-overload]
        for child in node.get("children", []):  # type: ignore[attr-defined]
            walk(child)

    for root in json.loads(profile.read_text(encoding="utf-8"))["operator"]:
        walk(root)
    return found


def test_without_a_score_file_the_scan_reads_only_accounts_in_arrears(
    generated_snapshot: Path, tmp_path: Path
) -> None:
    """A condition on a score no file fills is folded to false in the SQL itself, so the filter on
    days past due goes into the Parquet scan instead of every current account being read to test
    a condition that cannot hold (strategy/compiler._early_warning_filter)."""
    strategy, errors = with_early_warning()
    assert strategy is not None, errors
    accounts = f"read_parquet('{generated_snapshot / 'accounts.parquet'}')"
    con = duckdb.connect()
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {accounts}").fetchall()}
    ctes = compile_actions_ctes(strategy, accounts_relation=accounts, available_columns=columns)
    assert "COALESCE(CAST(NULL AS DOUBLE), 0) >= 0.5" in ctes
    eligible = f"WITH {ctes} SELECT count(*) FROM eligible"
    in_arrears, book = con.execute(
        f"SELECT count(*) FILTER (WHERE days_past_due >= 1), count(*) FROM {accounts}"
    ).fetchone()  # type: ignore[misc]
    assert 0 < in_arrears < book
    scanned = _rows_scanned(con, eligible, tmp_path / "profile.json")
    assert scanned and max(scanned) <= in_arrears
    # With every score column present (a file for each), current accounts must be read.
    scored = compile_actions_ctes(strategy, accounts_relation=accounts, available_columns=None)
    assert "COALESCE(score_ew, 0) >= 0.5" in scored
