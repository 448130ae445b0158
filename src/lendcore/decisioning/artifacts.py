"""Model artifacts: training, versioned JSON files, and loading the current or any older model.

An artifact is one JSON file ``<kind>-<hash12>.json``::

    {"kind": "scorecard", "version": "<sha256>", "content": {...}, "provenance": {...}}

``version`` is the sha256 of the canonical JSON of ``content`` (sorted keys, no whitespace): the
model itself (points table or booster text), its training set-up (data hash, split, seed,
parameters), its metrics and its development distributions. ``provenance`` (creation time,
library versions) is recorded beside it but not hashed, so retraining the same data with the
same code reproduces the same version. ``current.json`` in the models directory names the
version each kind serves; older files stay for replaying past decisions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from lendcore.decisioning.challenger import ChallengerModel
from lendcore.decisioning.scorecard import PointsTable, ScoreResult
from lendcore.kernel.errors import ErrorCode, ValidationError

KINDS = ("scorecard", "challenger")
POINTER = "current.json"
LIBRARIES = ("optbinning", "lightgbm", "scikit-learn", "pandas", "numpy", "ortools")


def models_dir() -> Path:
    """``$LENDCORE_MODELS_DIR``, else ``./models``, else the one shipped beside the source."""
    configured = os.environ.get("LENDCORE_MODELS_DIR")
    if configured:
        return Path(configured)
    local = Path.cwd() / "models"
    if (local / POINTER).is_file():
        return local
    return Path(__file__).resolve().parents[3] / "models"


def canonical_json(content: Any) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def content_version(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class ModelArtifact:
    kind: str
    version: str
    content: dict[str, Any]
    provenance: dict[str, Any]
    path: Path | None = None
    _scorer: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def short_version(self) -> str:
        return self.version[:12]

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.content["metrics"])

    @property
    def dev_distribution(self) -> dict[str, Any]:
        return dict(self.content["dev_distribution"])

    def scorer(self) -> PointsTable | ChallengerModel:
        """The compiled scorer (built once per artifact)."""
        if not self._scorer:
            if self.kind == "scorecard":
                self._scorer.append(PointsTable(self.content["points_table"]))
            else:
                self._scorer.append(ChallengerModel(self.content["model"]))
        scorer: PointsTable | ChallengerModel = self._scorer[0]
        return scorer

    def score(self, profile: Mapping[str, Any], *, reasons: bool = True) -> ScoreResult:
        """``reasons=False``: the challenger skips its SHAP contributions (reasons empty); the
        scorecard's reasons cost nothing and come anyway."""
        scorer = self.scorer()
        if not reasons and isinstance(scorer, ChallengerModel):
            return scorer.score_without_reasons(profile)
        return scorer.score(profile)

    def document(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "content": self.content,
            "provenance": self.provenance,
        }


def make_artifact(kind: str, content: dict[str, Any], provenance: dict[str, Any]) -> ModelArtifact:
    if kind not in KINDS:
        raise ValidationError(ErrorCode.INVALID_MODEL, f"unknown model kind {kind!r}")
    return ModelArtifact(kind, content_version(content), content, provenance)


def file_name(kind: str, version: str) -> str:
    return f"{kind}-{version[:12]}.json"


