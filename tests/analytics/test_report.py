"""The model validation report: one registered model rendered as a self-contained HTML file, in
Chinese and English, LightGBM and the scorecard side by side, five charts, nothing fetched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from huancui.analytics.report import LABELS, SCORECARD_ROWS, render_model_report
from huancui.kit.errors import InvalidInput
from huancui.monitoring.report import EMPTY
from tests.offline_report import assert_charts_drawn_offline, assert_loads_nothing_from_elsewhere

IMPORTANCE = [
    {"feature": "days_past_due", "label_en": "Days past due", "label_zh": "逾期天数", "gain": 812.5},
    {"feature": "broken_promises", "label_en": "Broken promises", "label_zh": "违约承诺次数",
     "gain": 401.0},
    {"feature": "balance_fen", "label_en": "Outstanding balance", "label_zh": "未还余额",
     "gain": 250.25},
    {"feature": "contacts_30d", "label_en": "Contacts in 30 days", "label_zh": "30 天联系次数",
     "gain": 90.0},
    {"feature": "tenure_months", "label_en": "Months on book", "label_zh": "账龄（月）", "gain": 12.0},
]  # fmt: skip


def _report(auc: float, ks: float, brier: float, psi: float | None, shift: float) -> dict[str, Any]:
    calibration = [
        {"mean_predicted": (i + 0.5) / 10, "observed_rate": (i + 0.5) / 10 + shift, "count": 10}
        for i in range(10)
    ]
    return {"n": 100, "positives": 40, "auc": auc, "gini": 2 * auc - 1, "ks": ks,
            "brier": brier, "psi": psi, "calibration": calibration}  # fmt: skip


def _data() -> dict[str, Any]:
    """100 validation rows whose LightGBM scores carry a clear signal, the scorecard's less."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=100)
    lightgbm = np.clip(0.25 + 0.5 * labels + rng.normal(0, 0.15, size=100), 0.01, 0.99)
    scorecard = np.clip(0.35 + 0.3 * labels + rng.normal(0, 0.2, size=100), 0.01, 0.99)
    train = np.clip(rng.normal(0.45, 0.2, size=300), 0.01, 0.99)
    scorecard_bins = [
        {"feature": row["feature"], "label_en": row["label_en"], "label_zh": row["label_zh"],
         "bin": f"[{2.0 * j:.2f}, {2.0 * j + 2:.2f})", "count": 1000 + j, "event_rate": 0.125,
         "woe": -0.4567 + j, "points": 45.04 + j}
        for j, row in enumerate(IMPORTANCE[:4] * 2)
    ]  # fmt: skip
    return {
        "target": "pay_30d",
        "version": 3,
        "metadata": {
            "as_of": "2026-11-27", "label": "paid_within_30d",
            "features": [r["feature"] for r in IMPORTANCE],
            "train_dates": ["2026-06-30", "2026-07-31", "2026-08-31"],
            "validation_dates": ["2026-09-30", "2026-10-31"],
            "rows": {"train": 12345, "validation": 100},
            "positive_share": {"train": 0.4321, "validation": 0.4},
            "data_sha256": "abcdef0123456789" * 4, "created_at": "2026-11-28T01:02:03+00:00",
            "seed": 42,
            "stability": [
                {"date": d, "rows": 100, "positive_share": 0.4, "mean_score": 0.45,
                 "auc": {"lightgbm": a, "scorecard": a - 0.05}, "psi": p}
                for d, a, p in (("2026-06-30", 0.91, 0.01), ("2026-07-31", 0.9, 0.02),
                                ("2026-08-31", 0.89, 0.03), ("2026-09-30", 0.87, 0.125))
            ],
            "metrics": {
                "lightgbm": {"train": _report(0.91234, 0.7001, 0.10101, None, 0.0),
                             "validation": _report(0.87654, 0.6543, 0.12345, 0.04567, 0.02)},
                "scorecard": {"train": _report(0.81111, 0.5222, 0.17777, None, 0.0),
                              "validation": _report(0.79876, 0.5012, 0.18888, 0.01234, -0.03)},
            },
        },
        "validation": {"labels": labels.tolist(), "lightgbm": lightgbm.tolist(),
                       "scorecard": scorecard.tolist()},
        "train_scores": {"lightgbm": train.tolist(), "scorecard": train.tolist()},
        "importance": IMPORTANCE,
        "scorecard": scorecard_bins,
    }  # fmt: skip


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def _metric_cells(html: str, metric: str) -> list[str]:
    match = re.search(rf'<tr data-metric="{metric}">(.*?)</tr>', _section(html, "metrics"), re.S)
    assert match, f"no row for {metric}"
    return re.findall(r"<td>(.*?)</td>", match.group(1))[1:]


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    data = _data()
    return {lang: render_model_report(data, lang=lang) for lang in ("zh-CN", "en")}


def test_both_languages_have_the_same_labels() -> None:
    assert set(LABELS["en"]) == set(LABELS["zh-CN"])


