"""The model validation report: one self-contained HTML file per registered model (settings,
LightGBM against the scorecard on train and out-of-time validation, ROC, calibration, score
drift, feature importance, the scorecard's bins).

    model_view(data, lang="zh-CN") -> dict        # every text and figure, from the data
    render_model_report(data, lang="zh-CN") -> str  # the HTML

`data` holds the registry's metadata.json with the validation labels and scores, the training
scores, LightGBM's gain importance and the scorecard's bins; every number comes from it. plotly.js
is embedded once and figures are plotly JSON, through the collections report's figure helpers.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import plotly.graph_objects as go
from sklearn.metrics import roc_curve

from huancui import __version__
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
MODELS: Final = ("lightgbm", "scorecard")
METRICS: Final = ("auc", "gini", "ks", "brier", "psi")
SPLITS: Final = ("train", "validation")
TOP_FEATURES: Final = 15
SCORECARD_ROWS: Final = 60
HASH_CHARS: Final = 12
HISTOGRAM_BIN: Final = 0.05  # probability width of one bar in the score distribution
DIAGONAL: Final = {"color": "#999999", "width": 1, "dash": "dash"}

_ZH: dict[str, str] = {
    "title": "模型验证报告",
    "subtitle": "{target}（{target_key}）· 第 {version} 版 · 创建于 {created}",
    "nav.settings": "训练设置",
    "nav.metrics": "指标",
    "nav.charts": "图表",
    "nav.scorecard": "评分卡",
    "target.pay_30d": "30 天内还款",
    "target.roll": "滚动恶化",
    "target.early_warning": "早期预警",
    "target.ability": "还款能力",
    "target.willingness": "还款意愿",
    "model.lightgbm": "LightGBM",
    "model.scorecard": "评分卡",
    "split.train": "训练集",
    "split.validation": "验证集（跨时间）",
    "settings.title": "训练设置",
    "settings.label": "标签",
    "settings.as_of": "数据截止日",
    "settings.features": "特征数",
    "settings.train_dates": "训练日期",
    "settings.validation_dates": "验证日期",
    "settings.rows": "样本数",
    "settings.positive_share": "正样本占比",
    "settings.data_sha256": "数据 sha256",
    "settings.seed": "随机种子",
    "settings.dates_value": "{first} 至 {last}（{n} 个日期）",
    "settings.split_value": "训练 {train}，验证 {validation}",
    "metrics.title": "模型指标：LightGBM 与评分卡",
    "metrics.metric": "指标",
    "metrics.caption": "验证集为训练日期之后的数据（跨时间验证）。PSI 比较验证集与训练集的分数分布：< 0.1 稳定，0.1–0.2 需关注，> 0.2 已偏移。",
    "metric.auc": "AUC",
    "metric.gini": "Gini",
    "metric.ks": "KS",
    "metric.brier": "Brier 分数",
    "metric.psi": "PSI",
    "charts.title": "图表",
    "charts.roc": "ROC 曲线（验证集）",
    "charts.calibration": "校准：预测概率与实际发生率（验证集，按分数十等分）",
    "charts.distribution": "LightGBM 分数分布：训练集与验证集（PSI {psi}）",
    "charts.importance": "特征重要性（LightGBM 增益，前 {n} 个）",
    "charts.stability": "跨时间稳定性：各月末的 AUC，以及 LightGBM 分数相对训练集的 PSI",
    "axis.month_end": "月末",
    "axis.auc": "AUC",
    "axis.psi": "PSI",
    "axis.fpr": "假阳性率",
    "axis.tpr": "真阳性率",
    "axis.predicted": "平均预测概率",
    "axis.observed": "实际发生率",
    "axis.score": "预测概率",
    "axis.share": "占比",
    "axis.gain": "增益",
    "chance": "随机猜测",
    "perfect": "完全校准",
    "scorecard.title": "评分卡分箱",
    "scorecard.feature": "特征",
    "scorecard.bin": "分箱",
    "scorecard.count": "样本数",
    "scorecard.event_rate": "事件率",
    "scorecard.woe": "WoE",
    "scorecard.points": "分值",
    "scorecard.truncated": "只显示前 {shown} 行，共 {total} 行。",
    "footer": "本报告中的每个数字都来自 huancui {version} 模型注册表中该模型的元数据和验证分数，没有手工录入的数字。",
}

_EN: dict[str, str] = {
    "title": "Model validation report",
    "subtitle": "{target} ({target_key}) · version {version} · created {created}",
    "nav.settings": "Settings",
    "nav.metrics": "Metrics",
    "nav.charts": "Charts",
    "nav.scorecard": "Scorecard",
    "target.pay_30d": "Pays within 30 days",
    "target.roll": "Rolls to a worse bucket",
    "target.early_warning": "Early warning",
    "target.ability": "Ability to pay",
    "target.willingness": "Willingness to pay",
    "model.lightgbm": "LightGBM",
    "model.scorecard": "Scorecard",
    "split.train": "Train",
    "split.validation": "Validation (out of time)",
    "settings.title": "Training settings",
    "settings.label": "Label",
    "settings.as_of": "Data as of",
    "settings.features": "Features",
    "settings.train_dates": "Train dates",
    "settings.validation_dates": "Validation dates",
    "settings.rows": "Rows",
    "settings.positive_share": "Positive share",
    "settings.data_sha256": "Data sha256",
    "settings.seed": "Seed",
    "settings.dates_value": "{first} to {last} ({n} dates)",
    "settings.split_value": "train {train}, validation {validation}",
    "metrics.title": "Metrics: LightGBM and the scorecard",
    "metrics.metric": "Metric",
    "metrics.caption": "Validation rows come after the training dates (out of time). PSI compares validation scores with training scores: < 0.1 stable, 0.1–0.2 watch, > 0.2 shifted.",
    "metric.auc": "AUC",
    "metric.gini": "Gini",
    "metric.ks": "KS",
    "metric.brier": "Brier score",
    "metric.psi": "PSI",
    "charts.title": "Charts",
    "charts.roc": "ROC curves (validation)",
    "charts.calibration": "Calibration: predicted against observed (validation, score deciles)",
    "charts.distribution": "LightGBM score distribution, train against validation (PSI {psi})",
    "charts.importance": "Feature importance (LightGBM gain, top {n})",
    "charts.stability": "Stability over time: AUC per month end, and PSI of LightGBM scores against training",
    "axis.month_end": "Month end",
    "axis.auc": "AUC",
    "axis.psi": "PSI",
    "axis.fpr": "False positive rate",
    "axis.tpr": "True positive rate",
    "axis.predicted": "Mean predicted probability",
    "axis.observed": "Observed rate",
    "axis.score": "Predicted probability",
    "axis.share": "Share",
    "axis.gain": "Gain",
    "chance": "Chance",
    "perfect": "Perfect calibration",
    "scorecard.title": "Scorecard bins",
    "scorecard.feature": "Feature",
    "scorecard.bin": "Bin",
    "scorecard.count": "Count",
    "scorecard.event_rate": "Event rate",
    "scorecard.woe": "WoE",
    "scorecard.points": "Points",
    "scorecard.truncated": "First {shown} of {total} rows shown.",
    "footer": "Every figure in this report comes from this model's metadata and validation scores in the huancui {version} model registry; none was typed in.",
}

LABELS: dict[Language, dict[str, str]] = {"zh-CN": _ZH, "en": _EN}


# --- numbers for people -------------------------------------------------------------------------


def format_metric(value: float | None) -> str:
    """A model metric with three decimals; EMPTY when there is none (PSI of the training set)."""
    return EMPTY if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return EMPTY if value is None else f"{value * 100:.1f}%"


def _count(value: int | None) -> str:
    return EMPTY if value is None else f"{value:,}"


def _feature_label(row: dict[str, Any], lang: Language) -> str:
    return str(row["label_zh"] if lang == "zh-CN" else row["label_en"])


def _observed(calibration_bin: dict[str, Any]) -> float:
    # metrics.calibration writes observed_rate; accept the shorter name a caller may build
    value = calibration_bin.get("observed_rate", calibration_bin.get("observed"))
    return float(value) if value is not None else float("nan")


def _validation_report(metadata: dict[str, Any], model: str, split: str) -> dict[str, Any]:
    report: dict[str, Any] = metadata.get("metrics", {}).get(model, {}).get(split) or {}
    return report


# --- parts of the view --------------------------------------------------------------------------


def _dates(dates: list[str], labels: dict[str, str]) -> str:
    if not dates:
        return EMPTY
    ordered = sorted(str(d) for d in dates)
    return labels["settings.dates_value"].format(first=ordered[0], last=ordered[-1], n=len(dates))


def _settings(metadata: dict[str, Any], labels: dict[str, str]) -> list[dict[str, str]]:
    rows = metadata.get("rows", {})
    shares = metadata.get("positive_share", {})
    sha = metadata.get("data_sha256")
    seed = metadata.get("seed")
    values = [
        ("label", str(metadata.get("label", EMPTY))),
        ("as_of", str(metadata.get("as_of", EMPTY))),
        ("features", _count(len(metadata.get("features", [])))),
        ("train_dates", _dates(metadata.get("train_dates", []), labels)),
        ("validation_dates", _dates(metadata.get("validation_dates", []), labels)),
        (
            "rows",
            labels["settings.split_value"].format(
                train=_count(rows.get("train")), validation=_count(rows.get("validation"))
            ),
        ),
        (
            "positive_share",
            labels["settings.split_value"].format(
                train=_share(shares.get("train")), validation=_share(shares.get("validation"))
            ),
        ),
        ("data_sha256", str(sha)[:HASH_CHARS] if sha else EMPTY),
        ("seed", EMPTY if seed is None else str(seed)),
    ]
    return [{"key": k, "label": labels[f"settings.{k}"], "value": v} for k, v in values]


def _metric_columns(labels: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"model": labels[f"model.{model}"], "split": labels[f"split.{split}"]}
        for model in MODELS
        for split in SPLITS
    ]


def _metric_rows(metadata: dict[str, Any], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "key": metric,
            "label": labels[f"metric.{metric}"],
            "cells": [
                format_metric(_validation_report(metadata, model, split).get(metric))
                for model in MODELS
                for split in SPLITS
            ],
        }
        for metric in METRICS
    ]


def _colour(model: str) -> str:
    return LINE_COLOURS[MODELS.index(model) % len(LINE_COLOURS)]


def _diagonal(name: str) -> go.Scatter:
    return go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=name, line=DIAGONAL, hoverinfo="skip")


def _unit_axis(title: str) -> dict[str, Any]:
    return {"title": {"text": title}, "range": [0, 1], "gridcolor": "#e6e6e6"}


def _roc_figure(data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any] | None:
    """Both models' ROC curves on the validation set; None when it has only one class."""
    outcomes = np.asarray(data["validation"]["labels"], dtype=float)
    if np.unique(outcomes).size < 2:
        return None
    figure = go.Figure(
        layout=chart_layout(
            labels["charts.roc"],
            height=440,
            xaxis=_unit_axis(labels["axis.fpr"]),
            yaxis=_unit_axis(labels["axis.tpr"]),
        )
    )
    for model in MODELS:
        scores = data["validation"].get(model)
        if scores is None:
            continue
        fpr, tpr, _ = roc_curve(outcomes, np.asarray(scores, dtype=float))
        auc = format_metric(_validation_report(data["metadata"], model, "validation").get("auc"))
        figure.add_trace(
            go.Scatter(
                x=fpr.tolist(),
                y=tpr.tolist(),
                mode="lines",
                name=f"{labels[f'model.{model}']} (AUC {auc})",
                line={"color": _colour(model), "width": 2},
            )
        )
    figure.add_trace(_diagonal(labels["chance"]))
    return figure_json(figure)