def write_artifact(artifact: ModelArtifact, directory: Path) -> tuple[Path, bool]:
    """Write the file unless the same version is already there; returns (path, written)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(artifact.kind, artifact.version)
    if path.exists() and read_artifact(path).version == artifact.version:
        return path, False
    text = json.dumps(artifact.document(), ensure_ascii=False, indent=1, sort_keys=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path, True


def read_artifact(path: Path) -> ModelArtifact:
    """Read and verify an artifact: its content must hash to its version."""
    stat = path.stat()
    return _read_verified(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _read_verified(path: str, _mtime_ns: int, _size: int) -> ModelArtifact:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        kind, version = document["kind"], document["version"]
        content, provenance = document["content"], document.get("provenance", {})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            ErrorCode.INVALID_MODEL, f"{Path(path).name}: unreadable artifact ({exc})"
        ) from None
    if kind not in KINDS or content_version(content) != version:
        raise ValidationError(
            ErrorCode.INVALID_MODEL,
            f"{Path(path).name}: content does not hash to its version (edited or corrupt)",
            {"file": path},
        )
    return ModelArtifact(kind, version, content, provenance, Path(path))


def current_versions(directory: Path | None = None) -> dict[str, str]:
    pointer = (directory or models_dir()) / POINTER
    if not pointer.is_file():
        return {}
    data = json.loads(pointer.read_text(encoding="utf-8"))
    return {k: str(v) for k, v in data.items() if k in KINDS}


def set_current(kind: str, version: str, directory: Path | None = None) -> ModelArtifact:
    """Point ``current.json`` at a version (it must load and verify first)."""
    directory = directory or models_dir()
    artifact = load_model(version, kind=kind, directory=directory)
    pointers = {**current_versions(directory), kind: artifact.version}
    tmp = directory / (POINTER + ".tmp")
    tmp.write_text(json.dumps(pointers, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(directory / POINTER)
    return artifact


def list_models(directory: Path | None = None) -> list[ModelArtifact]:
    directory = directory or models_dir()
    return [read_artifact(p) for kind in KINDS for p in sorted(directory.glob(f"{kind}-*.json"))]


def load_model(
    version: str | None = None, kind: str | None = None, directory: Path | None = None
) -> ModelArtifact:
    """The current model of ``kind`` (default: the scorecard), or a version by (prefix of) hash."""
    directory = directory or models_dir()
    if version is None:
        kind = kind or "scorecard"
        current = current_versions(directory).get(kind)
        if current is None:
            raise ValidationError(
                ErrorCode.UNKNOWN_MODEL,
                f"no current {kind} in {directory} (run `lendcore model train`)",
            )
        version = current
    version = version.lower()
    if len(version) < 6 or any(ch not in "0123456789abcdef" for ch in version):
        raise ValidationError(
            ErrorCode.UNKNOWN_MODEL, f"a model version is a sha256 hex prefix: {version!r}"
        )
    kinds = (kind,) if kind else KINDS
    candidates = [
        p
        for k in kinds
        for p in sorted(directory.glob(f"{k}-{version[:12]}*.json"))
        if p.stem.split("-", 1)[1].startswith(version[:12])
    ]
    found = [a for a in map(read_artifact, candidates) if a.version.startswith(version)]
    if len(found) != 1:
        raise ValidationError(
            ErrorCode.UNKNOWN_MODEL,
            f"{'no' if not found else 'ambiguous'} model version {version!r} in {directory}",
            {"matches": [a.version for a in found]},
        )
    return found[0]


def provenance(now: datetime | None = None) -> dict[str, Any]:
    return {
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "libraries": {name: package_version(name) for name in LIBRARIES},
    }


# ---------------------------------------------------------------------------------------------
# Training (pandas, optbinning and LightGBM are imported only here)


@dataclass(frozen=True)
class TrainResult:
    artifacts: tuple[ModelArtifact, ...]
    paths: dict[str, Path]
    written: dict[str, bool]  # False: the same version was already on disk
    promoted: dict[str, bool]


def train(
    out: Path | None = None, promote: bool = False, now: datetime | None = None
) -> TrainResult:
    """Train the card and the challenger on the fixed split and write both artifacts.

    ``current.json`` moves to the new versions only with ``promote`` (or when the directory has
    no current model of that kind yet): rolling out a model is a decision, not a side effect.
    """
    out = out or models_dir()
    built = build_models(now)
    current = current_versions(out)
    paths: dict[str, Path] = {}
    written: dict[str, bool] = {}
    promoted: dict[str, bool] = {}
    for artifact in built:
        paths[artifact.kind], written[artifact.kind] = write_artifact(artifact, out)
        promoted[artifact.kind] = False
        if promote or artifact.kind not in current:
            set_current(artifact.kind, artifact.version, out)
            promoted[artifact.kind] = current.get(artifact.kind) != artifact.version
    return TrainResult(built, paths, written, promoted)


def build_models(now: datetime | None = None) -> tuple[ModelArtifact, ModelArtifact]:
    from lendcore.decisioning.data import load_german_credit, split_rows

    data = load_german_credit()
    split = split_rows(data.bad)
    stamp = provenance(now)
    return _scorecard_artifact(data, split, stamp), _challenger_artifact(data, split, stamp)


def _training_data(data: Any, split: Any) -> dict[str, Any]:
    from lendcore.decisioning.data import EXCLUDED

    return {
        "source": data.source,
        "sha256": data.sha256,
        "rows": len(data.bad),
        "bad_rate": round(float(data.bad.mean()), 6),
        "split": split.describe(),
        "excluded_columns": EXCLUDED,
    }


def _metrics(scores: list[float], bad: Any, split: Any) -> dict[str, Any]:
    from lendcore.decisioning.monitoring import performance

    return {
        part: performance([scores[i] for i in rows], [int(bad[i]) for i in rows])
        for part, rows in (("train", split.train), ("test", split.test))
    }


def _scorecard_artifact(data: Any, split: Any, stamp: dict[str, Any]) -> ModelArtifact:
    from lendcore.decisioning.data import CHARACTERISTICS
    from lendcore.decisioning.monitoring import characteristic_counts, score_distribution
    from lendcore.decisioning.scorecard import (
        MIN_IV,
        SCALING,
        binning_fit_params,
        estimator_params,
        export_points_table,
        fit_scorecard,
        quiet_optbinning,
    )

    card = fit_scorecard(data.frame.iloc[split.train], data.bad[split.train])
    table_data = export_points_table(card)
    table = PointsTable(table_data)
    profiles = data.profiles()
    scores = [table.score(p).score for p in profiles]
    # The exported table must reproduce optbinning's own scores (integer points: exactly).
    with quiet_optbinning():
        reference = card.score(data.frame[[c.name for c in CHARACTERISTICS]])
    if max(abs(float(r) - s) for r, s in zip(reference, scores, strict=True)) > 1e-6:
        raise RuntimeError("exported points table disagrees with optbinning's Scorecard.score")
    train_rows = [int(i) for i in split.train]
    train_bad = [int(data.bad[i]) for i in train_rows]
    characteristics: dict[str, Any] = {}
    for c in table.characteristics:
        values = [profiles[i].get(c.name) for i in train_rows]
        counts, _ = characteristic_counts(c.bins, values)
        bad_counts, _ = characteristic_counts(
            c.bins, [v for v, b in zip(values, train_bad, strict=True) if b]
        )
        spec = next(x for x in table_data["characteristics"] if x["name"] == c.name)
        characteristics[c.name] = {
            "kind": spec["kind"],
            "bins": [{k: v for k, v in b.items() if k != "points"} for b in spec["bins"]],
            "counts": counts,
            "bad_counts": bad_counts,
        }
    content = {
        "points_table": table_data,
        "training": {
            "data": _training_data(data, split),
            "binning": {
                "library": "optbinning.BinningProcess",
                "solver": "cp",
                "min_iv": MIN_IV,
                "binning_fit_params": binning_fit_params(CHARACTERISTICS),
                "information_value": _information_values(card),
            },
            "estimator": {"type": "sklearn LogisticRegression on WoE", **estimator_params()},
            "scaling": {"method": "pdo_odds", **SCALING.to_dict(), "rounding": "integer"},
        },
        "metrics": _metrics(scores, data.bad, split),
        "dev_distribution": {
            "sample": "train",
            "n": len(train_rows),
            "score": score_distribution([scores[i] for i in train_rows], train_bad),
            "characteristics": characteristics,
        },
    }
    return make_artifact("scorecard", content, stamp)


def _information_values(card: Any) -> dict[str, dict[str, Any]]:
    """IV of every candidate characteristic and whether it made the card."""
    from lendcore.decisioning.scorecard import quiet_optbinning

    with quiet_optbinning():
        summary = card.binning_process_.summary()
    return {
        str(row["name"]): {"iv": round(float(row["iv"]), 6), "selected": bool(row["selected"])}
        for _, row in summary.iterrows()
    }


def _challenger_artifact(data: Any, split: Any, stamp: dict[str, Any]) -> ModelArtifact:
    from lendcore.decisioning.challenger import (
        encode_frame,
        export_challenger,
        fit_challenger,
        imputation_values,
    )
    from lendcore.decisioning.data import CHARACTERISTICS
    from lendcore.decisioning.monitoring import score_distribution

    train_frame = data.frame.iloc[split.train]
    booster, params = fit_challenger(train_frame, data.bad[split.train])
    model_data = export_challenger(booster, params, imputation_values(train_frame))
    model = ChallengerModel(model_data)
    margins = model.margins(encode_frame(data.frame, CHARACTERISTICS).tolist())
    scores = [round(model.scaling.score_from_margin(m), 2) for m in margins]
    train_rows = [int(i) for i in split.train]
    content = {
        "model": model_data,
        "training": {"data": _training_data(data, split), "library": "lightgbm"},
        "metrics": _metrics(scores, data.bad, split),
        "dev_distribution": {
            "sample": "train",
            "n": len(train_rows),
            "score": score_distribution(
                [scores[i] for i in train_rows], [int(data.bad[i]) for i in train_rows]
            ),
            "characteristics": {},
        },
    }
    return make_artifact("challenger", content, stamp)
