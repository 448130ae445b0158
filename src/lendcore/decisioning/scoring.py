"""Credit scoring in the decision flow: which model scores an application, and what it says.

The models and the experiment that splits traffic between them live in the models directory
(:func:`lendcore.decisioning.artifacts.models_dir`):

- ``current.json`` names the current version of each kind (``scorecard``, ``challenger``);
- ``experiment.json`` (optional) is a champion/challenger experiment
  (:class:`lendcore.decisioning.experiments.Experiment`) plus the model each arm runs::

      {"key": "card-vs-lightgbm-2026", "champion": "champion", "shadow": true,
       "shares": {"champion": 1.0, "challenger": 0.0},
       "arms": {"champion": {"kind": "scorecard"},
                "challenger": {"kind": "challenger", "version": "<optional hash>"}}}

  An arm without ``version`` runs the current model of its kind. Without the file, every
  application is scored by the current scorecard (arm ``champion``).

An application's arm is drawn from its application id (a stable hash: the same id lands in the
same arm in every process). The acted-on arm's score and PD feed the rules; in shadow mode the
other arms are scored too and logged in the decision record, never acted on.

Artifacts are loaded and compiled once. :class:`ModelRegistry` stats ``current.json`` and
``experiment.json`` on each use (no read) and reloads when either changed, so promoting a model or
moving a share takes effect without a restart, like a policy edit.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lendcore.decisioning.artifacts import KINDS, POINTER, ModelArtifact, load_model, models_dir
from lendcore.decisioning.experiments import Assignment, Experiment
from lendcore.decisioning.scorecard import ScoreResult
from lendcore.kernel.errors import ErrorCode, ValidationError

EXPERIMENT_FILE = "experiment.json"
CHAMPION = "champion"
POLICY_KEYS = ("tier", "admission", "limits")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelScore:
    """One model's answer for one application."""

    arm: str
    kind: str
    version: str
    result: ScoreResult
    # A shadow arm's reasons are not computed when it is scored: ``reasons`` is then None in the
    # record, and reading the record (:func:`with_shadow_reasons`) computes them from the
    # recorded version and credit profile.
    reasons_deferred: bool = False

    def to_dict(self) -> dict[str, Any]:
        reasons = None if self.reasons_deferred else [r.to_dict() for r in self.result.reasons]
        return {
            "arm": self.arm,
            "model_kind": self.kind,
            "model_version": self.version,
            "score": self.result.score,
            "pd": self.result.pd,
            "reasons": reasons,
            "missing": list(self.result.missing),
        }


@dataclass(frozen=True)
class Scoring:
    acted: ModelScore  # the arm whose score the rules read
    shadow: tuple[ModelScore, ...]  # scored and logged, not acted on
    assignment: Assignment | None  # None: no experiment configured
    # Policy versions the acted-on arm pins (a policy challenger): key -> sha256 of the JDM file.
    policies: Mapping[str, str] = field(default_factory=dict)


def _refuse(message: str) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_EXPERIMENT, f"{EXPERIMENT_FILE}: {message}")


