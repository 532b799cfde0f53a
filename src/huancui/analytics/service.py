"""The model use cases behind `huancui model train|validate|score`.

Examples come from one imported snapshot: features on month ends D (point in time, features.py)
and labels over the 30 days after D (labels.py), for every month end whose 30 days have passed by
the snapshot's as-of. The split is by time: the latest such month end validates, the earlier ones
train. Artifacts go to the registry (HUANCUI_HOME/models/<target>/v<N>/).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huancui.analytics import registry
from huancui.analytics.features import FEATURES, build_features
from huancui.analytics.labels import build_labels
from huancui.analytics.metrics import psi, stability_series, validation_report
from huancui.analytics.models import predict, reasons, train_models
from huancui.kit.errors import InvalidInput, NotFound
from huancui.kit.settings import Settings
from huancui.portfolio.snapshot_store import snapshot_dir
from huancui.strategy.scores import scores_dir

HORIZON_DAYS = 30
TRAIN_MONTHS = 6  # month ends used for training before the validation month end
FEATURE_NAMES = tuple(f.name for f in FEATURES)
# Ability (capacity: income against obligations, what the bank lends and sees used, life events
# that cut capacity) and willingness (how the customer behaves: pays on time, keeps promises,
# answers) are trained on the same outcome, meeting what is owed over the next 30 days
# (labels.pays_due), from separate feature families, so that the two scores can disagree. The
# credit grade, a view of both, is in neither.
ABILITY_FEATURES = (
    "monthly_income_yuan",
    "utilisation",
    "arrears_yuan",
    "customer_open_accounts",
    "is_credit_card",
    "months_on_book",
    "hardship_holds_ever",
    "hardship_holds_12m",
    "on_hardship_hold",
)
WILLINGNESS_FEATURES = (
    "paid_to_due_30d",
    "paid_to_due_90d",
    "paid_to_due_180d",
    "on_time_share_6m",
    "on_time_share_12m",
    "months_since_missed_due",
    "promises_180d",
    "promise_kept_share_180d",
    "call_attempts_90d",
    "right_party_share_90d",
    "cycles_delinquent_12m",
)
# target → (label, features)
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pay_30d": ("pay_30d", FEATURE_NAMES),
    "roll": ("roll", FEATURE_NAMES),
    "early_warning": ("early_warning", FEATURE_NAMES),
    "ability": ("pays_due", ABILITY_FEATURES),
    "willingness": ("pays_due", WILLINGNESS_FEATURES),
}
TARGET_NAMES = tuple(MODELS)
# The outcome a reason explains: the 'bad' label of each target.
BAD_LABEL = {"pay_30d": 0, "roll": 1, "early_warning": 1, "ability": 0, "willingness": 0}


@dataclass(frozen=True)
class Examples:
    features: pa.Table
    labels: np.ndarray
    dates: list[date]


def _snapshot(settings: Settings, as_of: date) -> Path:
    folder = snapshot_dir(settings.snapshots_dir, as_of)
    if not (folder / "accounts.parquet").exists():
        raise NotFound(
            f"no snapshot of {as_of}; import one with `huancui import DIR --as-of {as_of}`"
        )
    return folder


def _check_target(target: str) -> None:
    if target not in MODELS:
        raise InvalidInput(f"--target {target!r}: choose one of {', '.join(TARGET_NAMES)}")


def month_ends(as_of: date, *, count: int) -> list[date]:
    """The last `count` month ends whose 30 days have passed by `as_of`, oldest first."""
    ends: list[date] = []
    day = as_of.replace(day=1) - timedelta(days=1)
    while len(ends) < count:
        if day + timedelta(days=HORIZON_DAYS) <= as_of:
            ends.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return sorted(ends)


def examples(snapshot: Path, target: str, dates: list[date]) -> Examples:
    """Features and labels of the target's population on each date, stacked."""
    label, names = MODELS[target]
    parts, labels = [], []
    for day in dates:
        features = build_features(snapshot, day)
        labelled = build_labels(snapshot, day, label, horizon_days=HORIZON_DAYS)
        joined = features.join(labelled, "account_id", join_type="inner").sort_by("account_id")
        parts.append(joined.select(["account_id", "as_of", *names]))
        labels.append(joined.column("label").to_numpy().astype(np.int8))
    return Examples(pa.concat_tables(parts), np.concatenate(labels), dates)


