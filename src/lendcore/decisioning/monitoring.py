"""Model monitoring math: population stability (PSI), KS, AUC and Gini. Pure, no numpy.

Conventions: ``scores`` are on the card's scale (higher = safer), ``bads`` are outcomes with
1 = bad. AUC is the probability that a random good scores above a random bad (ties count half),
KS the largest gap between the cumulative score distributions of goods and bads.

PSI over bins ``i`` with development shares ``e_i`` and recent shares ``a_i``:

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

with every share floored at ``epsilon`` (1e-4) so an empty bin costs a large but finite amount.
Bins always come from the development sample (score deciles, the points-table bins).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lendcore.decisioning.scorecard import Bins
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError

EPSILON = 1e-4
PSI_ALERT = 0.25  # conventional: < 0.10 stable, 0.10-0.25 watch, >= 0.25 shifted
PSI_WATCH = 0.10


def _invalid(message: str) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_ARGUMENT, message)


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of two distributions over the same bins (counts or shares)."""
    if len(expected) != len(actual) or not expected:
        raise _invalid("expected and actual need the same, non-zero number of bins")
    e_total = float(sum(expected))
    a_total = float(sum(actual))
    if e_total <= 0 or a_total <= 0:
        raise _invalid("each distribution needs a positive total")
    value = 0.0
    for e_count, a_count in zip(expected, actual, strict=True):
        e = max(e_count / e_total, epsilon)
        a = max(a_count / a_total, epsilon)
        value += (a - e) * math.log(a / e)
    return value


@dataclass(frozen=True)
class PsiVerdict:
    psi: float
    level: str  # stable | watch | alert
    alert: bool

    def to_dict(self) -> dict[str, Any]:
        return {"psi": round(self.psi, 6), "level": self.level, "alert": self.alert}


def psi_alert(value: float, threshold: float = PSI_ALERT) -> PsiVerdict:
    """Alert at ``threshold`` (0.25 by default); 'watch' from 0.10 below it."""
    if value >= threshold:
        return PsiVerdict(value, "alert", True)
    return PsiVerdict(value, "watch" if value >= PSI_WATCH else "stable", False)