@dataclass(frozen=True)
class ModelSet:
    """The experiment (if any) and the compiled model of every arm."""

    experiment: Experiment | None
    arms: Mapping[str, ModelArtifact]
    # An arm may pin policy versions (``"policies": {"admission": "<sha256>"}``): an analyst's
    # edited policy runs as a challenger on that arm's share, the current files on the others.
    policy_pins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> ModelSet:
        directory = directory or models_dir()
        path = directory / EXPERIMENT_FILE
        if not path.is_file():
            return cls(
                None, {CHAMPION: _compiled(load_model(kind="scorecard", directory=directory))}
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _refuse(f"unreadable ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("arms"), dict):
            raise _refuse("needs an object with 'arms'")
        experiment = Experiment.from_dict(data)
        specs: dict[str, Any] = data["arms"]
        if set(specs) != set(experiment.shares):
            raise _refuse(f"arms {sorted(specs)} and shares {sorted(experiment.shares)} differ")
        arms: dict[str, ModelArtifact] = {}
        pins: dict[str, dict[str, str]] = {}
        for arm, spec in specs.items():
            if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
                raise _refuse(f"arm {arm!r} needs a kind, one of {', '.join(KINDS)}")
            version = spec.get("version")
            if version is not None and not isinstance(version, str):
                raise _refuse(f"arm {arm!r}: version must be a hash string")
            arms[arm] = _compiled(load_model(version, kind=spec["kind"], directory=directory))
            policies = spec.get("policies", {})
            if not isinstance(policies, dict) or not all(
                key in POLICY_KEYS and isinstance(h, str) and _SHA256.match(h)
                for key, h in policies.items()
            ):
                raise _refuse(
                    f"arm {arm!r}: policies maps {', '.join(POLICY_KEYS)} to sha256 versions"
                )
            pins[arm] = dict(policies)
        return cls(experiment, arms, pins)

    def score(self, application_id: int, profile: Mapping[str, Any]) -> Scoring:
        if self.experiment is None:
            return Scoring(_score(CHAMPION, self.arms[CHAMPION], profile), (), None)
        assignment = self.experiment.assign(application_id)
        acted = _score(assignment.arm, self.arms[assignment.arm], profile)
        shadow = tuple(
            _score(arm, self.arms[arm], profile, reasons=False) for arm in assignment.shadow_arms
        )
        return Scoring(acted, shadow, assignment, self.policy_pins.get(assignment.arm, {}))


def _compiled(artifact: ModelArtifact) -> ModelArtifact:
    artifact.scorer()  # compile now, not on the first application
    return artifact


def _score(
    arm: str, artifact: ModelArtifact, profile: Mapping[str, Any], *, reasons: bool = True
) -> ModelScore:
    result = artifact.score(profile, reasons=reasons)
    return ModelScore(arm, artifact.kind, artifact.version, result, reasons_deferred=not reasons)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


@dataclass
class ModelRegistry:
    """The current :class:`ModelSet`, reloaded when ``current.json`` or ``experiment.json``
    changes; any recorded version, for replay."""

    directory: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _current: ModelSet | None = field(default=None, repr=False)
    _stamps: tuple[Any, ...] = field(default=(), repr=False)
    _versions: dict[tuple[str, str], ModelArtifact] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.directory = self.directory or models_dir()
        self.current()  # fail at start-up, not on the first application

    def _files_stamp(self) -> tuple[Any, ...]:
        assert self.directory is not None
        return (_stamp(self.directory / POINTER), _stamp(self.directory / EXPERIMENT_FILE))

    def current(self) -> ModelSet:
        stamps = self._files_stamp()
        current = self._current
        if current is not None and stamps == self._stamps:
            return current
        with self._lock:
            if self._current is None or stamps != self._stamps:
                self._current = ModelSet.load(self.directory)
                self._stamps = stamps
            return self._current

    def score(self, application_id: int, profile: Mapping[str, Any]) -> Scoring:
        return self.current().score(application_id, profile)

    def version(self, version: str, kind: str) -> ModelArtifact:
        """A recorded model version (for replay), compiled once."""
        cached = self._versions.get((kind, version))
        if cached is not None:
            return cached
        artifact = _compiled(load_model(version, kind=kind, directory=self.directory))
        with self._lock:
            self._versions[(kind, version)] = artifact
        return artifact


def with_shadow_reasons(
    shadow: list[dict[str, Any]], profile: Mapping[str, Any], models: ModelRegistry
) -> list[dict[str, Any]]:
    """Shadow scores as recorded, each one's deferred reasons (``None``) computed with its
    recorded model version from the recorded credit profile: the reasons it would have given."""
    out = []
    for entry in shadow:
        if entry.get("reasons") is None:
            artifact = models.version(entry["model_version"], entry["model_kind"])
            result = artifact.score(profile)
            entry = {**entry, "reasons": [r.to_dict() for r in result.reasons]}
        out.append(entry)
    return out