def _calibration_figure(data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any] | None:
    figure = go.Figure(
        layout=chart_layout(
            labels["charts.calibration"],
            height=440,
            xaxis=_unit_axis(labels["axis.predicted"]),
            yaxis=_unit_axis(labels["axis.observed"]),
        )
    )
    for model in MODELS:
        bins = _validation_report(data["metadata"], model, "validation").get("calibration") or []
        if not bins:
            continue
        figure.add_trace(
            go.Scatter(
                x=[float(b["mean_predicted"]) for b in bins],
                y=[_observed(b) for b in bins],
                customdata=[int(b["count"]) for b in bins],
                mode="lines+markers",
                name=labels[f"model.{model}"],
                line={"color": _colour(model), "width": 2},
                hovertemplate="%{x:.3f} → %{y:.3f} (n=%{customdata:,})<extra></extra>",
            )
        )
    if not figure.data:
        return None
    figure.add_trace(_diagonal(labels["perfect"]))
    return figure_json(figure)


def _distribution_figure(data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any] | None:
    series = [
        ("train", data.get("train_scores", {}).get("lightgbm"), LINE_COLOURS[1]),
        ("validation", data["validation"].get("lightgbm"), LINE_COLOURS[0]),
    ]
    psi = _validation_report(data["metadata"], "lightgbm", "validation").get("psi")
    figure = go.Figure(
        layout=chart_layout(
            labels["charts.distribution"].format(psi=format_metric(psi)),
            barmode="overlay",
            xaxis={"title": {"text": labels["axis.score"]}, "range": [0, 1]},
            yaxis={"title": {"text": labels["axis.share"]}, "gridcolor": "#e6e6e6"},
        )
    )
    for split, scores, colour in series:
        if not scores:
            continue
        figure.add_trace(
            go.Histogram(
                x=[float(s) for s in scores],
                name=labels[f"split.{split}"],
                histnorm="probability",
                xbins={"start": 0, "end": 1, "size": HISTOGRAM_BIN},
                marker={"color": colour},
                opacity=0.6,
            )
        )
    return figure_json(figure) if figure.data else None


