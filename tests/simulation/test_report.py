"""`huancui simulate --report`: the simulation result rendered as one self-contained HTML file,
in Chinese and English, with every number formatted from the result dict and nothing fetched."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from huancui.kit.errors import InvalidInput
from huancui.kit.money import display_yuan
from huancui.simulation.report import LABELS, render_simulation_report
from tests.offline_report import assert_charts_drawn_offline, assert_loads_nothing_from_elsewhere

STRATEGIES = [
    {"name": "segmented", "title_en": "Segmented (default programme)",
     "title_zh": "分层缓催（默认方案）", "source": "scenarios/segmented.yaml"},
    {"name": "uniform-gentle", "title_en": "Uniform gentle", "title_zh": "统一温和",
     "source": "scenarios/uniform-gentle.yaml"},
    {"name": "aggressive", "title_en": "Aggressive calling", "title_zh": "高频电催",
     "source": "scenarios/aggressive.yaml"},
]  # fmt: skip

KPIS = [
    {"key": "recovery_rate", "label_en": "Recovery rate", "label_zh": "回收率",
     "unit": "rate", "better": "higher"},
    {"key": "collected", "label_en": "Collected", "label_zh": "回收金额",
     "unit": "money", "better": "higher"},
    {"key": "complaints_per_1000_accounts", "label_en": "Complaints per 1,000 accounts",
     "label_zh": "每千户投诉", "unit": "per_1000", "better": "lower"},
    {"key": "mean_score", "label_en": "Mean satisfaction score", "label_zh": "平均评分",
     "unit": "mean", "better": "higher"},
    {"key": "dpd30_change", "label_en": "Change in 30+ DPD share", "label_zh": "30 天以上逾期占比变化",
     "unit": "points", "better": "lower"},
    {"key": "accounts_cured", "label_en": "Accounts cured", "label_zh": "治愈户数",
     "unit": "count", "better": "none"},
]  # fmt: skip


def _summary(mean: float, half: float, *, seeds: int = 3) -> dict[str, Any]:
    if seeds == 1:
        return {"mean": mean, "low": None, "high": None, "per_seed": [mean]}
    return {"mean": mean, "low": mean - half, "high": mean + half, "per_seed": [mean] * seeds}


def _daily(scale: float) -> dict[str, list[Any]]:
    return {
        "day": ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"],
        "delinquent_accounts": [round(1000 * scale) - 10 * d for d in range(5)],
        "dpd30_accounts": [400, 398, 396, 395, 390],
        "collected_fen": [round(100_000 * scale) * (d + 1) for d in range(5)],
        "complaints": [d * 2 for d in range(5)],
        "in_pause": [5, 6, 7, 7, 8],
        "contacts": [300, 310, 305, 290, 280],
    }


def _result() -> dict[str, Any]:
    """Three strategies, a KPI of every unit, three seeds, five days, one OPE row."""
    return {
        "simulation": {
            "accounts": 100000, "days": 5, "seeds": [1, 2, 3], "start": "2026-11-27",
            "engine": "duckdb", "pack": "cn",
            "behaviour": {"file": "src/huancui/simulation/behaviour.yaml",
                          "sha256": "abcdef0123456789" * 4},
            "seconds": {"total": 123.4, "per_run_mean": 41.2},
        },
        "strategies": copy.deepcopy(STRATEGIES),
        "kpis": copy.deepcopy(KPIS),
        "results": {
            "segmented": {
                "recovery_rate": _summary(0.41, 0.02),
                "collected": _summary(123456, 1000),
                "complaints_per_1000_accounts": _summary(1.234, 0.1),
                "mean_score": _summary(4.2, 0.1),
                "dpd30_change": _summary(-1.5, 0.25),
                "accounts_cured": _summary(1234.4, 10),
            },
            "uniform-gentle": {
                "recovery_rate": _summary(0.36, 0.02),
                "collected": _summary(100000, 1000),
                "complaints_per_1000_accounts": _summary(0.5, 0.1),
                "mean_score": _summary(4.3, 0.05),
                "dpd30_change": _summary(0.75, 0.25),
                "accounts_cured": _summary(1100, 10),
            },
            "aggressive": {
                "recovery_rate": _summary(0.43, 0.02),
                "collected": _summary(150000, 1000),
                "complaints_per_1000_accounts": _summary(3.1, 0.1),
                "mean_score": _summary(3.2, 0.05),
                "dpd30_change": _summary(-2.0, 0.25),
                "accounts_cured": _summary(1300, 10),
            },
        },
        "differences": {
            "uniform-gentle": {
                "recovery_rate": _summary(-0.05, 0.02),  # excludes 0, higher is better: worse
                "collected": _summary(-23456, 30000),  # includes 0: no marker
                "complaints_per_1000_accounts": _summary(-0.734, 0.2),  # lower is better: better
                "mean_score": _summary(0.1, 0.05),
                "dpd30_change": _summary(2.25, 0.5),
                "accounts_cured": _summary(-134.4, 20),  # better "none": differs
            },
            "aggressive": {
                "recovery_rate": _summary(0.02, 0.03),
                "collected": _summary(26544, 1000),
                "complaints_per_1000_accounts": _summary(1.866, 0.2),
                "mean_score": _summary(-0.925, 0.05),
                "dpd30_change": _summary(-0.5, 0.6),
                "accounts_cured": _summary(65.6, 100),
            },
        },
        "daily": {"segmented": _daily(1.0), "uniform-gentle": _daily(0.9),
                  "aggressive": _daily(1.1)},
        "ope": [
            {"strategy": "segmented", "experiment": "prime_early_email", "arm": "sms_and_email",
             "metric": "recovered_30d_fen", "logged_share": 0.2, "n": 5321,
             "ipw": {"value": 12345.0, "low": 10000.0, "high": 14600.0},
             "snipw": {"value": 12200.0, "low": 10500.0, "high": 13900.0},
             "dr": {"value": 12100.0, "low": 11000.0, "high": 13000.0},
             "truth": {"value": 12000.0, "low": 11500.0, "high": 12500.0},
             "champion_truth": {"value": 11000.0, "low": 10500.0, "high": 11500.0}},
        ],
    }  # fmt: skip


def _one_seed() -> dict[str, Any]:
    result = _result()
    result["simulation"]["seeds"] = [7]
    for group in ("results", "differences"):
        for summaries in result[group].values():
            for key, s in summaries.items():
                summaries[key] = _summary(s["mean"], 0, seeds=1)
    return result


def _cell(html: str, section: str, kpi: str) -> str:
    """The table row of `kpi` in `section` (kpis or differences), as text."""
    body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    match = re.search(rf'<tr data-kpi="{kpi}">(.*?)</tr>', body, re.S)
    assert match, f"no row for {kpi} in {section}"
    return match.group(1)


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    return {lang: render_simulation_report(_result(), lang=lang) for lang in ("zh-CN", "en")}


def test_both_languages_have_the_same_labels() -> None:
    assert set(LABELS["en"]) == set(LABELS["zh-CN"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_strategy_and_kpi_appears_in_the_reports_language(
    reports: dict[str, str], lang: str
) -> None:
    html = reports[lang]
    suffix = "zh" if lang == "zh-CN" else "en"
    for strategy in STRATEGIES:
        assert strategy[f"title_{suffix}"] in html
        assert strategy["source"] in html
    for kpi in KPIS:
        assert kpi[f"label_{suffix}"] in html
    assert LABELS[lang]["title"] in html  # type: ignore[index]
    other = "en" if lang == "zh-CN" else "zh-CN"
    assert LABELS[other]["kpis.title"] not in html  # type: ignore[index]


def test_kpi_cells_are_formatted_by_unit_with_their_intervals(reports: dict[str, str]) -> None:
    html = reports["en"]
    assert "41.0% (39.0% – 43.0%)" in _cell(html, "kpis", "recovery_rate")
    assert f"¥{display_yuan(123456)}" == "¥1,234.56"
    assert "¥1,234.56 (¥1,224.56 – ¥1,244.56)" in _cell(html, "kpis", "collected")
    assert "1.23 (1.13 – 1.33)" in _cell(html, "kpis", "complaints_per_1000_accounts")
    assert "4.20 (4.10 – 4.30)" in _cell(html, "kpis", "mean_score")
    assert "-1.50 pp (-1.75 pp – -1.25 pp)" in _cell(html, "kpis", "dpd30_change")
    assert "1,234 (1,224 – 1,244)" in _cell(html, "kpis", "accounts_cured")
    assert "¥1,500.00" in _cell(html, "kpis", "collected")  # the third strategy's column


def test_settings_show_the_run_and_the_behaviour_files_short_hash(reports: dict[str, str]) -> None:
    html = reports["en"]
    assert "100,000" in html
    assert "1, 2, 3" in html
    assert "2026-11-27" in html and "duckdb" in html
    assert "abcdef012345" in html and "abcdef0123456789abcdef" not in html
    assert "123.4 s" in html and "41.2 s" in html


def test_differences_are_signed_and_marked_better_or_worse_by_the_kpis_direction(
    reports: dict[str, str],
) -> None:
    html = reports["en"]
    recovery = _cell(html, "differences", "recovery_rate")
    assert "-5.0 pp (-7.0 pp – -3.0 pp)" in recovery
    assert 'data-verdict="worse"' in recovery and 'data-verdict="better"' not in recovery
    complaints = _cell(html, "differences", "complaints_per_1000_accounts")
    assert "-0.73 (-0.93 – -0.53)" in complaints
    assert complaints.index('data-verdict="better"') < complaints.index('data-verdict="worse"')
    assert 'data-verdict="differs"' in _cell(html, "differences", "accounts_cured")
    collected = _cell(html, "differences", "collected")
    assert "-¥234.56" in collected and "+¥265.44" in collected
    assert collected.count("data-verdict") == 1  # the first interval includes 0
    assert "(reference)" in html and "Differences to “Segmented (default programme)”" in html


def test_charts_are_plotly_figures_with_plotly_js_embedded_once(reports: dict[str, str]) -> None:
    for html in reports.values():
        assert html.count(get_plotlyjs()) == 1
        assert html.count("Plotly.newPlot(") == 4  # headline bars and three daily series
        for name in ("headline", "delinquent_accounts", "collected_fen", "complaints"):
            assert f'id="figure-sim-{name}"' in html
    assert '"error_y":{"array":[2.0' in reports["en"].replace(" ", "")  # 43.0% − 41.0%
    assert "Collected, cumulative (yuan)" in reports["en"]


def test_the_ope_table_shows_estimates_in_yuan_and_whether_dr_covers_the_truth(
    reports: dict[str, str],
) -> None:
    html = reports["en"]
    ope = html.split('<section id="ope">', 1)[1].split("</section>", 1)[0]
    assert "prime_early_email" in ope and "sms_and_email" in ope
    assert "20.0%" in ope and "5,321" in ope
    for estimate, value, interval in [
        ("ipw", "¥123.45", "(¥100.00 – ¥146.00)"),
        ("snipw", "¥122.00", "(¥105.00 – ¥139.00)"),
        ("dr", "¥121.00", "(¥110.00 – ¥130.00)"),
        ("truth", "¥120.00", "(¥115.00 – ¥125.00)"),
        ("champion_truth", "¥110.00", "(¥105.00 – ¥115.00)"),
    ]:
        cell = f'<td data-estimate="{estimate}">{value}<span class="detail">{interval}</span></td>'
        assert cell in ope
    assert 'data-covered="yes"' in ope
    assert "真值在 DR 区间内" in reports["zh-CN"]


def test_truth_outside_the_dr_interval_is_flagged() -> None:
    result = _result()
    result["ope"][0]["truth"]["value"] = 14000.0
    html = render_simulation_report(result, lang="zh-CN")
    assert 'data-covered="no"' in html


def test_without_ope_the_section_is_left_out() -> None:
    result = _result()
    del result["ope"]
    html = render_simulation_report(result, lang="en")
    assert 'id="ope"' not in html and LABELS["en"]["nav.ope"] not in html


def test_one_seed_shows_values_without_intervals_and_says_why() -> None:
    html = render_simulation_report(_one_seed(), lang="en")
    assert "intervals need 2+ seeds" in html
    row = _cell(html, "kpis", "recovery_rate")
    assert "41.0%" in row and "–" not in row
    assert "data-verdict" not in html.split('<section id="differences">', 1)[1]
    assert "intervals need 2+ seeds" not in render_simulation_report(_result(), lang="en")


def test_the_report_loads_nothing_from_elsewhere(reports: dict[str, str]) -> None:
    for html in reports.values():
        assert_loads_nothing_from_elsewhere(html)


def test_an_unknown_language_is_refused_naming_lang() -> None:
    with pytest.raises(InvalidInput, match="lang"):
        render_simulation_report(_result(), lang="fr")


@pytest.mark.browser
def test_plotly_draws_every_chart_in_a_browser_without_a_network(
    reports: dict[str, str], tmp_path: Path
) -> None:
    assert_charts_drawn_offline(reports["zh-CN"], tmp_path, charts=4)
