"""Model monitoring math: population stability (PSI), KS, AUC and Gini. Pure, no numpy.

Conventions: ``scores`` are on the card's scale (higher = safer), ``bads`` are outcomes with
1 = bad. AUC is the probability that a random good scores above a random bad (ties count half),
KS the largest gap between the cumulative score distributions of goods and bads.

PSI over bins ``i`` with development shares ``e_i`` and recent shares ``a_i``:

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

with every share floored at ``epsilon`` (1e-4) so an empty bin costs a large but finite amount.
Bins always come from the development sample (score deciles, the points-table bins).

Monitoring by month (:func:`calendar_months`) feeds one :class:`PopulationCounts` per month and
compares each month's automatic reject rate with the pooled rate of the months before it
(:class:`RejectSpikeRule`). The database side is :mod:`lendcore.decisioning.monitor_service`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from lendcore.decisioning.scorecard import Bins
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError

EPSILON = 1e-4
PSI_ALERT = 0.25  # conventional: < 0.10 stable, 0.10-0.25 watch, >= 0.25 shifted
PSI_WATCH = 0.10
MIN_PSI_SAMPLE = 100  # a month's PSI alerts only from this many scores (or profiles)


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


class PopulationCounts:
    """Running bin counts of one recent population against a development distribution.

    Scores and profiles are added one at a time (a month of decisions streams through without
    being held in memory); :meth:`stability` turns the counts into PSI verdicts. Bins are the
    development sample's: score deciles and each characteristic's points-table bins plus its
    missing bin.
    """

    def __init__(self, dev_distribution: Mapping[str, Any]) -> None:
        score_dev = dev_distribution["score"]
        self.score_edges = [float(e) for e in score_dev["edges"]]
        self.score_expected = [int(c) for c in score_dev["counts"]]
        self.score_actual = [0] * (len(self.score_edges) + 1)
        self.scored = 0
        self.profiles = 0
        self._bins: dict[str, Bins] = {}
        self._expected: dict[str, list[int]] = {}
        self.actual: dict[str, list[int]] = {}
        self.invalid: dict[str, int] = {}
        for name, spec in dev_distribution.get("characteristics", {}).items():
            bins = Bins(name, spec["kind"], spec["bins"])
            self._bins[name] = bins
            self._expected[name] = [int(c) for c in spec["counts"]]
            self.actual[name] = [0] * (bins.missing_index + 1)
            self.invalid[name] = 0

    @property
    def characteristics(self) -> tuple[str, ...]:
        return tuple(self._bins)

    def add_score(self, score: float) -> None:
        self.score_actual[bisect_right(self.score_edges, score)] += 1
        self.scored += 1

    def add_profile(self, profile: Mapping[str, Any]) -> None:
        """Bin every characteristic of one credit profile; a value of the wrong type counts as
        missing (and as ``invalid``): monitoring never fails on one bad row."""
        self.profiles += 1
        for name, bins in self._bins.items():
            try:
                index = bins.locate(profile.get(name))
            except LendcoreError:
                index = bins.missing_index
                self.invalid[name] += 1
            self.actual[name][index] += 1

    def stability(self, threshold: float = PSI_ALERT, min_sample: int = 0) -> dict[str, Any]:
        """PSI verdicts of the score and of every characteristic, JSON-ready.

        Below ``min_sample`` scores (or profiles) the PSI is still reported, but its level is
        ``insufficient_sample`` and it raises no alert: a handful of applications says nothing
        about a population.
        """

        def verdict(expected: list[int], actual: list[int], n: int) -> dict[str, Any]:
            document = psi_alert(psi(expected, actual), threshold).to_dict()
            if n < min_sample:
                document.update(level="insufficient_sample", alert=False)
            return {**document, "expected": expected, "actual": list(actual)}

        result: dict[str, Any] = {"n": self.scored, "profiles": self.profiles}
        if self.scored:
            result["score"] = verdict(self.score_expected, self.score_actual, self.scored)
        else:
            result["score"] = {"psi": None, "level": "no_data", "alert": False}
        characteristics: dict[str, Any] = {}
        if self.profiles:
            for name in self._bins:
                characteristics[name] = {
                    **verdict(self._expected[name], self.actual[name], self.profiles),
                    "invalid": self.invalid[name],
                }
        result["characteristics"] = characteristics
        alerts = [name for name, c in characteristics.items() if c["alert"]]
        if result["score"]["alert"]:
            alerts.insert(0, "score")
        result["alerts"] = alerts
        result["alert"] = bool(alerts)
        return result


def known_performance(
    scores: Sequence[float], outcomes: Sequence[int | None]
) -> dict[str, Any] | None:
    """AUC/KS/Gini over the pairs whose outcome is known (not ``None``); ``None`` unless the
    known outcomes hold both goods and bads."""
    if len(outcomes) != len(scores):
        raise _invalid("outcomes and scores differ in length")
    known = [(s, o) for s, o in zip(scores, outcomes, strict=True) if o is not None]
    bads = [o for _, o in known]
    if known and 0 < sum(bads) < len(bads):
        return performance([s for s, _ in known], bads)
    return None


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
    counts = PopulationCounts(dev_distribution)
    for score in recent_scores:
        counts.add_score(score)
    for profile in recent_profiles:
        counts.add_profile(profile)
    stability = counts.stability(threshold)
    result: dict[str, Any] = {"n": len(recent_scores), "threshold": threshold}
    result.update((k, stability[k]) for k in ("score", "characteristics", "alerts", "alert"))
    result["performance"] = None
    if outcomes is not None:
        if len(outcomes) != len(recent_scores):
            raise _invalid("outcomes and recent_scores differ in length")
        result["performance"] = known_performance(recent_scores, outcomes)
    return result


# ---- calendar months -----------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    """One calendar month: ``start`` is its first day, ``end`` its last."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @classmethod
    def of(cls, day: date) -> Month:
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return cls(start, following - timedelta(days=1))

    def previous(self) -> Month:
        return Month.of(self.start - timedelta(days=1))


