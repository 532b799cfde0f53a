"""`huancui explain ACCOUNT --as-of D`: why the night's plan treats one account the way it does.

Everything comes from what the run recorded — its plan file, the strategy version and the
compliance pack it used — plus the snapshot's values for this account, so the explanation
describes the decision that was made, not a fresh one. The segment conditions and the priority
are re-evaluated for this one account (the same compiled SQL, in DuckDB) to show the arithmetic,
with the model scores the run recorded (strategy/scores.py): their values for this account, the
model version, the reasons the model gave, and a warning if the file changed after the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlalchemy.orm import Session
from sqlglot import exp

from huancui.contact.policy import CompliancePack, load_pack
from huancui.contact.rule_text import describe, known_rules
from huancui.kit.digest import sha256_of
from huancui.kit.errors import NotFound
from huancui.kit.money import display_yuan
from huancui.kit.settings import Settings
from huancui.kit.sql import lit
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.assignment import stable_uniform, upper_bounds
from huancui.strategy.columns import COLUMNS_BY_NAME
from huancui.strategy.compiler import missing_scores_sql
from huancui.strategy.nightly import current_run, strategy_of
from huancui.strategy.scores import ScoreFile, recorded_files, score_files, scored_accounts_sql
from huancui.strategy.spec import EW_SEGMENT, EW_STAGE, Strategy


@dataclass(frozen=True)
class Explanation:
    data: dict[str, Any]


def _columns_in(expression: str) -> list[str]:
    tree = sqlglot.parse_one(expression, read="duckdb")
    return sorted({c.name.lower() for c in tree.find_all(exp.Column)})


def _substituted(expression: str, values: dict[str, Any]) -> str:
    """The expression with each column replaced by this account's value."""

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name.lower() in values:
            value = values[node.name.lower()]
            if value is None:
                return exp.null()
            if isinstance(value, bool):
                return exp.Boolean(this=value)
            if isinstance(value, int | float):
                return exp.Literal.number(value)
            return exp.Literal.string(str(value))
        return node

    tree = sqlglot.parse_one(expression, read="duckdb").transform(replace)
    return tree.sql(dialect="duckdb")


def _shown(name: str, value: Any) -> str:
    column = COLUMNS_BY_NAME.get(name)
    if value is not None and column is not None and column.unit == "fen":
        return f"{value} fen (¥{display_yuan(int(value))})"
    return "NULL" if value is None else str(value)


