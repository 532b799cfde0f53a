"""The nightly run through the real CLI: plan, work items and outbox, idempotent re-runs, a run
killed half-way, `huancui plan` and `huancui explain`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import create_engine, text

from huancui.kit.database import unit_of_work
from huancui.kit.settings import Settings
from huancui.strategy.repository import StrategyRepository
from tests.conftest import Cli
from tests.strategy.conftest import default_text, variant

AS_OF = "2026-11-27"


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def execute(settings: Settings, sql: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture
def ready(cli: Cli, delivery: Path) -> Cli:
    """The small example imported and the default strategy active."""
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    result = cli("strategy", "activate", str(Path("strategies/default.yaml").resolve()))
    assert result.exit_code == 0, result.output
    return cli


def run_json(cli: Cli, *extra: str) -> dict[str, Any]:
    result = cli("run", "--as-of", AS_OF, "--actor", "night-batch", "--json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_run_writes_plan_work_items_and_audit(ready: Cli, settings: Settings) -> None:
    report = run_json(ready)
    assert report["strategy"] == "default v1" and report["policy"] == "cn v1"
    assert report["planned_date"] == "2026-11-28"
    # A0002 (grade C, 85+ days) is standard × late: a visit and a letter; A0003 is on a
    # hardship pause (缓催) until 2027-01-31: both its actions are suppressed by that hold.
    assert report["planned_by_cell"] == [
        {"segment": "standard", "stage": "late", "channel": "letter", "actions": 1},
        {"segment": "standard", "stage": "late", "channel": "visit", "actions": 1},
    ]
    assert report["suppressed_by_rule"] == [{"rule": "hold.hardship", "actions": 2}]
    assert (report["rows_planned"], report["rows_suppressed"]) == (2, 2)
    items = rows(
        settings,
        "SELECT account_id, channel, queue, status, window_start, window_end FROM work_items"
        " ORDER BY channel",
    )
    assert items == [
        ("A0002", "letter", "field", "open", "2026-11-28T00:00:00+08:00", "2026-11-29T00:00:00+08:00"),
        ("A0002", "visit", "field", "open", "2026-11-28T09:00:00+08:00", "2026-11-28T18:00:00+08:00"),
    ]  # fmt: skip
    runs = rows(settings, "SELECT run_id, is_current, strategy_label, policy_name FROM plan_runs")
    assert runs == [(report["run_id"], True, "default v1", "cn")]
    events = rows(settings, "SELECT actor, action, entity_id FROM audit_events ORDER BY event_id")
    assert events[-1] == ("night-batch", "run.complete", str(report["run_id"]))
    assert (settings.home / "runs" / AS_OF / f"run-{report['run_id']}" / "plan.parquet").exists()


def test_rerun_gives_the_same_plan_and_queues_nothing_twice(ready: Cli, settings: Settings) -> None:
    first = run_json(ready)
    # Pretend the letter went out: a re-run must not queue it again, nor reopen it.
    execute(settings, "UPDATE work_items SET status = 'done' WHERE channel = 'letter'")
    second = run_json(ready)
    assert second["plan_sha256"] == first["plan_sha256"]
    assert second["same_as_previous"] is True
    assert (second["work_items_added"], second["already_present"], second["cancelled"]) == (0, 2, 0)
    assert rows(settings, "SELECT channel, status FROM work_items ORDER BY channel") == [
        ("letter", "done"),
        ("visit", "open"),
    ]
    # The open item now belongs to the new run; only one run is current.
    assert rows(settings, "SELECT run_id FROM work_items WHERE channel = 'visit'") == [
        (second["run_id"],)
    ]
    assert rows(settings, "SELECT run_id FROM plan_runs WHERE is_current") == [(second["run_id"],)]


def test_a_new_strategy_cancels_work_it_no_longer_wants(
    ready: Cli, settings: Settings, write_strategy: Callable[..., Path]
) -> None:
    run_json(ready)
    v2 = variant(
        "  - {segment: standard, stage: late, channels: [visit, letter],",
        "  - {segment: standard, stage: late, channels: [visit],",
        text=variant("version: 1\n", "version: 2\n"),
    )
    assert ready("strategy", "activate", str(write_strategy(v2))).exit_code == 0
    report = run_json(ready)
    assert report["strategy"] == "default v2"
    assert report["cancelled"] == 1
    cancelled = rows(settings, "SELECT channel, status, status_reason FROM work_items ORDER BY 1")
    assert cancelled[0] == (
        "letter",
        "cancelled",
        f"no longer planned by run {report['run_id']}",
    )
    assert cancelled[1][:2] == ("visit", "open")


def test_plan_prints_csv_and_json(ready: Cli) -> None:
    run_json(ready)
    csv_out = ready("plan", "--as-of", AS_OF, "--format", "csv")
    assert csv_out.exit_code == 0
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("account_id,segment,stage,channel,template")
    assert [line.split(",")[3] for line in lines[1:]] == ["visit", "letter"]
    every = json.loads(ready("plan", "--as-of", AS_OF, "--format", "json", "--all").stdout)
    assert [(r["account_id"], r["channel"], r["status"], r["suppressed_by"]) for r in every] == [
        ("A0002", "visit", "planned", None),
        ("A0002", "letter", "planned", None),
        ("A0003", "visit", "suppressed", "hold.hardship"),
        ("A0003", "legal", "suppressed", "hold.hardship"),
    ]
    # A customer in Xinjiang keeps Urumqi time: the window is shown in it, cut to 08:00 local.
    visit = every[2]
    assert (visit["window_start"], visit["rules"]) == (
        "2026-11-28T08:00:00+06:00",
        "hold.hardship,hours.narrowed",
    )


def test_explain_reads_like_the_decision(ready: Cli) -> None:
    run_json(ready)
    data = json.loads(ready("explain", "A0003", "--as-of", AS_OF, "--json").stdout)
    assert data["segment"]["id"] == "high_risk"
    assert [c["holds"] for c in data["segment"]["checks"]] == [False, False, True]
    assert data["stage"] == {"id": "late", "range_dpd": "31+", "days_past_due": 160}
    # arrears ¥11,100.00 at 160 days: 1110000 / 100.0 * (1 + 160 / 30.0)
    assert data["priority"]["with_values"] == "1110000 / 100.0 * (1 + 160 / 30.0)"
    assert data["priority"]["result"] == pytest.approx(11100 * (1 + 160 / 30))
    assert {a["channel"]: a["suppressed_by"] for a in data["actions"]} == {
        "visit": "hold.hardship",
        "legal": "hold.hardship",
    }
    changed = {r["rule"]: r["changed"] for r in data["rules_checked"]}
    assert changed["hold.hardship"] == ["visit", "legal"]
    assert changed["hours.narrowed"] == ["visit"]
    assert changed["cn.connected_calls_per_debtor_day"] == []
    zh = json.loads(ready("explain", "A0003", "--as-of", AS_OF, "--lang", "zh-CN", "--json").stdout)
    assert "缓催" in zh["actions"][0]["rules"][0]["meaning"]
    readable = ready("explain", "A0003", "--as-of", AS_OF)
    assert "1110000 / 100.0 * (1 + 160 / 30.0)" in readable.stdout
    assert "SUPPRESSED by hold.hardship" in readable.stdout
    current = json.loads(ready("explain", "A0001", "--as-of", AS_OF, "--json").stdout)
    assert current["in_plan"] is False and current["why_not"].startswith("not delinquent")
    assert "early-warning condition does not hold" in current["why_not"]
    missing = ready("explain", "NOPE", "--as-of", AS_OF)
    assert missing.exit_code == 3 and "not in the snapshot" in missing.output


def test_run_refuses_without_snapshot_strategy_or_effective_date(
    cli: Cli, delivery: Path, write_strategy: Callable[..., Path]
) -> None:
    no_snapshot = cli("run", "--as-of", AS_OF)
    assert no_snapshot.exit_code == 3 and "huancui import" in no_snapshot.output
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    no_strategy = cli("run", "--as-of", AS_OF)
    assert no_strategy.exit_code == 3 and "strategy activate" in no_strategy.output
    later = variant("effective_date: 2026-11-01", "effective_date: 2027-01-01")
    assert cli("strategy", "activate", str(write_strategy(later))).exit_code == 0
    not_yet = cli("run", "--as-of", AS_OF)
    assert not_yet.exit_code == 2 and "takes effect on 2027-01-01" in not_yet.output
    assert cli("plan", "--as-of", AS_OF).exit_code == 3


def test_a_version_activated_with_a_later_effective_date_is_scheduled(
    cli: Cli, delivery: Path, write_strategy: Callable[..., Path]
) -> None:
    """v1 stays in force until v2's effective date; activating v1 again is a rollback."""
    assert cli("import", str(delivery), "--as-of", AS_OF).exit_code == 0
    v1 = write_strategy(default_text(), "v1.yaml")
    assert cli("strategy", "activate", str(v1)).exit_code == 0
    later = variant("effective_date: 2026-11-01", "effective_date: 2026-12-01")
    v2 = write_strategy(variant("version: 1", "version: 2", text=later), "v2.yaml")
    scheduled = cli("strategy", "activate", str(v2))
    assert scheduled.exit_code == 0 and "from 2026-12-01" in scheduled.output
    run = cli("run", "--as-of", AS_OF, "--json")  # contacts on 2026-11-28: v1 is in force
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["strategy"] == "default v1"

    def in_force(day: date) -> int | None:
        with unit_of_work(cli.env["HUANCUI_DATABASE_URL"]) as session:
            row = StrategyRepository(session).in_force(day)
            return row.version if row else None

    assert (in_force(date(2026, 10, 31)), in_force(date(2026, 11, 30))) == (None, 1)
    assert in_force(date(2026, 12, 1)) == 2
    assert cli("strategy", "activate", str(v1)).exit_code == 0  # the rollback
    assert in_force(date(2026, 12, 1)) == 1