def _stability_figure(data: dict[str, Any], labels: dict[str, str]) -> dict[str, Any] | None:
    """AUC of each model per month end (lines) and the PSI against training (bars, right axis);
    models trained before the stability series was recorded have none."""
    series = data["metadata"].get("stability") or []
    if not series:
        return None
    dates = [point["date"] for point in series]
    figure = go.Figure(
        layout=chart_layout(
            labels["charts.stability"],
            xaxis={"title": {"text": labels["axis.month_end"]}, "type": "category"},
            yaxis={
                "title": {"text": labels["axis.auc"]},
                "range": [0.5, 1],
                "gridcolor": "#e6e6e6",
            },
            yaxis2={
                "title": {"text": labels["axis.psi"]},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
        )
    )
    figure.add_trace(
        go.Bar(
            x=dates,
            y=[point["psi"] for point in series],
            name=labels["axis.psi"],
            yaxis="y2",
            marker={"color": "#cccccc"},
            opacity=0.6,
        )
    )
    for model in MODELS:
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=[point["auc"].get(model) for point in series],
                name=labels[f"model.{model}"],
                mode="lines+markers",
                line={"color": _colour(model)},
            )
        )
    return figure_json(figure)


def _importance_figure(
    data: dict[str, Any], lang: Language, labels: dict[str, str]
) -> dict[str, Any] | None:
    top = sorted(data.get("importance", []), key=lambda r: -float(r["gain"]))[:TOP_FEATURES]
    if not top:
        return None
    top.reverse()  # plotly draws the first bar at the bottom; the largest gain goes on top
    figure = go.Figure(
        layout=chart_layout(
            labels["charts.importance"].format(n=len(top)),
            height=max(320, 120 + 26 * len(top)),
            margin={"l": 200, "r": 24, "t": 56, "b": 56},
            showlegend=False,
            xaxis={"title": {"text": labels["axis.gain"]}, "gridcolor": "#e6e6e6"},
            yaxis={"automargin": True},
        )
    )
    figure.add_trace(
        go.Bar(
            x=[float(r["gain"]) for r in top],
            y=[_feature_label(r, lang) for r in top],
            customdata=[r["feature"] for r in top],
            orientation="h",
            marker={"color": LINE_COLOURS[0]},
            hovertemplate="%{customdata}: %{x:,.1f}<extra></extra>",
        )
    )
    return figure_json(figure)


