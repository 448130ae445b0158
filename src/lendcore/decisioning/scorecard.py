"""The champion scorecard: a points table (plain JSON data) and a pure, microsecond scorer.

Scoring needs no pandas, numpy or optbinning: :class:`PointsTable` compiles the JSON once and
:func:`score` adds up points with a dict lookup (categorical) or a bisection over the bin edges
(numeric). Fitting lives at the bottom of this module and imports optbinning lazily.

Scaling (points to double the odds), with odds = good:bad:

    factor = pdo / ln 2
    offset = points - factor * ln(odds)
    score  = offset + factor * ln(odds_good)      (the card's points add up to this)
    PD     = 1 / (1 + exp((score - offset) / factor))

so 600 points means odds 50:1 (PD 1.96%) and every 20 points doubles the odds.
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lendcore.decisioning.data import CHARACTERISTICS, Characteristic
from lendcore.kernel.errors import ErrorCode, ValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FORMAT = "lendcore.points_table/1"
MAX_REASONS = 4  # Regulation B / CFPB: at most four principal reasons are useful


@dataclass(frozen=True)
class Scaling:
    points: float = 600.0  # score at the reference odds
    odds: float = 50.0  # good:bad odds at ``points``
    pdo: float = 20.0  # points to double the odds

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.points - self.factor * math.log(self.odds)

    def pd(self, score: float) -> float:
        """Probability of default implied by a score (the logistic of the scaled log-odds)."""
        z = (score - self.offset) / self.factor  # ln(good:bad odds)
        if z >= 0:
            e = math.exp(-z)
            return e / (1.0 + e)
        return 1.0 / (1.0 + math.exp(z))

    def score_from_pd(self, pd: float) -> float:
        """The score on this scale for a PD (how the challenger lands on the card's scale)."""
        p = min(max(pd, 1e-15), 1 - 1e-15)
        return self.offset + self.factor * math.log((1 - p) / p)

    def score_from_margin(self, bad_log_odds: float) -> float:
        return self.offset - self.factor * bad_log_odds

    def to_dict(self) -> dict[str, float]:
        return {"points": self.points, "odds": self.odds, "pdo": self.pdo}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaling:
        return cls(float(data["points"]), float(data["odds"]), float(data["pdo"]))


@dataclass(frozen=True)
class Reason:
    code: str
    characteristic: str
    points_lost: float
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "characteristic": self.characteristic,
            "points_lost": self.points_lost,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class ScoreResult:
    score: float  # int for the card (integer points), float for the challenger
    pd: float
    reasons: tuple[Reason, ...]  # at most four, largest loss first
    missing: tuple[str, ...] = ()  # characteristics scored in the missing bin

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "pd": self.pd,
            "reasons": [r.to_dict() for r in self.reasons],
            "missing": list(self.missing),
        }


def invalid_table(message: str) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_MODEL, f"points table: {message}")


