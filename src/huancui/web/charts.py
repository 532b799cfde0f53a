"""Figures for the workbench pages as plotly JSON (drawn in the browser by plotly.js, served
from the installed plotly package): an account's days-past-due history."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from huancui.kit.money import format_yuan

# Shown without plotly's toolbar and logo; resizes with the page (phones).
CONFIG: dict[str, Any] = {"displayModeBar": False, "responsive": True}


def _bucket_floor(bucket: str) -> int | None:
    """The fewest days past due of a bucket: M0 0, M1 1, M2 31, ... (None: not an M bucket)."""
    digits = bucket[1:] if bucket[:1] == "M" else ""
    if not digits.isdigit():
        return None
    return 0 if digits == "0" else 30 * (int(digits) - 1) + 1


def _bucket_steps(
    spells: Sequence[dict[str, Any]], until: date
) -> tuple[list[str], list[int], list[str]]:
    """A step line through the spells: each bucket's least days past due from its start to its
    end (or `until`), with the bucket as hover text."""
    xs: list[str] = []
    ys: list[int] = []
    labels: list[str] = []
    for spell in spells:
        floor = _bucket_floor(str(spell["bucket"]))
        if floor is None:
            continue
        end = spell["ended_on"] or until.isoformat()
        for day in (spell["started_on"], end):
            xs.append(day)
            ys.append(floor)
            labels.append(f"{spell['bucket']} ({spell['event']})")
    return xs, ys, labels


def dpd_history_figure(
    history: Sequence[dict[str, Any]],
    t: Callable[..., str],
    spells: Sequence[dict[str, Any]] = (),
) -> dict[str, Any] | None:
    """Days past due (bars) and the amount overdue (line, right axis) per snapshot, from
    account_360's `dpd_history`, and the delinquency buckets over the delivered history (a
    step line at each bucket's least days past due, from `bucket_history`); None when there
    is nothing to draw."""
    if not history:
        return None
    days = [point["as_of"] for point in history]
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    steps = _bucket_steps(spells, last)
    if steps[0]:
        first = min(first, date.fromisoformat(steps[0][0]))
    # At least a month wide: one or two snapshots would otherwise zoom to milliseconds.
    pad = max(timedelta(days=3), (timedelta(days=30) - (last - first)) / 2)
    figure = go.Figure()
    figure.add_bar(
        x=days,
        y=[point["days_past_due"] for point in history],
        name=t("collector.chart.dpd"),
        marker_color="#0b6e4f",
    )
    if steps[0]:
        figure.add_scatter(
            x=steps[0],
            y=steps[1],
            text=steps[2],
            name=t("collector.chart.bucket"),
            mode="lines",
            line={"color": "#5a6b7b", "shape": "hv", "dash": "dot"},
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    figure.add_scatter(
        x=days,
        y=[float(format_yuan(point["amount_overdue_fen"] or 0)) for point in history],
        name=t("collector.chart.overdue"),
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#b44d12"},
    )
    figure.update_layout(
        margin={"l": 48, "r": 56, "t": 16, "b": 40},
        height=280,
        legend={"orientation": "h", "y": -0.2},
        xaxis={
            "type": "date",
            "title": None,
            "tickformat": "%Y-%m-%d",
            "range": [(first - pad).isoformat(), (last + pad).isoformat()],
        },
        yaxis={"title": t("collector.chart.dpd"), "rangemode": "tozero"},
        yaxis2={
            "title": t("collector.chart.overdue"),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
    )
    found: dict[str, Any] = json.loads(pio.to_json(figure, validate=False))
    return found
