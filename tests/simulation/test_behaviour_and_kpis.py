"""The behaviour model file and the KPI summaries (intervals across seeds, paired differences)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from huancui.kit.errors import InvalidInput
from huancui.simulation.behaviour import SHIPPED, load_behaviour
from huancui.simulation.kpis import KPI_KEYS, KPIS, interval, summarise


def test_the_shipped_model_loads_and_cites_every_source_it_lists() -> None:
    loaded = load_behaviour()
    assert loaded.behaviour.version == 1
    assert len(loaded.sha256) == 64
    text = SHIPPED.read_text(encoding="utf-8")
    sources = yaml.safe_load(text)["sources"]
    assert len(sources) >= 5
    body = text.split("\nreach:", 1)[1]
    for key in sources:
        assert f"[{key}]" in body, f"{key} is listed but never cited"
    # Every section says where its numbers come from.
    for section in ("reach", "salience", "pressure", "payment", "conversation", "hardship",
                    "complaints", "goodwill", "attrition", "satisfaction"):  # fmt: skip
        before = text.split(f"\n{section}:", 1)[0].rsplit("\n\n", 1)[-1]
        assert re.search(r"ASSUMPTION|\[S\d+\]|CALIBRATED|world", before), section


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("payment", "ability_weight", "lots"), "payment.ability_weight"),
        (("reach", "sms_delivered", 1.5), "reach.sms_delivered"),
        (("hardship", "pause_days", 0), "hardship.pause_days"),
        (("complaints", "surprise", 1), "complaints.surprise"),
    ],
)
def test_a_bad_model_names_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str, object], field: str
) -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    section, key, value = change
    data[section][key] = value
    path = tmp_path / "behaviour.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_behaviour(path)
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_score_probabilities_must_sum_to_one(tmp_path: Path) -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["satisfaction"]["score_probabilities"] = [0.2, 0.2, 0.2, 0.2, 0.1]
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InvalidInput, match="sum to 1"):
        load_behaviour(path)


def test_the_interval_is_students_t_across_seeds() -> None:
    values = [0.40, 0.42, 0.47]
    summary = interval(values)
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["low"] == pytest.approx(np.mean(values) - half)
    assert summary["high"] == pytest.approx(np.mean(values) + half)
    one = interval([0.5])
    assert one["mean"] == 0.5 and one["low"] is None and one["high"] is None
    assert interval([None, None])["mean"] is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=2, max_size=8))
def test_differences_are_paired_by_seed(pairs: list[tuple[float, float]]) -> None:
    """The difference of B from A is the interval of the per-seed differences, not of the
    difference of two independent means."""
    per_run = {
        "a": {seed: dict.fromkeys(KPI_KEYS, a) for seed, (a, _) in enumerate(pairs)},
        "b": {seed: dict.fromkeys(KPI_KEYS, b) for seed, (_, b) in enumerate(pairs)},
    }
    results, differences = summarise(per_run, ["a", "b"])
    diffs = [b - a for a, b in pairs]
    got = differences["b"]["recovery_rate"]
    assert got["per_seed"] == pytest.approx(diffs)
    assert got["mean"] == pytest.approx(np.mean(diffs), abs=1e-6)
    assert got["low"] <= got["mean"] + 1e-9 <= got["high"] + 2e-9
    assert results["a"]["collected"]["mean"] == pytest.approx(np.mean([a for a, _ in pairs]))
    assert set(differences) == {"b"}


def test_every_kpi_is_labelled_in_both_languages() -> None:
    assert len({k.key for k in KPIS}) == len(KPIS)
    for kpi in KPIS:
        assert (
            kpi.label_en and kpi.label_zh and kpi.unit and kpi.better in ("higher", "lower", "none")
        )