def _lock(settings: Settings) -> Any:
    """Hold the case plane's write lock from another connection (what a slow peer would do)."""
    engine = create_engine(settings.resolved_database_url)
    conn = engine.raw_connection()
    cursor = conn.cursor()
    if settings.resolved_database_url.startswith("sqlite"):
        conn.isolation_level = None  # type: ignore[attr-defined]
        cursor.execute("BEGIN IMMEDIATE")
    else:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE plan_runs IN ACCESS EXCLUSIVE MODE")
    return engine, conn


def test_a_run_killed_half_way_leaves_no_plan(ready: Cli, settings: Settings) -> None:
    engine, conn = _lock(settings)
    env = {**os.environ, **ready.env}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "huancui"), "run", "--as-of", AS_OF],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    runs = settings.home / "runs"
    try:
        # Wait until the plan is written and the run is blocked on the case-plane write.
        deadline = time.monotonic() + 60
        while not list(runs.glob(".run-*.tmp/plan.parquet")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never wrote its plan"
            time.sleep(0.1)
        time.sleep(1.0)
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()
    assert rows(settings, "SELECT count(*) FROM plan_runs") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM work_items") == [(0,)]
    assert not (runs / AS_OF).exists()
    assert ready("plan", "--as-of", AS_OF).exit_code == 3
    # The next run works and leaves exactly one plan.
    report = run_json(ready)
    assert [p.name for p in (runs / AS_OF).iterdir()] == [f"run-{report['run_id']}"]


def test_plan_file_matches_the_case_plane(ready: Cli, settings: Settings) -> None:
    report = run_json(ready)
    plan = duckdb.sql(
        f"SELECT idempotency_key FROM read_parquet('{report['plan_path']}')"
        " WHERE status = 'planned' ORDER BY 1"
    ).fetchall()
    queued = rows(settings, "SELECT idempotency_key FROM work_items ORDER BY 1")
    queued += rows(settings, "SELECT idempotency_key FROM outbox ORDER BY 1")
    assert sorted(plan) == sorted(queued)
    assert len({k for (k,) in plan}) == len(plan) == 2


def test_experiment_assignments_are_stored_once(
    ready: Cli, settings: Settings, write_strategy: Callable[..., Path]
) -> None:
    from huancui.strategy.assignment import Arm, assign_arm

    # An experiment in the cell A0002 falls in (standard × late), half the traffic.
    v2 = variant(
        "    segment: prime\n    stage: early\n    traffic_share: 0.2\n",
        "    segment: standard\n    stage: late\n    traffic_share: 0.5\n",
        text=variant("version: 1\n", "version: 2\n"),
    )
    assert ready("strategy", "activate", str(write_strategy(v2))).exit_code == 0
    first = run_json(ready)
    expected = assign_arm(
        experiment="prime_early_email", account_id="A0002", arms=[Arm("sms_and_email", 0.5)]
    )
    stored = rows(
        settings,
        "SELECT experiment, account_id, arm, segment, stage, first_run_id FROM experiment_assignments",
    )
    assert stored == [
        (
            "prime_early_email",
            "A0002",
            expected or "champion",
            "standard",
            "late",
            first["run_id"],
        )
    ]
    run_json(ready)
    assert rows(settings, "SELECT count(*) FROM experiment_assignments") == [(1,)]
    items = rows(settings, "SELECT DISTINCT experiment, arm FROM work_items")
    assert items == [("prime_early_email", expected or "champion")]
