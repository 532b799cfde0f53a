"""`huancui model train|validate|score` end to end on an imported synthetic snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ..conftest import Cli

AS_OF = "2026-11-27"


@pytest.fixture
def imported(sqlite_cli: Cli, tmp_path: Path) -> Cli:
    delivery = tmp_path / "delivery"
    made = sqlite_cli(
        "generate", "--accounts", "4000", "--months", "13", "--seed", "3",
        "--as-of", AS_OF, "--out", str(delivery),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    done = sqlite_cli("import", str(delivery), "--as-of", AS_OF)
    assert done.exit_code == 0, done.output
    return sqlite_cli


def test_train_validate_and_score_pay_30d(imported: Cli) -> None:
    trained = imported("model", "train", "--target", "pay_30d", "--as-of", AS_OF, "--json")
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    assert len(result["train_dates"]) == 6 and result["validation_dates"] == ["2026-09-30"]
    assert max(result["train_dates"]) < result["validation_dates"][0]
    for model in ("lightgbm", "scorecard"):
        validation = result["metrics"][model]["validation"]
        assert 0.6 < validation["auc"] <= 1.0, (model, validation["auc"])
        assert validation["gini"] == pytest.approx(2 * validation["auc"] - 1)
    assert Path(result["artifact"], "metadata.json").exists()
    # Stability over time: every training and validation month end, in order, with its AUC.
    series = result["stability"]
    assert [p["date"] for p in series] == result["train_dates"] + result["validation_dates"]
    assert all(0.5 < p["auc"]["lightgbm"] <= 1 and p["psi"] >= 0 for p in series)
    assert series[-1]["auc"]["lightgbm"] == pytest.approx(
        result["metrics"]["lightgbm"]["validation"]["auc"]
    )

    checked = imported("model", "validate", "--target", "pay_30d", "--as-of", AS_OF, "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["model_version"] == 1 and report["rows"] > 0

    scored = imported(
        "model", "score", "--target", "pay_30d", "--as-of", AS_OF, "--lang", "en", "--json"
    )
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout)
    table = pq.read_table(summary["file"])
    assert table.num_rows == summary["accounts"] > 0
    scores = table.column("score_pay_30d").to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()
    assert all(text for text in table.column("reasons").to_pylist())

    _scores_reach_the_strategy_run_and_explain(imported, table)

    report = Path(result["artifact"]).parent / "report.html"
    made = imported(
        "model", "report", "--target", "pay_30d", "--as-of", AS_OF, "--out", str(report),
        "--lang", "en",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    html = report.read_text(encoding="utf-8")
    assert "Model validation report" in html and html.count("Plotly.newPlot(") == 5


def _scores_reach_the_strategy_run_and_explain(cli: Cli, scores: pa.Table) -> None:
    """A strategy whose prime segment asks for a high pay_30d score plans with the score file,
    the run records the model version, and explain shows the score and its reasons."""
    text = Path("strategies/default.yaml").read_text(encoding="utf-8")
    old = "condition: credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2"
    assert old in text
    scored = text.replace(
        old, "condition: coalesce(score_pay_30d, 0) >= 0.5 AND days_past_due <= 30"
    )
    scored = scored.replace("version: 1", "version: 2", 1)
    home = Path(cli.env["HUANCUI_HOME"])
    path = home / "scored.yaml"
    path.write_text(scored, encoding="utf-8")
    activated = cli("strategy", "activate", str(path))
    assert activated.exit_code == 0, activated.output
    run = cli("run", "--as-of", AS_OF, "--actor", "night-batch", "--json")
    assert run.exit_code == 0, run.output
    models = json.loads(run.stdout)["models"]
    assert models["pay_30d"]["version"] == 1 and models["pay_30d"]["column"] == "score_pay_30d"

    by_account = dict(
        zip(
            scores.column("account_id").to_pylist(),
            scores.column("score_pay_30d").to_pylist(),
            strict=True,
        )
    )
    planned = json.loads(cli("plan", "--as-of", AS_OF, "--format", "json").stdout)
    segments = {row["account_id"]: row["segment"] for row in planned}
    accounts = pq.read_table(home / "snapshots" / AS_OF / "accounts.parquet")
    dpd = dict(
        zip(
            accounts.column("account_id").to_pylist(),
            accounts.column("days_past_due").to_pylist(),
            strict=True,
        )
    )
    prime = sorted(a for a, s in segments.items() if s == "prime")
    expected = sorted(a for a in segments if by_account.get(a, 0) >= 0.5 and dpd[a] <= 30)
    assert prime and prime == expected

    account = prime[0]
    explained = cli("explain", account, "--as-of", AS_OF, "--json")
    assert explained.exit_code == 0, explained.output
    data = json.loads(explained.stdout)
    (shown,) = data["scores"]
    assert shown["column"] == "score_pay_30d" and shown["model_version"] == 1
    assert shown["value"] == pytest.approx(by_account[account], abs=1e-4)
    assert shown["reasons"] and shown["file_changed_since_run"] is False
    assert data["segment"]["checks"][0]["holds"] is True
    text_out = cli("explain", account, "--as-of", AS_OF).stdout
    assert "Score score_pay_30d" in text_out and "pay_30d v1" in text_out


def test_unknown_target_and_missing_snapshot_are_refused(sqlite_cli: Cli) -> None:
    bad = sqlite_cli("model", "train", "--target", "nope", "--as-of", AS_OF)
    assert bad.exit_code != 0 and "pay_30d" in bad.output
    missing = sqlite_cli("model", "train", "--target", "roll", "--as-of", AS_OF)
    assert missing.exit_code != 0 and "huancui import" in missing.output


def test_ability_and_willingness_are_checked_against_the_truth(
    imported: Cli, tmp_path: Path
) -> None:
    for target in ("ability", "willingness"):
        trained = imported("model", "train", "--target", target, "--as-of", AS_OF, "--json")
        assert trained.exit_code == 0, trained.output
        result = json.loads(trained.stdout)
        assert result["label"] == "pays_due"
        assert "credit_grade" not in result["features"]
    truth = tmp_path / "delivery" / "truth"
    checked = imported("model", "truth", "--as-of", AS_OF, "--truth", str(truth), "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    rho = report["spearman"]
    assert report["customers"] > 1000
    # The ability score ranks customers by their latent ability, and more by ability than by
    # willingness; the willingness score at least moves with willingness.
    assert rho["ability_score~ability"] > 0.4
    assert rho["ability_score~ability"] > rho["ability_score~willingness"] + 0.2
    assert rho["willingness_score~willingness"] > 0.1
    assert report["quadrant_agreement"] > 0.3
    missing = imported("model", "truth", "--as-of", AS_OF, "--truth", str(tmp_path / "nowhere"))
    assert missing.exit_code != 0 and "truth" in missing.output
