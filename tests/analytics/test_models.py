"""Models, validation report and registry on synthetic data with a known signal (real libraries)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from huancui.analytics import registry
from huancui.analytics.metrics import psi, stability_series, validation_report
from huancui.analytics.models import TrainedPair, predict, reasons, train_models
from huancui.kit.errors import InvalidInput, NotFound

FEATURES = ("arrears", "on_time_share", "utilisation", "noise_a", "noise_b")
# The label is logistic in the first three features; arrears drives it most.
WEIGHTS = np.array([2.0, -1.2, 0.8, 0.0, 0.0])


@dataclass(frozen=True)
class Label:
    name: str
    label_en: str
    label_zh: str
    higher_means_en: str
    higher_means_zh: str


LABELS = [
    Label(name, f"{name} label", f"{name}标签", f"more {name}", f"{name}较高") for name in FEATURES
]


def synthetic(rows: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, len(FEATURES)))
    y = (rng.random(rows) < 1 / (1 + np.exp(-(values @ WEIGHTS - 0.5)))).astype(np.int8)
    columns = {}
    for index, name in enumerate(FEATURES):
        present = rng.random(rows) >= 0.08  # 8% nulls in every feature
        columns[name] = pa.array(values[:, index], type=pa.float64(), mask=~present)
    return pa.table({"account_id": np.arange(rows), **columns}), y


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pa.Table, np.ndarray]]:
    return {"train": synthetic(5000, seed=1), "test": synthetic(2000, seed=2)}


@pytest.fixture(scope="module")
def pair(data: dict[str, tuple[pa.Table, np.ndarray]]) -> TrainedPair:
    X, y = data["train"]
    return train_models(X, y, features=FEATURES, seed=7)


def test_both_models_find_the_signal_on_held_out_rows_and_beat_shuffled_labels(
    data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair
) -> None:
    X, y = data["train"]
    X_test, y_test = data["test"]
    shuffled = train_models(X, np.random.default_rng(3).permutation(y), features=FEATURES, seed=7)
    real, null = predict(pair, X_test), predict(shuffled, X_test)
    for model in ("lightgbm", "scorecard"):
        auc = validation_report(y_test, real[model])["auc"]
        assert auc > 0.75, (model, auc)
        assert auc > validation_report(y_test, null[model])["auc"] + 0.15, model
        assert ((real[model] >= 0) & (real[model] <= 1)).all()


def test_training_is_deterministic_for_a_seed(
    data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair
) -> None:
    X, y = data["train"]
    again = train_models(X, y, features=FEATURES, seed=7)
    first, second = predict(pair, data["test"][0]), predict(again, data["test"][0])
    assert np.array_equal(first["lightgbm"], second["lightgbm"])
    assert np.array_equal(first["scorecard"], second["scorecard"])


def test_an_out_of_time_validation_set_stops_lightgbm_early(
    data: dict[str, tuple[pa.Table, np.ndarray]],
) -> None:
    X, y = data["train"]
    stopped = train_models(X, y, features=FEATURES, seed=7, validation=data["test"])
    assert stopped.booster.current_iteration() < 200


def test_training_refuses_labels_that_do_not_match_the_rows(
    data: dict[str, tuple[pa.Table, np.ndarray]],
) -> None:
    X, y = data["train"]
    with pytest.raises(InvalidInput, match=r"^y:"):
        train_models(X, y[:-1], features=FEATURES, seed=7)
    with pytest.raises(InvalidInput, match=r"^X:.*missing"):
        train_models(X, y, features=(*FEATURES, "income"), seed=7)


def test_the_stability_series_measures_each_month_and_sees_a_drift() -> None:
    rng = np.random.default_rng(8)
    train = rng.beta(2, 5, size=3000)
    months = np.repeat(["2026-08-31", "2026-09-30", "2026-07-31"], 1000)
    scores = train.copy()
    scores[1000:2000] = rng.beta(5, 2, size=1000)  # September drifts
    labels = (rng.random(3000) < scores).astype(int)
    labels[2000] = 1 - labels[2000]
    series = stability_series(months, labels, {"lightgbm": scores, "scorecard": 1 - scores}, train)
    assert [p["date"] for p in series] == ["2026-07-31", "2026-08-31", "2026-09-30"]
    assert [p["rows"] for p in series] == [1000, 1000, 1000]
    july = validation_report(labels[2000:], scores[2000:])
    assert series[0]["auc"]["lightgbm"] == pytest.approx(july["auc"])
    assert series[0]["auc"]["scorecard"] == pytest.approx(1 - july["auc"])
    assert series[1]["psi"] < 0.1 < 0.2 < series[2]["psi"]
    one_class = stability_series(
        np.array(["a", "a", "b", "b"]), np.array([1, 1, 0, 1]), {"m": scores[:4]}, train
    )
    assert one_class[0]["auc"] == {"m": None} and one_class[1]["auc"]["m"] is not None


@pytest.mark.parametrize("model", ["lightgbm", "scorecard"])
def test_reasons_name_the_strongest_driver_for_high_risk_rows_in_both_languages(
    data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair, model: str
) -> None:
    X_test, _ = data["test"]
    p = predict(pair, X_test)[model]
    riskiest = np.argsort(p)[-200:]
    high_risk = X_test.take(pa.array(riskiest))
    english = reasons(pair, high_risk, LABELS, "en", towards=1, model=model)
    chinese = reasons(pair, high_risk, LABELS, "zh-CN", towards=1, model=model)
    assert all(len(row) == 3 for row in english + chinese)
    assert Counter(row[0] for row in english).most_common(1)[0][0] == "more arrears"
    assert Counter(row[0] for row in chinese).most_common(1)[0][0] == "arrears较高"


def test_reasons_towards_the_other_label_explain_the_safest_rows(
    data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair
) -> None:
    X_test, _ = data["test"]
    safest = X_test.take(pa.array(np.argsort(predict(pair, X_test)["lightgbm"])[:200]))
    first = Counter(row[0] for row in reasons(pair, safest, LABELS, "en", towards=0))
    assert first.most_common(1)[0][0] == "arrears label: low"


def test_reasons_refuse_an_unknown_language_and_direction(
    data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair
) -> None:
    X_test, _ = data["test"]
    with pytest.raises(InvalidInput, match=r"^lang:"):
        reasons(pair, X_test, LABELS, "fr")
    with pytest.raises(InvalidInput, match=r"^towards:"):
        reasons(pair, X_test, LABELS, "en", towards=2)
    with pytest.raises(InvalidInput, match=r"^features:"):
        reasons(pair, X_test, LABELS[:2], "en")


def test_perfect_separation_gives_auc_and_ks_of_one() -> None:
    report = validation_report(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert (report["auc"], report["gini"], report["ks"]) == (1.0, 1.0, 1.0)


def test_reversed_scores_give_auc_zero() -> None:
    report = validation_report(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1]))
    assert (report["auc"], report["gini"], report["ks"]) == (0.0, -1.0, 1.0)


def test_a_hand_counted_case_gives_its_known_auc_ks_and_brier() -> None:
    # Positive-negative pairs ranked right: 3 of 4. The CDFs differ most (0.5) at 0.1.
    report = validation_report(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert report["auc"] == pytest.approx(0.75)
    assert report["ks"] == pytest.approx(0.5)
    assert report["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 0.36) / 4)


def test_calibration_has_ten_bins_covering_every_row_and_tracks_true_rates() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(20_003)
    y = (rng.random(p.size) < p).astype(int)
    bins = validation_report(y, p)["calibration"]
    assert len(bins) == 10 and sum(b["count"] for b in bins) == p.size
    assert max(abs(b["mean_predicted"] - b["observed_rate"]) for b in bins) < 0.05


def test_psi_is_zero_for_identical_scores_and_large_for_shifted_ones() -> None:
    rng = np.random.default_rng(6)
    train = rng.beta(2, 5, size=5000)
    assert psi(train, train) == 0.0
    assert psi(train, rng.beta(5, 2, size=5000)) > 0.2
    report = validation_report((train > 0.3).astype(int), train, p_train=train)
    assert report["psi"] == 0.0


@pytest.mark.parametrize(
    ("y_true", "p", "p_train", "named"),
    [
        ([0, 1, 1], [0.2, 0.7], None, "p"),
        ([1, 1, 1], [0.2, 0.7, 0.9], None, "y_true"),
        ([0, 1, 1], [0.2, float("nan"), 0.9], None, "p"),
        ([0, 1, 1], [0.2, 0.7, 0.9], [0.1, float("nan")], "p_train"),
        ([0, 2, 1], [0.2, 0.7, 0.9], None, "y_true"),
    ],
)
def test_bad_input_names_the_argument(
    y_true: list[int], p: list[float], p_train: list[float] | None, named: str
) -> None:
    with pytest.raises(InvalidInput, match=rf"^{named}:"):
        validation_report(
            np.array(y_true),
            np.array(p),
            p_train=None if p_train is None else np.array(p_train),
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=80
    )
)
def test_any_scores_give_bounded_auc_and_ks_and_gini_from_auc(
    rows: list[tuple[int, float]],
) -> None:
    y = np.array([label for label, _ in rows])
    assume(0 < y.sum() < y.size)
    report = validation_report(y, np.array([score for _, score in rows]))
    assert 0.0 <= report["auc"] <= 1.0
    assert 0.0 <= report["ks"] <= 1.0
    assert report["gini"] == pytest.approx(2 * report["auc"] - 1)
    assert sum(b["count"] for b in report["calibration"]) == y.size


def test_registry_round_trip_gives_identical_predictions_and_reasons(
    tmp_path: Path, data: dict[str, tuple[pa.Table, np.ndarray]], pair: TrainedPair
) -> None:
    X_test, _ = data["test"]
    folder = registry.save(pair, tmp_path, "pay_30d", {"data_sha256": "abc", "metrics": {}})
    loaded, metadata = registry.load(tmp_path, "pay_30d")
    assert folder == tmp_path / "models" / "pay_30d" / "v1"
    before, after = predict(pair, X_test), predict(loaded, X_test)
    for model in ("lightgbm", "scorecard"):
        assert np.array_equal(before[model], after[model]), model
        assert reasons(pair, X_test, LABELS, "en", model=model) == reasons(
            loaded, X_test, LABELS, "en", model=model
        )
    assert metadata["version"] == 1 and metadata["data_sha256"] == "abc"
    assert metadata["features"] == list(FEATURES)
    assert metadata["created_at"].endswith("+00:00")
    assert {"lightgbm", "optbinning", "scikit-learn"} <= set(metadata["library_versions"])


def test_registry_versions_increment_and_the_newest_loads_by_default(
    tmp_path: Path, pair: TrainedPair
) -> None:
    assert registry.save(pair, tmp_path, "roll", {"run": 1}).name == "v1"
    assert registry.save(pair, tmp_path, "roll", {"run": 2}).name == "v2"
    assert registry.load(tmp_path, "roll")[1]["run"] == 2
    assert registry.load(tmp_path, "roll", version=1)[1]["run"] == 1
    # No staging folder is left behind beside the versions.
    assert sorted(p.name for p in (tmp_path / "models" / "roll").iterdir()) == ["v1", "v2"]


def test_registry_reports_unknown_targets_and_versions(tmp_path: Path, pair: TrainedPair) -> None:
    with pytest.raises(NotFound, match="early_warning"):
        registry.load(tmp_path, "early_warning")
    registry.save(pair, tmp_path, "roll", {})
    with pytest.raises(NotFound, match="version 9"):
        registry.load(tmp_path, "roll", version=9)
    with pytest.raises(InvalidInput, match=r"^target:"):
        registry.save(pair, tmp_path, "../elsewhere", {})


def test_a_feature_with_no_values_in_training_is_tolerated_and_reported_as_no_record(
    data: dict[str, tuple[pa.Table, np.ndarray]],
) -> None:
    X, y = data["train"]
    X = X.slice(0, 1500).append_column("empty", pa.nulls(1500, pa.float64()))
    names = (*FEATURES, "empty")
    pair = train_models(X, y[:1500], features=names, seed=7)
    p = predict(pair, X)
    assert all(np.isfinite(p[model]).all() for model in ("lightgbm", "scorecard"))
    labels = [*LABELS, Label("empty", "Empty", "空", "more empty", "空较高")]
    words = reasons(pair, X, labels, "en", top=len(names), model="scorecard")
    assert all("Empty: no record" in row for row in words)
