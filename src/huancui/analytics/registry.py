"""Versioned model artifacts on disk: root/models/<target>/v<N>/ holds one trained pair.

Owns saving (atomically, one new version per call) and loading (the newest by default), for the
scoring pairs and for uplift models (kind "uplift", LightGBM text files only, no pickle).

Security: the scorecard is stored with pickle, and unpickling runs code. Load only artifacts
this installation wrote into its own HUANCUI_HOME; never copy a model folder in from elsewhere.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from huancui.analytics.dispatch import DECISION_FEATURES, UpliftModel
from huancui.analytics.models import TrainedPair
from huancui.analytics.uplift import TLearner, XLearner
from huancui.kit.errors import InvalidInput, NotFound

LIGHTGBM_FILE = "lightgbm.txt"
SCORECARD_FILE = "scorecard.pkl"
REFERENCE_FILE = "reference.json"
METADATA_FILE = "metadata.json"
UPLIFT_FILE = "uplift.json"
UPLIFT_KIND = "uplift"
UPLIFT_TARGET = "uplift"
LIBRARIES = ("huancui", "lightgbm", "optbinning", "scikit-learn", "numpy", "pyarrow")
_TARGET = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^v([1-9][0-9]*)$")
_SAVE_ATTEMPTS = 5


def save(pair: TrainedPair, root: Path, target: str, metadata: dict[str, Any]) -> Path:
    """Write `pair` as the next version of `target` and return its folder.

    The caller's metadata (training window, metrics, data sha256, ...) is kept as given, with
    version, target, features, created_at (UTC ISO 8601) and library versions added. Files are
    written to a temporary folder beside the versions and renamed into place, so a reader never
    sees half a version; if another writer takes the same number first, the next one is used."""

    def write(staging: Path) -> None:
        pair.booster.save_model(str(staging / LIGHTGBM_FILE))
        with (staging / SCORECARD_FILE).open("wb") as handle:
            pickle.dump(pair.scorecard, handle, protocol=pickle.HIGHEST_PROTOCOL)
        _write_json(staging / REFERENCE_FILE, _reference(pair))

    return _save_version(root, target, {**metadata, "features": list(pair.features)}, write)


def save_uplift(
    model: UpliftModel, root: Path, metadata: dict[str, Any], target: str = UPLIFT_TARGET
) -> Path:
    """Write an uplift model as the next version of `target` (kind "uplift"), as `save` does.

    Every LightGBM model is stored as text (no pickle): one file per arm for a T-learner, one per
    challenger and stage for an X-learner, with the X-learner's blend weights in uplift.json."""

    def write(staging: Path) -> None:
        files = []
        for name, booster in _uplift_boosters(model):
            booster.save_model(str(staging / name))
            files.append(name)
        weights = list(model.learner.control_weight) if isinstance(model.learner, XLearner) else []
        _write_json(
            staging / UPLIFT_FILE,
            {
                "learner": model.kind,
                "columns": model.learner.columns,
                "files": files,
                "control_weight": weights,
            },
        )

    record = {
        **metadata,
        "kind": UPLIFT_KIND,
        "features": list(model.features),
        "treatments": list(model.treatments),
        "learner": model.kind,
        "outcome": model.outcome,
        "blend": list(model.blend),
        "mean_effect": list(model.mean_effect),
    }
    return _save_version(root, target, record, write)


def _uplift_boosters(model: UpliftModel) -> list[tuple[str, lgb.Booster]]:
    learner = model.learner
    if isinstance(learner, TLearner):
        return [(f"arm{arm}.txt", _booster(m)) for arm, m in enumerate(learner.models)]
    pairs = []
    for arm, (treated, control) in enumerate(
        zip(learner.treated_effect, learner.control_effect, strict=True), start=1
    ):
        pairs.append((f"arm{arm}_treated.txt", _booster(treated)))
        pairs.append((f"arm{arm}_control.txt", _booster(control)))
    return pairs


def _booster(model: lgb.LGBMRegressor | lgb.Booster) -> lgb.Booster:
    return model if isinstance(model, lgb.Booster) else model.booster_