class Bins:
    """The bins of one characteristic: numeric ``[lower, upper)`` intervals or category sets,
    plus a missing bin (index ``len(bins)``) for absent, NaN and unknown values."""

    __slots__ = ("categories", "kind", "missing_index", "name", "splits")

    def __init__(self, name: str, kind: str, bins: Sequence[Mapping[str, Any]]):
        if kind not in ("numeric", "categorical") or not bins:
            raise invalid_table(f"{name}: bad kind or no bins")
        self.name = name
        self.kind = kind
        self.missing_index = len(bins)
        self.splits: tuple[float, ...] = ()
        self.categories: dict[str, int] = {}
        try:
            if kind == "numeric":
                # In order; the first lower and the last upper are null (-inf, +inf).
                uppers = [b["upper"] for b in bins]
                if uppers[-1] is not None or any(u is None for u in uppers[:-1]):
                    raise invalid_table(f"{name}: numeric bins must cover (-inf, inf)")
                self.splits = tuple(float(u) for u in uppers[:-1])
                if list(self.splits) != sorted(set(self.splits)):
                    raise invalid_table(f"{name}: bin edges not increasing")
            else:
                for index, b in enumerate(bins):
                    for category in b["categories"]:
                        if category in self.categories:
                            raise invalid_table(f"{name}: {category!r} in two bins")
                        self.categories[category] = index
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid_table(f"{name}: malformed bins: {exc!r}") from None

    def locate(self, value: Any) -> int:
        """Index of the bin for ``value``; ``missing_index`` for absent or unknown values.
        A value of the wrong type raises ``INVALID_PROFILE``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing_index
        if self.kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise wrong_type(self.name, "a number", value)
            if isinstance(value, Decimal) and value.is_nan():
                return self.missing_index
            return bisect_right(self.splits, float(value))
        if not isinstance(value, str):
            raise wrong_type(self.name, "a category code (string)", value)
        return self.categories.get(value, self.missing_index)


class ScoredCharacteristic:
    """One characteristic of a compiled points table: its bins and their points."""

    __slots__ = ("best", "bins", "code", "label_en", "label_zh", "name", "points")

    def __init__(self, data: Mapping[str, Any]):
        try:
            self.name: str = data["name"]
            self.code: str = data["code"]
            self.label_zh: str = data["label_zh"]
            self.label_en: str = data["label_en"]
            self.bins = Bins(self.name, data["kind"], data["bins"])
            points = [b["points"] for b in data["bins"]] + [data["missing"]["points"]]
        except (KeyError, TypeError) as exc:
            raise invalid_table(f"malformed characteristic: {exc!r}") from None
        if any(isinstance(p, bool) or not isinstance(p, (int, float)) for p in points):
            raise invalid_table(f"{self.name}: points must be numbers")
        self.points: tuple[float, ...] = tuple(points)
        self.best = max(self.points)


def wrong_type(name: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_PROFILE,
        f"credit_profile.{name} must be {expected}, got {type(value).__name__}",
        {"characteristic": name, "type": type(value).__name__},
    )


class PointsTable:
    """A compiled points table: build once from the JSON data, score many times."""

    def __init__(self, data: Mapping[str, Any]):
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise invalid_table(f"not a {FORMAT} document")
        try:
            self.scaling = Scaling.from_dict(data["scaling"])
            self.base_points: float = data.get("base_points", 0)
            raw = data["characteristics"]
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid_table(f"malformed: {exc!r}") from None
        self.characteristics = tuple(ScoredCharacteristic(c) for c in raw)
        self.by_name = {c.name: c for c in self.characteristics}
        self.data = data

    def score(self, profile: Mapping[str, Any]) -> ScoreResult:
        return score(self, profile)


def score(table: PointsTable | Mapping[str, Any], profile: Mapping[str, Any]) -> ScoreResult:
    """Score a credit_profile: total points, PD from the scaling, and up to four reasons.

    A reason is a characteristic on which the applicant got fewer points than the best bin of
    that characteristic; the (at most four) largest losses are returned, largest first, ties in
    table order. A characteristic absent from the profile, ``None``, NaN or an unknown category
    scores the missing bin; a value of the wrong type raises ``INVALID_PROFILE``.
    """
    if not isinstance(table, PointsTable):
        table = PointsTable(table)
    if not isinstance(profile, Mapping):
        raise ValidationError(
            ErrorCode.INVALID_PROFILE,
            f"credit_profile must be an object, got {type(profile).__name__}",
        )
    total = table.base_points
    losses: list[tuple[float, int, ScoredCharacteristic]] = []
    missing: list[str] = []
    for position, c in enumerate(table.characteristics):
        index = c.bins.locate(profile.get(c.name))
        points = c.points[index]
        total += points
        if index == c.bins.missing_index:
            missing.append(c.name)
        if points < c.best:
            losses.append((points - c.best, position, c))
    losses.sort()
    reasons = tuple(
        Reason(c.code, c.name, -loss, c.label_zh, c.label_en) for loss, _, c in losses[:MAX_REASONS]
    )
    return ScoreResult(total, table.scaling.pd(total), reasons, tuple(missing))


# ---------------------------------------------------------------------------------------------
# Fitting (optbinning, training time only)

SCALING = Scaling(600.0, 50.0, 20.0)
MIN_IV = 0.02  # characteristics below this information value are left out of the card
_TRENDS = {+1: "ascending", -1: "descending", 0: "auto_asc_desc"}


def import_optbinning() -> Any:
    """Import optbinning without CVXPY's HIGHS warning on stderr.

    CVXPY probes every solver at import; its HIGHS probe fails because OR-Tools (loaded first
    by optbinning) bundles its own ``libhighs.so.1`` (HiGHS 1.12) under the same soname as the
    highspy 1.15 wheel, so highspy's extension binds to the wrong library. optbinning never
    uses CVXPY's HIGHS backend (its binning solver is OR-Tools CP-SAT), so that one warning is
    dropped; every other CVXPY message still reaches the log.
    """
    import logging

    cvxpy_logger = logging.getLogger("__cvxpy__")
    if not any(isinstance(f, _HighsProbeFilter) for f in cvxpy_logger.filters):
        cvxpy_logger.addFilter(_HighsProbeFilter())
    import optbinning

    return optbinning


@contextmanager
def quiet_optbinning() -> Iterator[None]:
    """optbinning 1.0.0 trips pandas 3 deprecation warnings inside its own code; not ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"optbinning\.")
        yield


