"""The account 360 chart: snapshots' days past due, and the buckets of the delivered history."""

from __future__ import annotations

from typing import Any

from huancui.web.charts import dpd_history_figure


def _t(key: str, **_: Any) -> str:
    return key


def test_the_bucket_line_steps_through_each_spells_fewest_days_past_due() -> None:
    history = [{"as_of": "2026-11-27", "days_past_due": 75, "amount_overdue_fen": 123_45}]
    spells = [
        {"bucket": "M1", "event": "entered", "started_on": "2026-09-13", "ended_on": "2026-10-13"},
        {"bucket": "M2", "event": "rolled_forward", "started_on": "2026-10-13",
         "ended_on": "2026-11-12"},
        {"bucket": "M3", "event": "rolled_forward", "started_on": "2026-11-12", "ended_on": None},
    ]  # fmt: skip
    figure = dpd_history_figure(history, _t, spells)
    assert figure is not None
    (line,) = [trace for trace in figure["data"] if trace["name"] == "collector.chart.bucket"]
    assert line["y"] == [1, 1, 31, 31, 61, 61]
    assert line["x"][-1] == "2026-11-27"  # the open spell runs to the newest snapshot
    assert figure["layout"]["xaxis"]["range"][0] < "2026-09-13"  # the axis shows the history


def test_without_spells_the_chart_has_the_snapshots_only() -> None:
    history = [{"as_of": "2026-11-27", "days_past_due": 5, "amount_overdue_fen": 100}]
    figure = dpd_history_figure(history, _t)
    assert figure is not None
    assert [trace["name"] for trace in figure["data"]] == [
        "collector.chart.dpd",
        "collector.chart.overdue",
    ]
    assert dpd_history_figure([], _t) is None