def _save_version(
    root: Path, target: str, metadata: dict[str, Any], write: Callable[[Path], None]
) -> Path:
    folder = _target_folder(root, target)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        write(staging)
        for _ in range(_SAVE_ATTEMPTS):
            number = max(versions(root, target), default=0) + 1
            record = {
                **metadata,
                "version": number,
                "target": target,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "library_versions": _library_versions(),
            }
            _write_json(staging / METADATA_FILE, record)
            destination = folder / f"v{number}"
            try:
                staging.rename(destination)
            except OSError:
                if destination.exists():
                    continue
                raise
            return destination
        raise RuntimeError(f"{folder}: could not claim a new version after {_SAVE_ATTEMPTS} tries")
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def load(root: Path, target: str, version: int | None = None) -> tuple[TrainedPair, dict[str, Any]]:
    """The stored pair of `target` and its metadata: version `version`, or the newest."""
    path = _version_folder(root, target, version)
    metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    if metadata.get("kind") == UPLIFT_KIND:
        raise InvalidInput(f"model {target!r} is an uplift model; load it with load_uplift")
    reference = json.loads((path / REFERENCE_FILE).read_text(encoding="utf-8"))
    with (path / SCORECARD_FILE).open("rb") as handle:
        scorecard = pickle.load(handle)  # only artifacts this installation wrote (module docstring)
    pair = TrainedPair(
        features=tuple(reference["features"]),
        booster=lgb.Booster(model_file=str(path / LIGHTGBM_FILE)),
        scorecard=scorecard,
        means=np.asarray(reference["means"], dtype=np.float64),
        mean_contributions=np.asarray(reference["mean_contributions"], dtype=np.float64),
    )
    return pair, metadata


def load_uplift(
    root: Path, version: int | None = None, target: str = UPLIFT_TARGET
) -> tuple[UpliftModel, dict[str, Any]]:
    """The stored uplift model of `target` and its metadata: version `version`, or the newest."""
    path = _version_folder(root, target, version)
    metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    if metadata.get("kind") != UPLIFT_KIND:
        raise InvalidInput(f"model {target!r} v{metadata.get('version')} is not an uplift model")
    if tuple(metadata["features"]) != DECISION_FEATURES:
        raise InvalidInput(
            f"model {target!r} v{metadata['version']} was trained on other decision features than "
            "this version computes; train it again with `huancui model uplift`"
        )
    spec = json.loads((path / UPLIFT_FILE).read_text(encoding="utf-8"))
    boosters = [lgb.Booster(model_file=str(path / name)) for name in spec["files"]]
    columns = int(spec["columns"])
    learner: TLearner | XLearner
    if spec["learner"] == "t":
        learner = TLearner(models=tuple(boosters), columns=columns)
    else:
        learner = XLearner(
            treated_effect=tuple(boosters[0::2]),
            control_effect=tuple(boosters[1::2]),
            control_weight=tuple(float(w) for w in spec["control_weight"]),
            columns=columns,
        )
    model = UpliftModel(
        learner=learner,
        kind=str(spec["learner"]),
        features=tuple(metadata["features"]),
        treatments=tuple(metadata["treatments"]),
        outcome=str(metadata.get("outcome", "fen")),  # models before `outcome` fitted fen
        blend=tuple(float(b) for b in metadata.get("blend", [1.0, 1.0])),
        mean_effect=tuple(float(m) for m in metadata.get("mean_effect", [0.0, 0.0])),
    )
    return model, metadata


def _version_folder(root: Path, target: str, version: int | None) -> Path:
    available = versions(root, target)
    if not available:
        raise NotFound(f"model target {target!r}: no versions under {_target_folder(root, target)}")
    chosen = available[-1] if version is None else version
    if chosen not in available:
        raise NotFound(
            f"model {target!r} version {version}: not found; available: "
            + ", ".join(f"v{n}" for n in available)
        )
    return _target_folder(root, target) / f"v{chosen}"


def versions(root: Path, target: str) -> list[int]:
    """The version numbers stored for `target`, oldest first."""
    folder = _target_folder(root, target)
    if not folder.is_dir():
        return []
    found = (_VERSION.match(entry.name) for entry in folder.iterdir() if entry.is_dir())
    return sorted(int(match.group(1)) for match in found if match)


def _target_folder(root: Path, target: str) -> Path:
    if not _TARGET.match(target):
        raise InvalidInput(
            f"target: {target!r} is not a model name; use lower-case letters, digits and _"
        )
    return Path(root) / "models" / target


def _reference(pair: TrainedPair) -> dict[str, Any]:
    # repr-exact floats: JSON keeps the 17 significant digits, so reasons are identical on reload.
    return {
        "features": list(pair.features),
        "means": [float(v) for v in pair.means],
        "mean_contributions": [float(v) for v in pair.mean_contributions],
    }


def _library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _write_json(path: Path, content: dict[str, Any]) -> None:
    try:
        text = json.dumps(content, ensure_ascii=False, indent=2, default=_plain)
    except TypeError as error:
        raise InvalidInput(
            f"metadata: {error}; use plain numbers, strings, lists and dicts"
        ) from None
    path.write_text(text + "\n", encoding="utf-8")
    # Flushed to disk before the rename makes the version visible.
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _plain(value: object) -> object:
    """numpy scalars and arrays in metadata become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