def _scorecard_rows(data: dict[str, Any], lang: Language) -> list[dict[str, str]]:
    return [
        {
            "feature": str(row["feature"]),
            "label": _feature_label(row, lang),
            "bin": str(row["bin"]),
            "count": _count(row.get("count")),
            "event_rate": _share(row.get("event_rate")),
            "woe": format_metric(row.get("woe")),
            "points": EMPTY if row.get("points") is None else f"{row['points']:.1f}",
        }
        for row in data.get("scorecard", [])[:SCORECARD_ROWS]
    ]


# --- the report ---------------------------------------------------------------------------------


def model_view(data: dict[str, Any], *, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Everything the report shows, in `lang`: texts and formatted numbers, figures as plotly
    JSON (None: nothing to draw). Raises InvalidInput for an unknown language."""
    language = report_language(lang)
    labels = LABELS[language]
    metadata = data["metadata"]
    target = str(data["target"])
    scorecard_total = len(data.get("scorecard", []))
    return {
        "lang": language,
        "labels": labels,
        "version": __version__,
        "subtitle": labels["subtitle"].format(
            target=labels.get(f"target.{target}", target),
            target_key=target,
            version=data["version"],
            created=metadata.get("created_at", EMPTY),
        ),
        "settings": _settings(metadata, labels),
        "metric_columns": _metric_columns(labels),
        "metric_rows": _metric_rows(metadata, labels),
        "figures": {
            "roc": _roc_figure(data, labels),
            "calibration": _calibration_figure(data, labels),
            "distribution": _distribution_figure(data, labels),
            "importance": _importance_figure(data, language, labels),
            "stability": _stability_figure(data, labels),
        },
        "scorecard": _scorecard_rows(data, language),
        "scorecard_truncated": (
            labels["scorecard.truncated"].format(shown=SCORECARD_ROWS, total=scorecard_total)
            if scorecard_total > SCORECARD_ROWS
            else ""
        ),
        "footer": labels["footer"].format(version=__version__),
    }


def render_model_report(data: dict[str, Any], *, lang: str = DEFAULT_LANGUAGE) -> str:
    """One model's validation report as a self-contained HTML document in `lang` ("zh-CN" or
    "en"): plotly.js once, inline; nothing fetched. Raises InvalidInput for any other language."""
    return render_offline(
        "huancui.analytics",
        "model_report.html.j2",
        model_view(data, lang=lang),
        figure_prefix="model-",
    )