def quantile_edges(scores: Sequence[float], n_bins: int = 10) -> list[float]:
    """Interior cut points splitting a development sample into (about) equal-count bins.

    Bins are ``(-inf, c1), [c1, c2), ..., [ck, inf)``; ties can merge bins, so there may be
    fewer than ``n_bins``.
    """
    ordered = sorted(scores)
    if not ordered:
        raise _invalid("no scores")
    cuts = {ordered[(len(ordered) * k) // n_bins] for k in range(1, n_bins)}
    return sorted(c for c in cuts if c > ordered[0])


def bin_counts(edges: Sequence[float], scores: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for s in scores:
        counts[bisect_right(edges, s)] += 1
    return counts


def _ranked(scores: Sequence[float], bads: Sequence[int]) -> list[tuple[float, int, int]]:
    """(score, goods, bads) per distinct score, ascending."""
    if len(scores) != len(bads):
        raise _invalid("scores and outcomes differ in length")
    groups: dict[float, list[int]] = {}
    for s, b in zip(scores, bads, strict=True):
        if b not in (0, 1):
            raise _invalid(f"outcome must be 0 (good) or 1 (bad), got {b!r}")
        g = groups.setdefault(float(s), [0, 0])
        g[int(b)] += 1
    return [(s, g[0], g[1]) for s, g in sorted(groups.items())]


def auc(scores: Sequence[float], bads: Sequence[int]) -> float:
    """P(score of a random good > score of a random bad), ties counting one half."""
    ranked = _ranked(scores, bads)
    n_good = sum(g for _, g, _ in ranked)
    n_bad = sum(b for _, _, b in ranked)
    if not n_good or not n_bad:
        raise _invalid("AUC needs both goods and bads")
    wins = 0.0
    bads_below = 0
    for _, goods, bad_here in ranked:
        wins += goods * (bads_below + 0.5 * bad_here)
        bads_below += bad_here
    return wins / (n_good * n_bad)


def ks(scores: Sequence[float], bads: Sequence[int]) -> float:
    """Kolmogorov-Smirnov statistic: max |F_bad(s) - F_good(s)| over score thresholds."""
    ranked = _ranked(scores, bads)
    n_good = sum(g for _, g, _ in ranked)
    n_bad = sum(b for _, _, b in ranked)
    if not n_good or not n_bad:
        raise _invalid("KS needs both goods and bads")
    cum_good = cum_bad = 0
    best = 0.0
    for _, goods, bad_here in ranked:
        cum_good += goods
        cum_bad += bad_here
        best = max(best, abs(cum_bad / n_bad - cum_good / n_good))
    return best


def performance(scores: Sequence[float], bads: Sequence[int]) -> dict[str, Any]:
    """AUC, KS and Gini (= 2 AUC - 1) with the sample size and bad rate."""
    a = auc(scores, bads)
    return {
        "n": len(scores),
        "bads": int(sum(bads)),
        "bad_rate": round(sum(bads) / len(bads), 6),
        "auc": round(a, 6),
        "ks": round(ks(scores, bads), 6),
        "gini": round(2 * a - 1, 6),
    }


def characteristic_counts(bins: Bins, values: Sequence[Any]) -> tuple[list[int], int]:
    """Counts per bin (missing last) and how many values had the wrong type.

    Monitoring never fails on one bad row: a value of the wrong type is counted as missing.
    """
    counts = [0] * (bins.missing_index + 1)
    invalid = 0
    for value in values:
        try:
            counts[bins.locate(value)] += 1
        except LendcoreError:
            counts[bins.missing_index] += 1
            invalid += 1
    return counts, invalid


def score_distribution(
    scores: Sequence[float], bads: Sequence[int], n_bins: int = 10
) -> dict[str, Any]:
    """The development score distribution kept in a model artifact."""
    edges = quantile_edges(scores, n_bins)
    bad_scores = [s for s, b in zip(scores, bads, strict=True) if b]
    return {
        "edges": edges,
        "counts": bin_counts(edges, scores),
        "bad_counts": bin_counts(edges, bad_scores),
    }


def monitor(
    dev_distribution: Mapping[str, Any],
    recent_scores: Sequence[float],
    recent_profiles: Sequence[Mapping[str, Any]] = (),
    outcomes: Sequence[int | None] | None = None,
    threshold: float = PSI_ALERT,
) -> dict[str, Any]:
    """Stability of the score and of every characteristic against the development sample,
    and, when outcomes are known, the discrimination (AUC/KS/Gini) on the recent sample.

    ``dev_distribution`` is the ``dev_distribution`` of a model artifact. ``outcomes`` pairs
    with ``recent_scores``; ``None`` marks an outcome not known yet. JSON-ready result.
    """
    score_dev = dev_distribution["score"]
    edges = [float(e) for e in score_dev["edges"]]
    result: dict[str, Any] = {"n": len(recent_scores), "threshold": threshold}
    if recent_scores:
        actual = bin_counts(edges, recent_scores)
        verdict = psi_alert(psi(score_dev["counts"], actual), threshold)
        result["score"] = {**verdict.to_dict(), "expected": score_dev["counts"], "actual": actual}
    else:
        result["score"] = {"psi": None, "level": "no_data", "alert": False}
    characteristics: dict[str, Any] = {}
    if recent_profiles:
        for name, spec in dev_distribution.get("characteristics", {}).items():
            bins = Bins(name, spec["kind"], spec["bins"])
            actual, invalid = characteristic_counts(bins, [p.get(name) for p in recent_profiles])
            verdict = psi_alert(psi(spec["counts"], actual), threshold)
            characteristics[name] = {
                **verdict.to_dict(),
                "expected": spec["counts"],
                "actual": actual,
                "invalid": invalid,
            }
    result["characteristics"] = characteristics
    alerts = [name for name, c in characteristics.items() if c["alert"]]
    if result["score"]["alert"]:
        alerts.insert(0, "score")
    result["alerts"] = alerts
    result["alert"] = bool(alerts)
    result["performance"] = None
    if outcomes is not None:
        if len(outcomes) != len(recent_scores):
            raise _invalid("outcomes and recent_scores differ in length")
        known = [(s, o) for s, o in zip(recent_scores, outcomes, strict=True) if o is not None]
        bads = [o for _, o in known]
        if known and 0 < sum(bads) < len(bads):
            result["performance"] = performance([s for s, _ in known], bads)
    return result