class _HighsProbeFilter:
    def filter(self, record: Any) -> bool:
        return "importing solver HIGHS" not in record.getMessage()


def binning_fit_params(characteristics: Sequence[Characteristic]) -> dict[str, dict[str, Any]]:
    """Monotone event-rate trends for numeric characteristics (direction from data.py)."""
    return {
        c.name: {"monotonic_trend": _TRENDS[c.risk_direction]}
        for c in characteristics
        if c.kind == "numeric"
    }


def estimator_params() -> dict[str, Any]:
    return {"C": 1.0, "solver": "lbfgs", "max_iter": 1000}


def fit_scorecard(
    frame: pd.DataFrame,
    bad: np.ndarray,
    characteristics: Sequence[Characteristic] = CHARACTERISTICS,
    scaling: Scaling = SCALING,
) -> Any:
    """optbinning ``BinningProcess`` + logistic regression on WoE, integer points."""
    optbinning = import_optbinning()
    from sklearn.linear_model import LogisticRegression

    names = [c.name for c in characteristics]
    process = optbinning.BinningProcess(
        names,
        categorical_variables=[c.name for c in characteristics if c.kind == "categorical"],
        selection_criteria={"iv": {"min": MIN_IV}},
        binning_fit_params=binning_fit_params(characteristics),
    )
    card = optbinning.Scorecard(
        binning_process=process,
        estimator=LogisticRegression(**estimator_params()),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": scaling.pdo,
            "odds": scaling.odds,
            "scorecard_points": scaling.points,
        },
        rounding=True,
    )
    with quiet_optbinning():
        card.fit(frame[names], bad)
    return card


def export_points_table(
    card: Any,
    characteristics: Sequence[Characteristic] = CHARACTERISTICS,
    scaling: Scaling = SCALING,
) -> dict[str, Any]:
    """The fitted card as plain JSON data (the ``FORMAT`` documented in decisioning-models.md)."""
    process = card.binning_process_
    selected = {str(n) for n in process.get_support(names=True)}
    with quiet_optbinning():
        table = card.table(style="detailed")
    exported: list[dict[str, Any]] = []
    for c in characteristics:
        if c.name not in selected:
            continue
        binning = process.get_binned_variable(c.name)
        rows = table[table["Variable"] == c.name]
        points = [_integer_points(p) for p in rows["Points"].tolist()]
        labels = [str(b) for b in rows["Bin"].tolist()]
        n_bins = len(binning.splits) + (1 if c.kind == "numeric" else 0)
        if labels[n_bins:] != ["Special", "Missing"] or len(points) != n_bins + 2:
            raise RuntimeError(f"{c.name}: unexpected optbinning table layout {labels}")
        if c.kind == "numeric":
            edges: list[float | None] = [None, *(float(s) for s in binning.splits), None]
            bins: list[dict[str, Any]] = [
                {"lower": edges[i], "upper": edges[i + 1], "points": points[i]}
                for i in range(n_bins)
            ]
        else:
            bins = [
                {"categories": sorted(str(v) for v in group), "points": points[i]}
                for i, group in enumerate(binning.splits)
            ]
        exported.append(
            {
                "name": c.name,
                "kind": c.kind,
                "code": c.code,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "bins": bins,
                # No special codes in this data; the missing bin also takes unknown categories
                # (WoE 0, like optbinning's own treatment of unseen categories).
                "missing": {"points": points[n_bins + 1]},
            }
        )
    return {
        "format": FORMAT,
        "scaling": scaling.to_dict(),
        "base_points": 0,
        "characteristics": exported,
    }


def _integer_points(value: Any) -> int:
    as_float = float(value)
    if as_float != round(as_float):
        raise RuntimeError(f"points not rounded: {value}")
    return round(as_float)