def explain(
    session: Session, settings: Settings, *, account_id: str, as_of: date, language: str = "en"
) -> Explanation:
    run = current_run(session, as_of)
    if run is None:
        raise NotFound(f"no run for {as_of}; run it first: huancui run --as-of {as_of}")
    strategy = strategy_of(session, run)
    pack = load_pack(run.policy_name).pack
    plan_file = settings.home / run.plan_path
    snapshot = snapshot_dir(settings.snapshots_dir, as_of) / "accounts.parquet"
    files = tuple(
        f for f in recorded_files(run.model_versions or {}, settings.home) if f.path.exists()
    )
    con = duckdb.connect()
    try:
        source = _with_scores(snapshot, con, files)
        account = _account_row(con, source, account_id)
        if account is None:
            raise NotFound(f"account {account_id} is not in the snapshot of {as_of}")
        # The plan file is ordered by account and channel; a filtered scan keeps that order.
        actions = con.execute(
            f"SELECT * FROM read_parquet({lit(str(plan_file))}) WHERE account_id = ?",
            [account_id],
        )
        names = [d[0] for d in actions.description]
        rows = [dict(zip(names, r, strict=True)) for r in actions.fetchall()]
        checks = _segment_checks(con, source, strategy, account_id)
        priority_value = _evaluate(con, source, strategy.priority_sql, account_id)
        scores = _scores(con, run.model_versions or {}, files, account_id, settings.home)
    finally:
        con.close()

    data: dict[str, Any] = {
        "account_id": account_id,
        "as_of": as_of.isoformat(),
        "run_id": run.run_id,
        "strategy": run.strategy_label,
        "policy": f"{run.policy_name} v{run.policy_version}",
        "engine": run.engine,
        "facts": {
            name: _shown(name, account.get(name))
            for name in (
                "days_past_due",
                "bucket",
                "credit_grade",
                "arrears_fen",
                "cycles_delinquent",
            )
        },
        "scores": scores,
    }
    if not rows:
        data["in_plan"] = False
        data["why_not"] = _why_not(account, strategy)
        return Explanation(data)
    data["in_plan"] = True
    first = rows[0]
    early = strategy.early_warning
    if early is not None and first["segment"] == EW_SEGMENT:
        # Current accounts are not tried against the segments: the early-warning section took it.
        checks = [
            {
                "segment": EW_SEGMENT,
                "label_zh": early.label_zh,
                "label_en": early.label_en,
                "condition": f"days_past_due = 0 AND ({early.condition})",
                "holds": True,
            }
        ]
    data["segment"] = {
        "id": first["segment"],
        "rule_index": first["segment_rule_index"],
        "checks": checks,
    }
    stage = next((s for s in strategy.stages if s.id == first["stage"]), None)
    data["stage"] = {
        "id": first["stage"],
        "range_dpd": stage.describe() if stage else ("0" if first["stage"] == EW_STAGE else None),
        "days_past_due": account.get("days_past_due"),
    }
    if first.get("reason"):
        data["reason"] = first["reason"]
    data["experiment"] = _experiment(strategy, first, account_id)
    used = _columns_in(strategy.priority)
    values = {name: account.get(name) for name in used}
    data["priority"] = {
        "expression": strategy.priority,
        "values": {name: _shown(name, values[name]) for name in used},
        "with_values": _substituted(strategy.priority, values),
        "result": priority_value,
    }
    data["actions"] = [_action(r, pack, language) for r in rows]
    data["rules_checked"] = [
        {"rule": rule, "meaning": describe(rule, pack, language), "changed": _changed(rule, rows)}
        for rule in known_rules(pack)
    ]
    return Explanation(data)


def _account_row(
    con: duckdb.DuckDBPyConnection, source: str, account_id: str
) -> dict[str, Any] | None:
    result = con.execute(f"SELECT * FROM {source} WHERE account_id = ?", [account_id])
    names = [d[0] for d in result.description]
    found = result.fetchone()
    return None if found is None else dict(zip(names, found, strict=True))


def _with_scores(
    snapshot: Path, con: duckdb.DuckDBPyConnection, files: tuple[ScoreFile, ...] = ()
) -> str:
    """The snapshot's accounts with the run's score columns, NULL for the others."""
    accounts = f"read_parquet({lit(str(snapshot))})"
    names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {accounts}").fetchall()}
    usable = tuple(f for f in files if f.column not in names)
    scored = scored_accounts_sql(accounts, usable, paths=True)
    extra = missing_scores_sql(names | {f.column for f in usable})
    return f"(SELECT *{extra} FROM {scored})"


def _scores(
    con: duckdb.DuckDBPyConnection,
    recorded: dict[str, Any],
    files: tuple[ScoreFile, ...],
    account_id: str,
    home: Path,
) -> list[dict[str, Any]]:
    """Each score the run used: this account's value, model version and the model's reasons."""
    shown = []
    present = {f.target: f for f in files}
    for f in recorded_files(recorded, home):
        entry: dict[str, Any] = {
            "column": f.column,
            "target": f.target,
            "model_version": f.model_version,
            "value": None,
            "reasons": None,
            "file_changed_since_run": None,
        }
        current = present.get(f.target)
        if current is None:
            entry["note"] = f"score file {f.path} no longer exists"
        else:
            found = con.execute(
                f"SELECT {f.file_column}, reasons FROM read_parquet({lit(str(f.path))})"
                " WHERE account_id = ?",
                [account_id],
            ).fetchone()
            if found is not None:
                entry["value"] = None if found[0] is None else round(float(found[0]), 4)
                entry["reasons"] = found[1]
            else:
                entry["note"] = "not scored: outside the model's population (NULL in rules)"
            entry["file_changed_since_run"] = sha256_of(f.path) != f.sha256
        shown.append(entry)
    return shown