def test_metrics_show_both_models_on_train_and_validation_to_three_decimals(
    reports: dict[str, str],
) -> None:
    html = reports["en"]
    # columns: LightGBM train, LightGBM validation, scorecard train, scorecard validation
    assert _metric_cells(html, "auc") == ["0.912", "0.877", "0.811", "0.799"]
    assert _metric_cells(html, "gini") == ["0.825", "0.753", "0.622", "0.598"]
    assert _metric_cells(html, "ks") == ["0.700", "0.654", "0.522", "0.501"]
    assert _metric_cells(html, "brier") == ["0.101", "0.123", "0.178", "0.189"]
    assert _metric_cells(html, "psi") == [EMPTY, "0.046", EMPTY, "0.012"]
    assert _metric_cells(reports["zh-CN"], "auc") == _metric_cells(html, "auc")


def test_settings_show_the_training_run_and_the_datas_short_hash(reports: dict[str, str]) -> None:
    settings = _section(reports["en"], "settings")
    assert "paid_within_30d" in settings and "2026-11-27" in settings
    assert "2026-06-30 to 2026-08-31 (3 dates)" in settings
    assert "2026-09-30 to 2026-10-31 (2 dates)" in settings
    assert "train 12,345, validation 100" in settings
    assert "train 43.2%, validation 40.0%" in settings
    assert "abcdef012345" in settings and "abcdef0123456789abcdef" not in settings
    assert '<tr data-setting="seed"><th class="text">Seed</th><td class="text">42</td>' in settings
    assert (
        "Pays within 30 days (pay_30d) · version 3 · created 2026-11-28T01:02:03" in reports["en"]
    )
    assert "2026-06-30 至 2026-08-31（3 个日期）" in reports["zh-CN"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_feature_labels_appear_in_the_reports_language(reports: dict[str, str], lang: str) -> None:
    html = reports[lang]
    own, other = ("label_zh", "label_en") if lang == "zh-CN" else ("label_en", "label_zh")
    scorecard = _section(html, "scorecard")
    charts = _section(html, "charts")
    for row in IMPORTANCE:
        assert json.dumps(row[own]) in charts  # plotly's JSON escapes non-ASCII text
        assert row[other] not in html and json.dumps(row[other]) not in html
    for row in IMPORTANCE[:4]:
        assert row[own] in scorecard
    assert LABELS[lang]["metrics.title"] in html  # type: ignore[index]


def test_the_scorecard_table_formats_rates_as_percent_and_is_cut_at_its_limit() -> None:
    data = _data()
    html = render_model_report(data, lang="en")
    table = _section(html, "scorecard")
    first = "<td>1,000</td><td>12.5%</td><td>-0.457</td><td>45.0</td>"
    assert "<code>[0.00, 2.00)</code>" in table and first in table
    assert table.count("<tr data-feature=") == 8 and "rows shown" not in table
    data["scorecard"] = data["scorecard"] * 10
    long = _section(render_model_report(data, lang="en"), "scorecard")
    assert long.count("<tr data-feature=") == SCORECARD_ROWS
    assert f"First {SCORECARD_ROWS} of 80 rows shown." in long


def test_five_plotly_charts_with_plotly_js_embedded_once(reports: dict[str, str]) -> None:
    for html in reports.values():
        assert html.count(get_plotlyjs()) == 1
        assert html.count("Plotly.newPlot(") == 5
        for name in ("roc", "calibration", "distribution", "importance", "stability"):
            assert f'id="figure-model-{name}"' in html
    en = reports["en"]
    assert "LightGBM (AUC 0.877)" in en and "Scorecard (AUC 0.799)" in en
    assert "(PSI 0.046)" in en
    # importance bars run from the smallest gain up to the largest, drawn on top
    compact = en.replace(" ", "")
    assert '"x":[12.0,90.0,250.25,401.0,812.5]' in compact
    assert '"histnorm":"probability"' in compact
    # stability: PSI bars on the right axis, an AUC line per model, by month end
    assert '"y":[0.01,0.02,0.03,0.125]' in compact and '"yaxis":"y2"' in compact
    assert '"y":[0.91,0.9,0.89,0.87]' in compact
    zh_title = json.dumps(LABELS["zh-CN"]["charts.stability"])[1:-1]  # as the figure JSON has it
    assert "Stability over time" in en and zh_title in reports["zh-CN"]


def test_a_model_without_a_stability_series_has_no_stability_chart() -> None:
    data = _data()
    del data["metadata"]["stability"]
    html = render_model_report(data, lang="en")
    assert 'id="figure-model-stability"' not in html and html.count("Plotly.newPlot(") == 4


def test_a_validation_set_with_one_class_has_no_roc_chart() -> None:
    data = _data()
    data["validation"]["labels"] = [1] * 100
    html = render_model_report(data, lang="en")
    assert 'id="figure-model-roc"' not in html and html.count("Plotly.newPlot(") == 4


def test_the_report_loads_nothing_from_elsewhere(reports: dict[str, str]) -> None:
    for html in reports.values():
        assert_loads_nothing_from_elsewhere(html)


def test_an_unknown_language_is_refused_naming_lang() -> None:
    with pytest.raises(InvalidInput, match="lang"):
        render_model_report(_data(), lang="fr")


@pytest.mark.browser
def test_plotly_draws_every_chart_in_a_browser_without_a_network(
    reports: dict[str, str], tmp_path: Path
) -> None:
    assert_charts_drawn_offline(reports["zh-CN"], tmp_path, charts=5)