def _digest(table: pa.Table, labels: np.ndarray) -> str:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    digest = hashlib.sha256(sink.getvalue().to_pybytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()


def fit(snapshot: Path, *, target: str, as_of: date, seed: int = 7) -> tuple[Any, dict[str, Any]]:
    """Train both models of `target` on a snapshot folder (earlier month ends train, the latest
    validates); the pair and its metadata, not yet registered."""
    _check_target(target)
    dates = month_ends(as_of, count=TRAIN_MONTHS + 1)
    train_set = examples(snapshot, target, dates[:-1])
    valid_set = examples(snapshot, target, dates[-1:])
    if len(set(train_set.labels.tolist())) < 2:
        raise InvalidInput(
            f"{target}: the training months have only one outcome; more history is needed"
        )
    names = MODELS[target][1]
    pair = train_models(train_set.features, train_set.labels, features=names, seed=seed)
    p_train = predict(pair, train_set.features)
    p_valid = predict(pair, valid_set.features)
    metrics = {
        model: {
            "train": validation_report(train_set.labels, p_train[model]),
            "validation": validation_report(
                valid_set.labels, p_valid[model], p_train=p_train[model]
            ),
        }
        for model in p_valid
    }
    metadata = {
        "target": target,
        "as_of": as_of.isoformat(),
        "label": MODELS[target][0],
        "features": list(names),
        "train_dates": [d.isoformat() for d in train_set.dates],
        "validation_dates": [d.isoformat() for d in valid_set.dates],
        "rows": {"train": int(train_set.labels.size), "validation": int(valid_set.labels.size)},
        "positive_share": {
            "train": float(train_set.labels.mean()),
            "validation": float(valid_set.labels.mean()),
        },
        "data_sha256": _digest(train_set.features, train_set.labels),
        "metrics": metrics,
        "seed": seed,
        "train_scores": {
            m: np.asarray(p, dtype=float).round(6).tolist() for m, p in p_train.items()
        },
        "stability": stability_series(
            np.concatenate([_dates_of(train_set), _dates_of(valid_set)]),
            np.concatenate([train_set.labels, valid_set.labels]),
            {m: np.concatenate([p_train[m], p_valid[m]]) for m in p_train},
            np.asarray(p_train["lightgbm"]),
        ),
    }
    return pair, metadata


def _dates_of(data: Examples) -> np.ndarray:
    return np.asarray([d.isoformat() for d in data.features.column("as_of").to_pylist()])


def train(settings: Settings, *, target: str, as_of: date, seed: int = 7) -> dict[str, Any]:
    """Train both models on the earlier month ends, validate on the latest; register them."""
    _check_target(target)
    pair, metadata = fit(_snapshot(settings, as_of), target=target, as_of=as_of, seed=seed)
    folder = registry.save(pair, settings.home, target, metadata)
    return {**{k: v for k, v in metadata.items() if k != "train_scores"}, "artifact": str(folder)}


def score(
    settings: Settings, *, target: str, as_of: date, lang: str = "zh-CN", version: int | None = None
) -> dict[str, Any]:
    """Score the target's population on `as_of` with the registered model; writes
    HUANCUI_HOME/scores/<as_of>/<target>.parquet (account_id, score, scorecard probability,
    reasons) and returns a summary with the population's stability (PSI) against training."""
    _check_target(target)
    snapshot = _snapshot(settings, as_of)
    pair, metadata = registry.load(settings.home, target, version)
    path = write_scores(
        snapshot, as_of=as_of, target=target, pair=pair, metadata=metadata, lang=lang,
        out=scores_dir(settings.home, as_of),
    )  # fmt: skip
    lightgbm = pq.read_table(path, columns=[f"score_{target}"]).column(0).to_numpy()
    return {
        "target": target,
        "as_of": as_of.isoformat(),
        "model_version": metadata["version"],
        "accounts": int(lightgbm.size),
        "mean_score": float(np.mean(lightgbm)) if lightgbm.size else None,
        "psi_vs_training": validation_stability(metadata, lightgbm),
        "file": str(path),
    }


def write_scores(
    snapshot: Path,
    *,
    as_of: date,
    target: str,
    pair: Any,
    metadata: dict[str, Any],
    lang: str,
    out: Path,
) -> Path:
    """Score the target's population in a snapshot folder into `out`/<target>.parquet, the
    file a nightly plan joins (strategy/scores.py)."""
    features = build_features(snapshot, as_of)
    population = _population(snapshot, as_of, target)
    table = features.filter(pc.is_in(features.column("account_id"), value_set=population))
    scores = predict(pair, table)
    used = [f for f in FEATURES if f.name in pair.features]
    why = reasons(pair, table, used, lang, towards=BAD_LABEL[target])
    out.mkdir(parents=True, exist_ok=True)
    result = pa.table(
        {
            "account_id": table.column("account_id"),
            f"score_{target}": pa.array(scores["lightgbm"]),
            f"scorecard_{target}": pa.array(scores["scorecard"]),
            "reasons": pa.array(["; ".join(r) for r in why]),
            "model_version": pa.array([metadata.get("version", 0)] * table.num_rows, pa.int32()),
        }
    )
    path = out / f"{target}.parquet"
    # Written aside and renamed: a nightly run reading the folder sees the old file or the new.
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(result, partial)
    partial.replace(path)
    return path


def validation_stability(metadata: dict[str, Any], scores: np.ndarray) -> float | None:
    """PSI of today's scores against the training scores kept in the metadata."""
    train_scores = np.asarray(metadata.get("train_scores", {}).get("lightgbm", []), dtype=float)
    if train_scores.size < 10 or scores.size < 10:
        return None
    return float(psi(train_scores, scores))


def _population(snapshot: Path, as_of: date, target: str) -> pa.Array:
    accounts = pq.read_table(
        snapshot / "accounts.parquet",
        columns=["account_id", "days_past_due", "charged_off", "status"],
    )
    dpd = accounts.column("days_past_due")
    live = pc.and_(
        pc.invert(accounts.column("charged_off")), pc.equal(accounts.column("status"), "open")
    )
    if MODELS[target][0] == "pays_due":
        return accounts.filter(live).column("account_id").combine_chunks()
    wanted = pc.equal(dpd, 0) if target == "early_warning" else pc.greater(dpd, 0)
    return accounts.filter(pc.and_(live, wanted)).column("account_id").combine_chunks()


def validate(
    settings: Settings, *, target: str, as_of: date, version: int | None = None
) -> dict[str, Any]:
    """The registered model's validation report, re-measured on the latest month end whose 30
    days have passed by `as_of` (out of time when `as_of` is later than the training snapshot)."""
    _check_target(target)
    snapshot = _snapshot(settings, as_of)
    pair, metadata = registry.load(settings.home, target, version)
    day = month_ends(as_of, count=1)
    data = examples(snapshot, target, day)
    scores = predict(pair, data.features)
    train_scores = metadata.get("train_scores", {})
    return {
        "target": target,
        "model_version": metadata["version"],
        "trained": metadata["as_of"],
        "on": day[0].isoformat(),
        "rows": int(data.labels.size),
        "report": {
            model: validation_report(
                data.labels,
                p,
                p_train=np.asarray(train_scores[model]) if model in train_scores else None,
            )
            for model, p in scores.items()
        },
    }


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2, default=str)


