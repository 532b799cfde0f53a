"""The simulator's report: one self-contained HTML file comparing strategies run in the simulator
(settings, KPIs with seed intervals, paired differences, charts, off-policy checks).

    simulation_view(result, lang="zh-CN") -> dict      # every text and figure, from the result
    render_simulation_report(result, lang="zh-CN") -> str  # the HTML

Every number comes from the result dict of `runner.simulate` (docs/simulation.md); none is typed
in. plotly.js is embedded once and figures are plotly JSON, as in the collections report, whose
figure helpers this module reuses.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from huancui import __version__
from huancui.kit.errors import InvalidInput
from huancui.kit.money import display_yuan, round_half_up
from huancui.monitoring.experiments import Language
from huancui.monitoring.report import (
    EMPTY,
    LINE_COLOURS,
    chart_layout,
    figure_json,
    render_offline,
    report_language,
)

DEFAULT_LANGUAGE: Final[Language] = "zh-CN"

# The bar chart's KPIs, in order, where the result has them.
HEADLINE_KPIS: Final = (
    "recovery_rate",
    "cure_rate",
    "complaints_per_1000_accounts",
    "csat",
    "attrition_rate",
    "cost_to_collect",
)
# Daily series drawn per strategy: (series key, label key, fen → yuan).
DAILY_SERIES: Final = (
    ("delinquent_accounts", "daily.delinquent_accounts", False),
    ("collected_fen", "daily.collected", True),
    ("complaints", "daily.complaints", False),
)
DAY_MS: Final = 86_400_000
DAILY_TICKS: Final = 10  # at most about this many date ticks on a daily chart
STRATEGY_COLOURS: Final = (*LINE_COLOURS, "#e0692b", "#8e5bb5", "#c8382c", "#777777")

_ZH: dict[str, str] = {
    "title": "策略模拟报告",
    "subtitle": "缓催 huancui 闭环策略模拟：各策略在同一批模拟客户上的对比",
    "colon": "：",
    "nav.settings": "模拟设置",
    "nav.strategies": "策略",
    "nav.kpis": "指标",
    "nav.differences": "差异",
    "nav.charts": "图表",
    "nav.ope": "离线评估",
    "settings.title": "模拟设置",
    "settings.accounts": "账户数",
    "settings.days": "模拟天数",
    "settings.seeds": "随机种子",
    "settings.start": "起始日期",
    "settings.engine": "引擎",
    "settings.pack": "合规规则包",
    "settings.behaviour": "客户行为模型",
    "settings.seconds": "运行时间",
    "settings.seconds_value": "共 {total} 秒，每次运行平均 {per_run} 秒",
    "strategies.title": "参与对比的策略",
    "strategies.name": "策略",
    "strategies.id": "名称",
    "strategies.source": "来源文件",
    "strategies.reference": "（对照基准）",
    "kpis.title": "核心指标（各种子平均值与 95% 置信区间）",
    "kpis.kpi": "指标",
    "kpis.caption": "每格为 {n} 个随机种子的平均值，括号内为跨种子的 95% t 区间。",
    "kpis.one_seed": "只有 1 个随机种子：只显示数值；置信区间需要至少 2 个种子。",
    "differences.title": "与「{reference}」的差异（同一种子配对）",
    "differences.caption": "差异 = 该策略 − 对照策略，按相同随机种子配对；比率的差异以百分点表示。标记：区间不含 0。",
    "differences.none": "只有一个策略，没有可比较的差异。",
    "better": "更好",
    "worse": "更差",
    "differs": "有差异",
    "charts.title": "图表",
    "charts.headline": "主要指标（误差线为 95% 置信区间）",
    "daily.delinquent_accounts": "每日逾期账户数",
    "daily.collected": "累计回收金额（元）",
    "daily.complaints": "累计投诉数",
    "daily.axis_day": "日期",
    "ope.title": "离线策略评估（OPE）与模拟真值对比",
    "ope.caption": "用冠军策略的记录数据估计挑战组的效果（IPW、SNIPW、DR），再与把该组给所有人时模拟得到的真值比较。",
    "ope.strategy": "策略",
    "ope.experiment": "实验",
    "ope.arm": "组",
    "ope.metric": "指标",
    "ope.logged_share": "记录中占比",
    "ope.n": "样本数",
    "ope.ipw": "IPW",
    "ope.snipw": "SNIPW",
    "ope.dr": "DR（双重稳健）",
    "ope.truth": "模拟真值",
    "ope.champion_truth": "冠军组真值",
    "ope.truth_in_dr": "真值在 DR 区间内",
    "ope.metric.recovered_30d_fen": "每户 30 天内回收金额",
    "yes": "是",
    "no": "否",
    "footer": "本报告中的每个数字都来自 huancui {version} 的模拟结果（`huancui simulate --json` 给出同样的数字），没有手工录入的数字。",
}

_EN: dict[str, str] = {
    "title": "Strategy simulation report",
    "subtitle": "huancui (缓催) closed-loop simulation: strategies compared on the same simulated book",
    "colon": ": ",
    "nav.settings": "Settings",
    "nav.strategies": "Strategies",
    "nav.kpis": "KPIs",
    "nav.differences": "Differences",
    "nav.charts": "Charts",
    "nav.ope": "Off-policy evaluation",
    "settings.title": "Simulation settings",
    "settings.accounts": "Accounts",
    "settings.days": "Days simulated",
    "settings.seeds": "Seeds",
    "settings.start": "Start date",
    "settings.engine": "Engine",
    "settings.pack": "Compliance pack",
    "settings.behaviour": "Behaviour model",
    "settings.seconds": "Run time",
    "settings.seconds_value": "{total} s in all, {per_run} s per run on average",
    "strategies.title": "Strategies compared",
    "strategies.name": "Strategy",
    "strategies.id": "Name",
    "strategies.source": "Source",
    "strategies.reference": " (reference)",
    "kpis.title": "KPIs (mean across seeds, 95% interval)",
    "kpis.kpi": "KPI",
    "kpis.caption": "Each cell is the mean of {n} seeds with the 95% t-interval across seeds in brackets.",
    "kpis.one_seed": "One seed only: values without intervals; intervals need 2+ seeds.",
    "differences.title": "Differences to “{reference}” (paired by seed)",
    "differences.caption": "Difference = strategy − reference, paired on the same seed; differences of rates are in percentage points. Marked: the interval excludes 0.",
    "differences.none": "Only one strategy: nothing to compare.",
    "better": "better",
    "worse": "worse",
    "differs": "differs",
    "charts.title": "Charts",
    "charts.headline": "Headline KPIs (error bars: 95% interval)",
    "daily.delinquent_accounts": "Delinquent accounts per day",
    "daily.collected": "Collected, cumulative (yuan)",
    "daily.complaints": "Complaints, cumulative",
    "daily.axis_day": "day",
    "ope.title": "Off-policy evaluation (OPE) against the simulator's truth",
    "ope.caption": "Each challenger arm estimated from the champion's logged data (IPW, SNIPW, DR), then compared with the simulator run giving that arm to everyone.",
    "ope.strategy": "Strategy",
    "ope.experiment": "Experiment",
    "ope.arm": "Arm",
    "ope.metric": "Metric",
    "ope.logged_share": "Logged share",
    "ope.n": "n",
    "ope.ipw": "IPW",
    "ope.snipw": "SNIPW",
    "ope.dr": "DR (doubly robust)",
    "ope.truth": "Simulator truth",
    "ope.champion_truth": "Champion truth",
    "ope.truth_in_dr": "Truth in DR interval",
    "ope.metric.recovered_30d_fen": "Recovered per account within 30 days",
    "yes": "yes",
    "no": "no",
    "footer": "Every figure in this report comes from a huancui {version} simulation result (`huancui simulate --json` prints the same numbers); none was typed in.",
}

LABELS: dict[Language, dict[str, str]] = {"zh-CN": _ZH, "en": _EN}


# --- numbers for people -------------------------------------------------------------------------


def _yuan(fen: float, *, signed: bool) -> str:
    """Fen (a mean across seeds may be fractional) as '¥1,234.56', rounded half-up to the fen."""
    whole_fen = round_half_up(Decimal(str(fen)))
    sign = "-" if whole_fen < 0 else "+" if signed and whole_fen > 0 else ""
    return f"{sign}¥{display_yuan(abs(whole_fen))}"


def format_value(value: float | None, unit: str, *, difference: bool = False) -> str:
    """One number in its unit: a rate as a percentage (a difference of rates in percentage
    points), money in yuan, per-1000 and mean scores with two decimals, points signed, counts
    whole. Differences carry their sign."""
    if value is None:
        return EMPTY
    sign = "+" if difference else ""
    if unit == "rate":
        return f"{value * 100:+.1f} pp" if difference else f"{value * 100:.1f}%"
    if unit == "money":
        return _yuan(value, signed=difference)
    if unit in ("per_1000", "mean"):
        return f"{value:{sign},.2f}"
    if unit == "points":
        return f"{value:+.2f} pp"
    if unit == "count":
        return f"{round(value):{sign},}"
    raise InvalidInput(f"KPI unit {unit!r}: use rate, money, per_1000, mean, points or count")


def format_interval(summary: dict[str, Any], unit: str, *, difference: bool = False) -> str:
    """'(low – high)', or '' without an interval (one seed)."""
    low, high = summary.get("low"), summary.get("high")
    if low is None or high is None:
        return ""
    low_text = format_value(low, unit, difference=difference)
    high_text = format_value(high, unit, difference=difference)
    return f"({low_text} – {high_text})"


def format_summary(summary: dict[str, Any], unit: str, *, difference: bool = False) -> str:
    """'mean (low – high)', or the mean alone when there is no interval (one seed)."""
    mean = format_value(summary["mean"], unit, difference=difference)
    interval = format_interval(summary, unit, difference=difference)
    return f"{mean} {interval}" if interval else mean


def _verdict(summary: dict[str, Any], better: str) -> str | None:
    """'better', 'worse' or 'differs' when the interval excludes 0; None otherwise."""
    low, high = summary.get("low"), summary.get("high")
    if low is None or high is None or low <= 0 <= high:
        return None
    if better not in ("higher", "lower"):
        return "differs"
    return "better" if (low > 0) == (better == "higher") else "worse"


def _chart_value(value: float, unit: str) -> float:
    """A value on a chart axis: rates in percent, money in yuan, the rest as is."""
    if unit == "rate":
        return value * 100
    if unit == "money":
        return value / 100
    return value


# --- parts of the view --------------------------------------------------------------------------


def _title(strategy: dict[str, Any], lang: Language) -> str:
    return str(strategy["title_zh"] if lang == "zh-CN" else strategy["title_en"])


def _kpi_label(kpi: dict[str, Any], lang: Language) -> str:
    return str(kpi["label_zh"] if lang == "zh-CN" else kpi["label_en"])


def _settings(simulation: dict[str, Any], labels: dict[str, str]) -> list[dict[str, str]]:
    behaviour = simulation["behaviour"]
    seconds = simulation["seconds"]
    rows = [
        ("accounts", f"{simulation['accounts']:,}"),
        ("days", f"{simulation['days']:,}"),
        ("seeds", ", ".join(str(s) for s in simulation["seeds"])),
        ("start", str(simulation["start"])),
        ("engine", str(simulation["engine"])),
        ("pack", str(simulation["pack"])),
        ("behaviour", f"{behaviour['file']} (sha256 {str(behaviour['sha256'])[:12]})"),
        (
            "seconds",
            labels["settings.seconds_value"].format(
                total=f"{seconds['total']:,.1f}", per_run=f"{seconds['per_run_mean']:,.1f}"
            ),
        ),
    ]
    return [{"key": k, "label": labels[f"settings.{k}"], "value": v} for k, v in rows]


def _kpi_rows(result: dict[str, Any], lang: Language) -> list[dict[str, Any]]:
    return [
        {
            "key": kpi["key"],
            "label": _kpi_label(kpi, lang),
            "cells": [
                format_summary(result["results"][s["name"]][kpi["key"]], kpi["unit"])
                if kpi["key"] in result["results"][s["name"]]
                else EMPTY
                for s in result["strategies"]
            ],
        }
        for kpi in result["kpis"]
    ]


def _difference_cell(summary: dict[str, Any] | None, kpi: dict[str, Any]) -> dict[str, Any]:
    if summary is None:
        return {"text": EMPTY, "verdict": None}
    return {
        "text": format_summary(summary, kpi["unit"], difference=True),
        "verdict": _verdict(summary, kpi["better"]),
    }


def _difference_rows(result: dict[str, Any], lang: Language) -> list[dict[str, Any]]:
    challengers = [s["name"] for s in result["strategies"][1:]]
    differences = result["differences"]
    return [
        {
            "key": kpi["key"],
            "label": _kpi_label(kpi, lang),
            "cells": [
                _difference_cell(differences.get(name, {}).get(kpi["key"]), kpi)
                for name in challengers
            ],
        }
        for kpi in result["kpis"]
    ]


def _colour(index: int) -> str:
    return STRATEGY_COLOURS[index % len(STRATEGY_COLOURS)]


def _headline_figure(
    result: dict[str, Any], lang: Language, labels: dict[str, str]
) -> dict[str, Any] | None:
    """One panel per headline KPI (their units differ), one bar per strategy with its interval."""
    kpis = [k for key in HEADLINE_KPIS for k in result["kpis"] if k["key"] == key]
    if not kpis:
        return None
    figure = make_subplots(
        rows=1, cols=len(kpis), subplot_titles=[_kpi_label(k, lang) for k in kpis]
    )
    for i, strategy in enumerate(result["strategies"]):
        summaries = result["results"][strategy["name"]]
        for column, kpi in enumerate(kpis, start=1):
            summary = summaries.get(kpi["key"])
            if summary is None:
                continue
            mean = _chart_value(summary["mean"], kpi["unit"])
            has_interval = summary.get("low") is not None and summary.get("high") is not None
            error = (
                {
                    "type": "data",
                    "symmetric": False,
                    "array": [_chart_value(summary["high"], kpi["unit"]) - mean],
                    "arrayminus": [mean - _chart_value(summary["low"], kpi["unit"])],
                }
                if has_interval
                else {"visible": False}
            )
            figure.add_trace(
                go.Bar(
                    x=[_title(strategy, lang)],
                    y=[mean],
                    error_y=error,
                    name=_title(strategy, lang),
                    legendgroup=strategy["name"],
                    showlegend=column == 1,
                    marker={"color": _colour(i)},
                    hovertemplate=f"{format_summary(summary, kpi['unit'])}<extra></extra>",
                ),
                row=1,
                col=column,
            )
    for column, kpi in enumerate(kpis, start=1):
        figure.update_yaxes(
            ticksuffix="%" if kpi["unit"] == "rate" else "",
            tickprefix="¥" if kpi["unit"] == "money" else "",
            rangemode="tozero",
            gridcolor="#e6e6e6",
            row=1,
            col=column,
        )
    figure.update_xaxes(showticklabels=False)
    figure.update_layout(
        chart_layout(
            labels["charts.headline"], height=400, margin={"l": 48, "r": 24, "t": 88, "b": 48}
        )
    )
    return figure_json(figure)


def _daily_figure(
    result: dict[str, Any],
    lang: Language,
    labels: dict[str, str],
    *,
    series: str,
    label: str,
    yuan: bool,
) -> dict[str, Any] | None:
    days = max((len(d.get("day", [])) for d in result["daily"].values()), default=0)
    figure = go.Figure(
        layout=chart_layout(
            labels[label],
            hovermode="x unified",
            # whole days only: plotly would put ticks at noon on a short run
            xaxis={
                "type": "date",
                "tickformat": "%Y-%m-%d",
                "dtick": DAY_MS * max(1, math.ceil(days / DAILY_TICKS)),
                "gridcolor": "#f0f0f0",
            },
            yaxis={"rangemode": "tozero", "gridcolor": "#e6e6e6"},
        )
    )
    for i, strategy in enumerate(result["strategies"]):
        daily = result["daily"].get(strategy["name"])
        if not daily or series not in daily:
            continue
        values = [v / 100 if yuan else v for v in daily[series]]
        figure.add_trace(
            go.Scatter(
                x=daily["day"],
                y=values,
                name=_title(strategy, lang),
                mode="lines",
                line={"color": _colour(i), "width": 2},
                hovertemplate="%{y:,.2f}" if yuan else "%{y:,.0f}",
            )
        )
    return figure_json(figure) if figure.data else None


def _estimate(estimate: dict[str, Any] | None, unit: str) -> dict[str, str]:
    """An estimate's value and, below it in the table, its interval."""
    if estimate is None:
        return {"value": EMPTY, "interval": ""}
    return {
        "value": format_value(estimate["value"], unit),
        "interval": format_interval(estimate, unit),
    }


