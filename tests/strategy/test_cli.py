"""`huancui strategy validate | activate | list` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from tests.strategy.conftest import DEFAULT_STRATEGY, default_text, line_of, variant

Run = Callable[..., Result]
WriteStrategy = Callable[..., Path]


def test_validate_accepts_the_default_strategy(strategy_cli: Run) -> None:
    result = strategy_cli("validate", str(DEFAULT_STRATEGY))
    assert result.exit_code == 0, result.output
    assert "strategy default v1 is valid" in result.stdout


def test_validate_lists_every_error_with_file_and_line(
    strategy_cli: Run, write_strategy: WriteStrategy
) -> None:
    text = variant("AND days_past_due <= 90", "AND dpd <= 90")
    text = variant("min_dpd: 31", "min_dpd: 40", text=text)
    path = write_strategy(text)
    result = strategy_cli("validate", str(path))
    assert result.exit_code == 2
    assert (
        f"{path}:{line_of(text, 'dpd <= 90')}: segments[1] 'standard' condition: unknown column"
        " 'dpd' (did you mean days_past_due?)" in result.stderr
    )
    assert f"{path}:{line_of(text, 'min_dpd: 40')}: stages[2] 'late' min_dpd:" in result.stderr
    assert "2 error(s)" in result.stderr


def test_validate_json(strategy_cli: Run, write_strategy: WriteStrategy) -> None:
    path = write_strategy(variant('condition: "TRUE"', "condition: credit_grade = 'E'"))
    result = strategy_cli("validate", str(path), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["errors"] == []
    assert [w["severity"] for w in report["warnings"]] == ["warning"]


def test_activate_then_list(strategy_cli: Run, write_strategy: WriteStrategy) -> None:
    path = write_strategy(default_text())
    first = strategy_cli("activate", str(path), "--actor", "li.na")
    assert first.exit_code == 0, first.output
    assert "default v1 stored and activated" in first.stdout
    again = strategy_cli("activate", str(path), "--actor", "li.na", "--json")
    assert json.loads(again.stdout)["status"] == "unchanged"
    listed = strategy_cli("list", "--json")
    assert [(r["name"], r["version"], r["active"]) for r in json.loads(listed.stdout)] == [
        ("default", 1, True)
    ]
    table = strategy_cli("list")
    assert "default" in table.stdout and "li.na" in table.stdout


def test_activate_refuses_an_invalid_file(strategy_cli: Run, write_strategy: WriteStrategy) -> None:
    path = write_strategy(variant("traffic_share: 0.2", "traffic_share: 1.5"))
    result = strategy_cli("activate", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "rejected"
    assert json.loads(strategy_cli("list", "--json").stdout) == []


def test_activate_refuses_changed_content_for_a_stored_version(
    strategy_cli: Run, write_strategy: WriteStrategy
) -> None:
    assert strategy_cli("activate", str(write_strategy(default_text(), "a.yaml"))).exit_code == 0
    edited = write_strategy(variant("cadence_days: 5", "cadence_days: 6"), "b.yaml")
    result = strategy_cli("activate", str(edited))
    assert result.exit_code == 2
    assert "versions never change once stored" in result.stderr
