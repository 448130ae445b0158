"""Model monitoring over the stored decisions: monthly stability, performance and alerts.

:func:`monitor` reads the ``decisions`` of a window of calendar months and, per month, reports
the application count, the automatic reject rate against its trailing baseline, the score PSI
and every characteristic's PSI against the model's development sample (its own bins, kept in
the artifact), and AUC/KS/Gini where outcomes are known. Each finding above its threshold is an
alert: a ``model_alerts`` row, a WARNING log record and a counter increment.

Where the numbers come from:

- **score**: ``decisions.score`` of the decisions this model version scored (the challenger arm
  scores on another scale and is left out of the score PSI and the performance);
- **characteristics**: the credit profile the applicant sent (``inputs["credit_profile"]``), for
  every decision in the month, whatever arm scored it -- the population is the population;
- **reject rate**: ``outcome == 'REJECT'`` over all decisions of the month (manual reviews are not
  rejects; their later verdicts are the reviewers', not the automatic pipeline's);
- **outcomes**: servicing's ``loans`` carry no application or decision id yet, so outcomes come
  from a labels input (application id -> 1 bad / 0 good, :mod:`~.outcome_labels`): "bad" means
  the loan the decision funded reached 90+ days past due or was written off.

Months are calendar months of ``decision_date`` (the Beijing business date). Re-running is
idempotent: an alert is keyed by (kind, subject, model version, month) and a second run over
the same month finds the row and adds nothing (no second log record, no second count). Reject
spikes are about the pipeline, not one model: their rows carry no model version.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, text

from lendcore.decisioning.artifacts import ModelArtifact, load_model
from lendcore.decisioning.decision_tables import decisions, model_alerts
from lendcore.decisioning.monitoring import (
    MIN_PSI_SAMPLE,
    PSI_ALERT,
    Month,
    PopulationCounts,
    RejectSpikeRule,
    RejectVerdict,
    calendar_months,
    known_performance,
    reject_rate_verdicts,
)
from lendcore.kernel.clock import DEFAULT_TIMEZONE, Clock, SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.ids import SnowflakeIds
from lendcore.observability.metrics import Counter, LabelledCounter, export

log = logging.getLogger("lendcore.decisioning.monitoring")

PSI_DRIFT = "PSI_DRIFT"
REJECT_RATE_SPIKE = "REJECT_RATE_SPIKE"
REJECT_SUBJECT = "reject_rate"
_LOCK_KEY = zlib.crc32(b"lendcore.model_alerts")  # PostgreSQL advisory lock of alert writers
_IDS = SnowflakeIds()


@dataclass
class MonitoringMetrics:
    """Prometheus counters; the process-wide :data:`METRICS` is exported at ``GET /metrics``
    (a CLI run's counters die with it: the alert records are exported too, durable)."""

    alerts: Counter = field(
        default_factory=lambda: LabelledCounter(
            "lendcore_model_alerts_total",
            "model monitoring alerts raised, by kind and subject",
            ["kind", "subject"],
        )
    )
    runs: Counter = field(
        default_factory=lambda: LabelledCounter(
            "lendcore_model_monitor_runs_total", "model monitoring runs", ["model"]
        )
    )


METRICS = MonitoringMetrics()
export(METRICS.alerts, METRICS.runs)


# ---- the report ----------------------------------------------------------------------------


@dataclass
class _MonthData:
    month: Month
    population: PopulationCounts | None  # None for the baseline months before the window
    applications: int = 0
    rejects: int = 0
    scores: list[float] = field(default_factory=list)  # scored by this model, with a label
    bads: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class MonitorReport:
    model: dict[str, Any]
    window: dict[str, Any]
    settings: dict[str, Any]
    months: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    performance: dict[str, Any] | None  # the whole window, where outcomes are known

    @property
    def new_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["new"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "window": self.window,
            "settings": self.settings,
            "months": self.months,
            "performance": self.performance,
            "alerts": self.alerts,
            "alert_count": len(self.alerts),
            "new_alert_count": len(self.new_alerts),
        }


def _profile(inputs: Any, context: Any) -> Mapping[str, Any] | None:
    """The credit profile the applicant sent: the masked request's ``credit_profile``."""
    for document in (inputs, context):
        if isinstance(document, Mapping):
            profile = document.get("credit_profile")
            if isinstance(profile, Mapping) and "characteristics" not in profile:
                return profile
    return None


def _bounds(first: date, until: date) -> tuple[datetime, datetime]:
    """A UTC ``created_at`` range safely around the business dates (the index does the work;
    ``decision_date`` decides). Two days each side cover the time zone and an end-of-day lag."""
    tz = ZoneInfo(DEFAULT_TIMEZONE)
    low = datetime.combine(first - timedelta(days=2), time(), tz).astimezone(UTC)
    high = datetime.combine(until + timedelta(days=3), time(), tz).astimezone(UTC)
    return low, high


def _read_months(
    connection: Connection,
    artifact: ModelArtifact,
    window: list[Month],
    baseline: list[Month],
    until: date,
    labels: Mapping[int, int],
) -> list[_MonthData]:
    data = [_MonthData(m, None) for m in baseline]
    data += [_MonthData(m, PopulationCounts(artifact.dev_distribution)) for m in window]
    by_month = {(d.month.start.year, d.month.start.month): d for d in data}
    versions = {artifact.version, artifact.short_version}
    first = data[0].month.start
    low, high = _bounds(first, until)
    d = decisions.c
    query = (
        select(
            d.application_id,
            d.decision_date,
            d.outcome,
            d.score,
            d.model_version,
            d.inputs,
            d.context,
        )
        .where(d.created_at >= low, d.created_at < high)
        .where(d.decision_date >= first, d.decision_date <= until)
    )
    # yield_per on the statement (a connection option would stick to the caller's connection)
    rows = connection.execute(query.execution_options(yield_per=2000))
    for row in rows:
        month = by_month[(row.decision_date.year, row.decision_date.month)]
        month.applications += 1
        month.rejects += 1 if row.outcome == "REJECT" else 0
        if month.population is None:
            continue
        profile = _profile(row.inputs, row.context)
        if profile is not None:
            month.population.add_profile(profile)
        if row.score is not None and row.model_version in versions:
            month.population.add_score(float(row.score))
            bad = labels.get(int(row.application_id))
            if bad is not None:
                month.scores.append(float(row.score))
                month.bads.append(bad)
    return data


def _month_document(
    data: _MonthData, verdict: RejectVerdict, stability: dict[str, Any], until: date
) -> dict[str, Any]:
    return {
        "month": data.month.label,
        "start": data.month.start.isoformat(),
        "end": data.month.end.isoformat(),
        "complete": data.month.end <= until,
        "applications": data.applications,
        "rejects": data.rejects,
        "reject_rate": verdict.to_dict(),
        "scored": stability["n"],
        "profiles": stability["profiles"],
        "score": stability["score"],
        "characteristics": stability["characteristics"],
        "outcomes_known": len(data.bads),
        "performance": known_performance(data.scores, data.bads),
    }


@dataclass(frozen=True)
class _Candidate:
    kind: str
    subject: str
    model_version: str | None
    month: Month
    value: float
    threshold: float
    details: dict[str, Any]


def _candidates(
    month: dict[str, Any],
    data: _MonthData,
    verdict: RejectVerdict,
    version: str,
    threshold: float,
) -> list[_Candidate]:
    found: list[_Candidate] = []
    for subject in (["score"] if month["score"]["alert"] else []) + [
        name for name, c in month["characteristics"].items() if c["alert"]
    ]:
        stats = month["score"] if subject == "score" else month["characteristics"][subject]
        details = {
            "month": data.month.label,
            "level": stats["level"],
            "n": month["scored"] if subject == "score" else month["profiles"],
            "expected": stats["expected"],
            "actual": stats["actual"],
        }
        found.append(
            _Candidate(PSI_DRIFT, subject, version, data.month, stats["psi"], threshold, details)
        )
    if verdict.spike and verdict.rate is not None and verdict.trigger is not None:
        details = {"month": data.month.label, **verdict.to_dict()}
        found.append(
            _Candidate(
                REJECT_RATE_SPIKE,
                REJECT_SUBJECT,
                None,
                data.month,
                round(verdict.rate, 6),
                round(verdict.trigger, 6),
                details,
            )
        )
    return found


def _record(
    connection: Connection,
    candidate: _Candidate,
    *,
    now: datetime,
    ids: SnowflakeIds,
    metrics: MonitoringMetrics,
) -> dict[str, Any]:
    """The alert's row, inserted unless (kind, subject, model version, month) already has one."""
    a = model_alerts.c
    same_model = (
        a.model_version.is_(None)
        if candidate.model_version is None
        else a.model_version == candidate.model_version
    )
    existing = connection.execute(
        select(a.alert_id, a.created_at)
        .where(a.kind == candidate.kind, a.subject == candidate.subject, same_model)
        .where(a.window_start == candidate.month.start, a.window_end == candidate.month.end)
        .order_by(a.alert_id)
        .limit(1)
    ).first()
    document = {
        "kind": candidate.kind,
        "subject": candidate.subject,
        "month": candidate.month.label,
        "window_start": candidate.month.start.isoformat(),
        "window_end": candidate.month.end.isoformat(),
        "model_version": candidate.model_version,
        "value": round(candidate.value, 6),
        "threshold": candidate.threshold,
    }
    if existing is not None:
        return {**document, "alert_id": int(existing.alert_id), "new": False}
    alert_id = ids.next_id()
    connection.execute(
        insert(model_alerts).values(
            alert_id=alert_id,
            kind=candidate.kind,
            subject=candidate.subject,
            model_version=candidate.model_version,
            value=candidate.value,
            threshold=candidate.threshold,
            window_start=candidate.month.start,
            window_end=candidate.month.end,
            details=candidate.details,
            created_at=now.astimezone(UTC),
        )
    )
    metrics.alerts.inc(kind=candidate.kind, subject=candidate.subject)
    log.warning(
        "model alert %s subject=%s month=%s value=%.4f threshold=%.4f model=%s alert_id=%s",
        candidate.kind,
        candidate.subject,
        candidate.month.label,
        candidate.value,
        candidate.threshold,
        (candidate.model_version or "-")[:12],
        alert_id,
        extra={"event": "model_alert", "alert": {**document, "alert_id": alert_id}},
    )
    return {**document, "alert_id": alert_id, "new": True}


def monitor(
    connection: Connection,
    *,
    until: date,
    model_version: str | None = None,
    months: int = 6,
    psi_threshold: float = PSI_ALERT,
    reject_spike: RejectSpikeRule | None = None,
    min_psi_sample: int = MIN_PSI_SAMPLE,
    labels: Mapping[int, int] | None = None,
    models_dir: Path | None = None,
    clock: Clock | None = None,
    ids: SnowflakeIds | None = None,
    metrics: MonitoringMetrics = METRICS,
) -> MonitorReport:
    """Monitor ``model_version`` (default: the current scorecard, the champion) over the
    ``months`` calendar months ending with the one holding ``until``; record the alerts.

    Run it inside a unit of work and commit afterwards (new alert rows are written on
    ``connection``). On PostgreSQL concurrent runs are serialised by a transaction-scoped
    advisory lock, on SQLite by the unit of work's write lock, so neither can write the same
    alert twice.
    """
    if not psi_threshold > 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "psi_threshold must be positive")
    if min_psi_sample < 1:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "min_psi_sample must be at least 1")
    rule = reject_spike or RejectSpikeRule()
    artifact = load_model(model_version, directory=models_dir)
    window = calendar_months(until, months)
    baseline: list[Month] = []
    while len(baseline) < rule.baseline_months:
        baseline.insert(0, (baseline[0] if baseline else window[0]).previous())
    label_map = labels or {}
    data = _read_months(connection, artifact, window, baseline, until, label_map)
    verdicts = reject_rate_verdicts([(m.applications, m.rejects) for m in data], rule)

    month_documents: list[dict[str, Any]] = []
    candidates: list[_Candidate] = []
    all_scores: list[float] = []
    all_bads: list[int] = []
    for item, verdict in zip(data, verdicts, strict=True):
        if item.population is None:
            continue
        stability = item.population.stability(psi_threshold, min_psi_sample)
        document = _month_document(item, verdict, stability, until)
        month_documents.append(document)
        candidates += _candidates(document, item, verdict, artifact.version, psi_threshold)
        all_scores += item.scores
        all_bads += item.bads

    if candidates and connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    now = (clock or SystemClock()).now()
    generator = ids or _IDS
    alerts = [_record(connection, c, now=now, ids=generator, metrics=metrics) for c in candidates]
    for document in month_documents:
        document["alerts"] = [
            {"kind": a["kind"], "subject": a["subject"], "alert_id": a["alert_id"]}
            for a in alerts
            if a["month"] == document["month"]
        ]
    metrics.runs.inc(model=artifact.short_version)
    new = sum(a["new"] for a in alerts)
    log.info(
        "model monitor %s %s..%s: %d alerts (%d new)",
        artifact.short_version,
        window[0].start.isoformat(),
        until.isoformat(),
        len(alerts),
        new,
        extra={"event": "model_monitor", "alerts": len(alerts), "new_alerts": new},
    )
    return MonitorReport(
        model={
            "kind": artifact.kind,
            "version": artifact.version,
            "dev_sample": artifact.dev_distribution.get("sample"),
            "dev_n": artifact.dev_distribution.get("n"),
        },
        window={
            "start": window[0].start.isoformat(),
            "until": until.isoformat(),
            "months": [m.label for m in window],
        },
        settings={
            "psi_threshold": psi_threshold,
            "min_psi_sample": min_psi_sample,
            "reject_spike": rule.to_dict(),
            "labels": len(label_map),
        },
        months=month_documents,
        alerts=alerts,
        performance=known_performance(all_scores, all_bads),
    )


def alert_counts(connection: Connection) -> dict[str, int]:
    """Model alert records by kind (the durable side of the alert metric)."""
    rows = connection.execute(
        select(model_alerts.c.kind, func.count()).group_by(model_alerts.c.kind)
    )
    return {str(kind): int(n) for kind, n in rows}