def _segment_checks(
    con: duckdb.DuckDBPyConnection, source: str, strategy: Strategy, account_id: str
) -> list[dict[str, Any]]:
    selects = ", ".join(f"({s.condition_sql})" for s in strategy.segments)
    found = con.execute(f"SELECT {selects} FROM {source} WHERE account_id = ?", [account_id])
    values = found.fetchone() or ()
    checks = []
    for segment, held in zip(strategy.segments, values, strict=True):
        checks.append(
            {
                "segment": segment.id,
                "label_zh": segment.label_zh,
                "label_en": segment.label_en,
                "condition": segment.condition,
                "holds": bool(held) if held is not None else None,
            }
        )
        if held:
            break
    return checks


def _evaluate(
    con: duckdb.DuckDBPyConnection, source: str, sql: str, account_id: str
) -> float | None:
    found = con.execute(
        f"SELECT CAST(({sql}) AS DOUBLE) FROM {source} WHERE account_id = ?", [account_id]
    ).fetchone()
    return None if found is None or found[0] is None else float(found[0])


def _experiment(
    strategy: Strategy, first: dict[str, Any], account_id: str
) -> dict[str, Any] | None:
    experiment = first.get("experiment")
    if experiment is None:
        return None
    _, arms = strategy.arms(first["segment"], first["stage"])
    u = stable_uniform(experiment=experiment, account_id=account_id)
    bounds = upper_bounds(arms)
    slices = []
    low = 0.0
    for arm, high in zip(arms, bounds, strict=True):
        slices.append({"arm": arm.name, "from": low, "to": high})
        low = high
    slices.append({"arm": "champion", "from": low, "to": 1.0})
    return {
        "experiment": experiment,
        "arm": first.get("arm"),
        "hash_position": u,
        "slices": slices,
        "rule": "sha256(experiment:account) → first 52 bits / 2^52; arms take consecutive slices",
    }


def _action(row: dict[str, Any], pack: CompliancePack, language: str) -> dict[str, Any]:
    rules = [r for r in (row.get("rules") or "").split(",") if r]
    return {
        "channel": row["channel"],
        "status": row["status"],
        "suppressed_by": row["suppressed_by"],
        "template": row["template"],
        "tone": row["tone"],
        "queue": row["queue"],
        "cadence_days": row["cadence_days"],
        "planned_date": str(row["planned_date"]) if row["planned_date"] else None,
        "contact_date": str(row["contact_date"]) if row["contact_date"] else None,
        "timezone": row["timezone"],
        "window_start": row["window_start"],
        "window_end": row["window_end"],
        "rules": [{"rule": r, "meaning": describe(r, pack, language)} for r in rules],
    }


def _changed(rule: str, rows: list[dict[str, Any]]) -> list[str]:
    """Channels whose action this rule changed (suppressed, moved, narrowed, rerouted)."""
    return [str(r["channel"]) for r in rows if rule in (r.get("rules") or "").split(",")]


def _why_not(account: dict[str, Any], strategy: Strategy) -> str:
    dpd = account.get("days_past_due") or 0
    if account.get("charged_off") or account.get("status") == "charged_off":
        return "charged off: handled by recoveries, not by the collection strategy"
    if dpd == 0 and strategy.early_warning is not None:
        return (
            "not delinquent (0 days past due), and the early-warning condition does not hold:"
            f" {strategy.early_warning.condition}"
        )
    if dpd < strategy.stages[0].min_dpd:
        return f"not delinquent ({dpd} days past due; the first stage starts at {strategy.stages[0].min_dpd})"
    return "not in the plan"


def segment_of(
    snapshot_accounts: Path, strategy: Strategy, account_id: str, *, scores: Path | None = None
) -> str | None:
    """The segment the strategy puts the account in (first matching rule), None if none;
    `scores` is the date's score folder, so that rules on score_* see what the run sees."""
    con = duckdb.connect()
    try:
        source = _with_scores(snapshot_accounts, con, score_files(scores))
        checks = _segment_checks(con, source, strategy, account_id)
    finally:
        con.close()
    matched = [c["segment"] for c in checks if c["holds"]]
    return matched[0] if matched else None