def _ope_rows(
    result: dict[str, Any], lang: Language, labels: dict[str, str]
) -> list[dict[str, Any]]:
    titles = {s["name"]: _title(s, lang) for s in result["strategies"]}
    rows = []
    for row in result.get("ope") or []:
        if "skipped" in row:  # too few logged accounts: the CLI says why
            continue
        metric = str(row["metric"])
        unit = "money" if metric.endswith("_fen") else "mean"
        dr, truth = row["dr"], row["truth"]
        covered = (
            dr.get("low") is not None
            and dr.get("high") is not None
            and truth.get("value") is not None
            and dr["low"] <= truth["value"] <= dr["high"]
        )
        rows.append(
            {
                "strategy": titles.get(row["strategy"], row["strategy"]),
                "experiment": row["experiment"],
                "arm": row["arm"],
                "metric": labels.get(f"ope.metric.{metric}", metric),
                "logged_share": format_value(row["logged_share"], "rate"),
                "n": format_value(row["n"], "count"),
                "ipw": _estimate(row.get("ipw"), unit),
                "snipw": _estimate(row.get("snipw"), unit),
                "dr": _estimate(dr, unit),
                "truth": _estimate(truth, unit),
                "champion_truth": _estimate(row.get("champion_truth"), unit),
                "covered": covered,
                "truth_in_dr": labels["yes" if covered else "no"],
            }
        )
    return rows