def check_truth(settings: Settings, *, as_of: date, truth: Path) -> dict[str, Any]:
    """On a synthetic world only: rank correlation (Spearman) of the newest ability and
    willingness scores with the customers' latent traits in `truth/customers.parquet`, each score
    against both traits, and how often the four quadrants (median splits) agree."""
    from scipy.stats import spearmanr

    path = truth / "customers.parquet"
    if not path.exists():
        raise NotFound(f"{path}: no truth here; it comes with `huancui generate` (DIR/truth)")
    snapshot = _snapshot(settings, as_of)
    features = build_features(snapshot, as_of)
    population = _population(snapshot, as_of, "ability")
    table = features.filter(pc.is_in(features.column("account_id"), value_set=population))
    per_customer: dict[str, pa.Table] = {}
    versions: dict[str, int] = {}
    customers = table.column("customer_id")
    for target in ("ability", "willingness"):
        pair, metadata = registry.load(settings.home, target, None)
        versions[target] = int(metadata["version"])
        scored = pa.table({"customer_id": customers, "score": predict(pair, table)["lightgbm"]})
        grouped = scored.group_by("customer_id").aggregate([("score", "mean")])
        per_customer[target] = grouped
    joined = (
        per_customer["ability"]
        .rename_columns(["customer_id", "ability_score"])
        .join(
            per_customer["willingness"].rename_columns(["customer_id", "willingness_score"]),
            "customer_id",
        )
        .join(pq.read_table(path, columns=["customer_id", "ability", "willingness"]), "customer_id")
    )
    a_score = joined.column("ability_score").to_numpy()
    w_score = joined.column("willingness_score").to_numpy()
    a_true = joined.column("ability").to_numpy()
    w_true = joined.column("willingness").to_numpy()

    def rho(x: np.ndarray, y: np.ndarray) -> float:
        return float(spearmanr(x, y).statistic)

    def quadrant(a: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray((a > np.median(a)).astype(int) * 2 + (w > np.median(w)).astype(int))

    agree = float(np.mean(quadrant(a_score, w_score) == quadrant(a_true, w_true)))
    return {
        "as_of": as_of.isoformat(),
        "customers": int(joined.num_rows),
        "model_versions": versions,
        "spearman": {
            "ability_score~ability": rho(a_score, a_true),
            "ability_score~willingness": rho(a_score, w_true),
            "willingness_score~willingness": rho(w_score, w_true),
            "willingness_score~ability": rho(w_score, a_true),
            "ability_score~willingness_score": rho(a_score, w_score),
        },
        "quadrant_agreement": agree,
        "quadrant_agreement_by_chance": 0.25,
    }


def report_data(
    settings: Settings, *, target: str, as_of: date, version: int | None = None
) -> dict[str, Any]:
    """Everything the model report shows (analytics/report.py): the registered model's metadata,
    its out-of-time validation set re-scored from the snapshot, the training scores, LightGBM's
    gain importance and the scorecard's bins and points."""
    _check_target(target)
    snapshot = _snapshot(settings, as_of)
    pair, metadata = registry.load(settings.home, target, version)
    dates = [date.fromisoformat(d) for d in metadata["validation_dates"]]
    data = examples(snapshot, target, dates)
    scores = predict(pair, data.features)
    labels = {f.name: f for f in FEATURES}
    gains = np.asarray(pair.booster.feature_importance(importance_type="gain"), dtype=float)
    importance = [
        {
            "feature": pair.features[i],
            "label_en": labels[pair.features[i]].label_en,
            "label_zh": labels[pair.features[i]].label_zh,
            "gain": float(gains[i]),
        }
        for i in np.argsort(-gains, kind="stable")
    ]
    bins = pair.scorecard.table(style="detailed")
    scorecard = [
        {
            "feature": str(row["Variable"]),
            "label_en": labels[str(row["Variable"])].label_en,
            "label_zh": labels[str(row["Variable"])].label_zh,
            "bin": str(row["Bin"]),
            "count": int(row["Count"]),
            "event_rate": float(row["Event rate"]),
            "woe": float(row["WoE"]),
            "points": float(row["Points"]),
        }
        for row in bins.to_dict("records")
        if str(row["Variable"]) in labels
    ]
    return {
        "target": target,
        "version": metadata["version"],
        "metadata": metadata,
        "validation": {
            "labels": data.labels.astype(int).tolist(),
            **{model: np.asarray(p, dtype=float).tolist() for model, p in scores.items()},
        },
        "train_scores": metadata.get("train_scores", {}),
        "importance": importance,
        "scorecard": scorecard,
    }