def calendar_months(until: date, months: int) -> list[Month]:
    """The ``months`` calendar months ending with the one that contains ``until``, oldest
    first. The last month may be running (``until`` before its end); it is still that month."""
    if months < 1:
        raise _invalid(f"months must be at least 1, got {months}")
    result = [Month.of(until)]
    while len(result) < months:
        result.append(result[-1].previous())
    return result[::-1]


# ---- reject-rate spikes --------------------------------------------------------------------


@dataclass(frozen=True)
class RejectSpikeRule:
    """When a month's automatic reject rate is a spike over its trailing baseline.

    The baseline is the pooled reject rate of the ``baseline_months`` months before (rejects
    over applications, so a busy month weighs more). A month spikes when its rate is **above**
    the trigger::

        trigger = min(baseline + points, max(baseline * ratio, baseline + min_points))

    i.e. a rise of ``points`` (15 percentage points) always counts, and a rise to ``ratio``
    times the baseline (1.5x) counts once it is at least ``min_points`` (5 points) -- so a
    2% -> 3.1% wobble is not an alarm. ``ratio=None`` uses the absolute test only. Months (or
    baselines) with fewer than ``min_applications`` applications are not judged.
    """

    points: float = 0.15
    ratio: float | None = 1.5
    min_points: float = 0.05
    baseline_months: int = 3
    min_applications: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.points <= 1:
            raise _invalid(f"reject spike points must be in (0, 1], got {self.points}")
        if self.ratio is not None and not self.ratio > 1:
            raise _invalid(f"reject spike ratio must be above 1, got {self.ratio}")
        if not 0 <= self.min_points <= self.points:
            raise _invalid("reject spike min_points must be in [0, points]")
        if self.baseline_months < 1 or self.min_applications < 1:
            raise _invalid("baseline_months and min_applications must be at least 1")

    def trigger(self, baseline: float) -> float:
        """The reject rate above which a month spikes, given its baseline rate."""
        absolute = baseline + self.points
        if self.ratio is None:
            return absolute
        return min(absolute, max(baseline * self.ratio, baseline + self.min_points))

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "ratio": self.ratio,
            "min_points": self.min_points,
            "baseline_months": self.baseline_months,
            "min_applications": self.min_applications,
        }


@dataclass(frozen=True)
class RejectVerdict:
    applications: int
    rejects: int
    baseline: float | None  # pooled rate of the months before, None without enough of them
    baseline_applications: int
    trigger: float | None
    status: str  # spike | normal | no_baseline | insufficient_sample | no_data

    @property
    def rate(self) -> float | None:
        return self.rejects / self.applications if self.applications else None

    @property
    def spike(self) -> bool:
        return self.status == "spike"

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "applications": self.applications,
            "rejects": self.rejects,
            "rate": rounded(self.rate),
            "baseline": rounded(self.baseline),
            "baseline_applications": self.baseline_applications,
            "trigger": rounded(self.trigger),
            "status": self.status,
            "spike": self.spike,
        }


def reject_rate_verdicts(
    history: Sequence[tuple[int, int]], rule: RejectSpikeRule | None = None
) -> list[RejectVerdict]:
    """A verdict for every month of ``history`` -- ``(applications, rejects)`` per consecutive
    month, oldest first -- against the pooled rate of up to ``rule.baseline_months`` months
    before it. Feed the months before the reporting window too, so its first month has a
    baseline."""
    rule = rule or RejectSpikeRule()
    verdicts: list[RejectVerdict] = []
    for index, (applications, rejects) in enumerate(history):
        if applications < 0 or not 0 <= rejects <= applications:
            raise _invalid(f"month {index}: need 0 <= rejects <= applications")
        before = history[max(0, index - rule.baseline_months) : index]
        base_n = sum(n for n, _ in before)
        baseline = sum(r for _, r in before) / base_n if base_n else None
        trigger = None
        if not applications:
            status = "no_data"
        elif applications < rule.min_applications:
            status = "insufficient_sample"
        elif baseline is None or base_n < rule.min_applications:
            status = "no_baseline"
        else:
            trigger = rule.trigger(baseline)
            status = "spike" if rejects / applications > trigger else "normal"
        verdicts.append(RejectVerdict(applications, rejects, baseline, base_n, trigger, status))
    return verdicts