# --- the report ---------------------------------------------------------------------------------


def simulation_view(result: dict[str, Any], *, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Everything the report shows, in `lang`: texts and formatted numbers, figures as plotly
    JSON (None: nothing to draw). Raises InvalidInput for an unknown language."""
    language = report_language(lang)
    labels = LABELS[language]
    strategies = result["strategies"]
    seeds = result["simulation"]["seeds"]
    reference = _title(strategies[0], language)
    return {
        "lang": language,
        "labels": labels,
        "version": __version__,
        "settings": _settings(result["simulation"], labels),
        "strategies": [
            {
                "name": s["name"],
                "title": _title(s, language),
                "source": s["source"],
                "reference": i == 0,
            }
            for i, s in enumerate(strategies)
        ],
        "one_seed": len(seeds) < 2,
        "kpi_caption": labels["kpis.caption"].format(n=len(seeds)),
        "kpi_rows": _kpi_rows(result, language),
        "differences_title": labels["differences.title"].format(reference=reference),
        "challengers": [_title(s, language) for s in strategies[1:]],
        "difference_rows": _difference_rows(result, language),
        "figures": {
            "headline": _headline_figure(result, language, labels),
            **{
                series: _daily_figure(result, language, labels, series=series, label=key, yuan=yuan)
                for series, key, yuan in DAILY_SERIES
            },
        },
        "ope": _ope_rows(result, language, labels),
        "footer": labels["footer"].format(version=__version__),
    }


def render_simulation_report(result: dict[str, Any], *, lang: str = DEFAULT_LANGUAGE) -> str:
    """The simulation result as one self-contained HTML document in `lang` ("zh-CN" or "en"):
    plotly.js once, inline; nothing fetched. Raises InvalidInput for any other language."""
    return render_offline(
        "huancui.simulation",
        "simulation_report.html.j2",
        simulation_view(result, lang=lang),
        figure_prefix="sim-",
    )
