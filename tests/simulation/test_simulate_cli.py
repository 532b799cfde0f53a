"""`huancui simulate` end to end: the shipped scenarios through the real CLI, JSON and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from huancui.kit.errors import InvalidInput
from huancui.simulation.runner import from_scenario_file, with_arm

from ..conftest import Cli
from .conftest import ROOT

SCENARIOS = ["segmented", "uniform-gentle", "uniform-harsh"]


def test_the_three_scenarios_run_side_by_side(sqlite_cli: Cli, tmp_path: Path) -> None:
    report = tmp_path / "sim.html"
    args = ["simulate"]
    for name in SCENARIOS:
        args += ["--scenario", str(ROOT / "scenarios" / f"{name}.yaml")]
    args += ["--accounts", "1500", "--days", "12", "--seeds", "2", "--work", str(tmp_path / "w"),
             "--report", str(report), "--lang", "en", "--json"]  # fmt: skip
    result = sqlite_cli(*args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["strategies"]] == SCENARIOS
    assert data["simulation"]["seeds"] == [1, 2] and data["simulation"]["days"] == 12
    for name in SCENARIOS:
        kpis = data["results"][name]
        for key in ("recovery_rate", "cure_rate", "complaints_per_1000_accounts", "csat",
                    "attrition_rate", "contact_cost"):  # fmt: skip
            summary = kpis[key]
            assert len(summary["per_seed"]) == 2
            if summary["low"] is not None:
                assert summary["low"] <= summary["mean"] <= summary["high"]
        assert 0 < kpis["recovery_rate"]["mean"] < 1
        assert len(data["daily"][name]["day"]) == 12
    assert set(data["differences"]) == {"uniform-gentle", "uniform-harsh"}
    # No contact costs nothing; visits and legal steps cost more than reminders.
    gentle = data["results"]["uniform-gentle"]["contact_cost"]["mean"]
    harsh = data["results"]["uniform-harsh"]["contact_cost"]["mean"]
    assert harsh > gentle > 0
    html = report.read_text(encoding="utf-8")
    assert "Uniform harsh (traditional hard collection)" in html and "Recovery rate" in html


def test_offline_evaluation_is_checked_against_the_simulators_truth(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    result = sqlite_cli(
        "simulate", "--scenario", str(ROOT / "scenarios" / "segmented.yaml"),
        "--accounts", "6000", "--days", "50", "--seeds", "1", "--ope", "--json",
        "--work", str(tmp_path / "w"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["ope"]
    assert [(r["experiment"], r["arm"]) for r in rows] == [("prime_early_email", "sms_and_email")]
    row = rows[0]
    assert row["n"] >= 20 and row["logged_share"] == 0.2
    for method in ("ipw", "snipw", "dr", "truth", "champion_truth"):
        assert row[method]["low"] <= row[method]["value"] <= row[method]["high"], method


def test_a_variant_gives_everyone_the_arm() -> None:
    strategy = from_scenario_file(ROOT / "scenarios" / "segmented.yaml").strategy
    arm = with_arm(strategy, "prime_early_email", "sms_and_email")
    champion = with_arm(strategy, "prime_early_email", None)
    cell = [t for t in arm.treatments if (t.segment, t.stage) == ("prime", "early")]
    assert cell[0].channels == ("sms", "email") and not arm.challengers
    assert next(t for t in champion.treatments if t.segment == "prime").channels == ("sms",)
    with pytest.raises(InvalidInput, match="no arm"):
        with_arm(strategy, "prime_early_email", "nope")


def test_bad_arguments_are_refused_with_a_message(sqlite_cli: Cli, tmp_path: Path) -> None:
    missing = sqlite_cli("simulate", "--accounts", "1000", "--work", str(tmp_path))
    assert missing.exit_code != 0 and "--strategy or --scenario" in missing.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntitle_en: X\n", encoding="utf-8")
    bad = sqlite_cli("simulate", "--scenario", str(broken), "--work", str(tmp_path))
    assert bad.exit_code != 0 and "title_zh" in bad.output
