"""`monitor` over stored decisions: a shifted month trips PSI and reject-rate alerts, stable
months do not, and re-running records nothing twice."""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from lendcore.decisioning.artifacts import ModelArtifact, load_model
from lendcore.decisioning.data import load_german_credit
from lendcore.decisioning.decision_tables import decisions, model_alerts
from lendcore.decisioning.monitor_service import (
    PSI_DRIFT,
    REJECT_RATE_SPIKE,
    MonitoringMetrics,
    monitor,
)
from lendcore.decisioning.monitoring import RejectSpikeRule
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.ids import SequentialIds
from lendcore.store.db import UnitOfWork

MODELS = Path(__file__).resolve().parents[2] / "models"
MONTHS = [date(2026, m, 1) for m in range(1, 7)]  # January to June 2026
UNTIL = date(2026, 6, 30)
PER_MONTH = 200
CUTOFF = 480  # the test's policy: reject below this score (about 16% of the data set)
SHIFTED = ("checking_status", "duration_months", "savings")


@pytest.fixture(scope="module")
def card() -> ModelArtifact:
    return load_model(kind="scorecard", directory=MODELS)


@pytest.fixture(scope="module")
def german() -> tuple[list[dict[str, Any]], list[int]]:
    data = load_german_credit()
    return data.profiles(), [int(b) for b in data.bad]


def _worst_value(spec: dict[str, Any]) -> Any:
    """A value in the characteristic's bin that scores the fewest points."""
    worst = min(spec["bins"], key=lambda b: b["points"])
    if spec["kind"] == "categorical":
        return worst["categories"][0]
    if worst["upper"] is None:
        return int(worst["lower"]) + 2
    if worst["lower"] is None:
        return int(worst["upper"]) - 1
    return (worst["lower"] + worst["upper"]) / 2


def _worst_bins(card: ModelArtifact) -> dict[str, Any]:
    table = card.content["points_table"]["characteristics"]
    return {c["name"]: _worst_value(c) for c in table if c["name"] in SHIFTED}


def _row(
    application_id: int,
    day: date,
    profile: dict[str, Any],
    card: ModelArtifact,
    *,
    model_version: str | None = None,
    score: float | None = None,
) -> dict[str, Any]:
    result = card.score(profile)
    score = result.score if score is None else score
    created = datetime.combine(day, time(2, 0), UTC)  # 10:00 in Beijing
    return {
        "decision_id": 10_000_000 + application_id,
        "application_id": application_id,
        "applicant_key": f"k{application_id:08d}",
        "channel": "api",
        "created_at": created,
        "decision_date": day,
        "product": "consumer_instalment",
        "amount_fen": 500_000,
        "term": 12,
        "outcome": "REJECT" if score < CUTOFF else "APPROVE",
        "tier": "standard",
        "score": score,
        "pd": result.pd,
        "arm": "champion",
        "model_version": model_version or card.version,
        "policy_versions": {"admission": "x"},
        "inputs": {"product": "consumer_instalment", "credit_profile": profile},
        "context": {"credit_profile": {"has_credit_history": True, "characteristics": 12}},
        "result": {"reasons": []},
    }


def _populate(engine: Engine, card: ModelArtifact, german, *, shift_june: bool) -> dict[int, int]:
    """Six months of decisions (June shifted to the worst bins when ``shift_june``); returns
    the outcome labels of the approved applications."""
    profiles, bads = german
    rng = random.Random(20260630)
    worst = _worst_bins(card)
    rows: list[dict[str, Any]] = []
    labels: dict[int, int] = {}
    application_id = 1
    for first in MONTHS:
        for n in range(PER_MONTH):
            index = rng.randrange(len(profiles))
            profile = dict(profiles[index])
            if shift_june and first.month == 6:
                profile.update(worst)
            row = _row(application_id, first + timedelta(days=n % 28), profile, card)
            if row["outcome"] == "APPROVE":
                labels[application_id] = bads[index]
            rows.append(row)
            application_id += 1
    # The challenger arm scores on its own scale: its scores must stay out of the card's PSI.
    for n in range(60):
        profile = dict(profiles[n])
        rows.append(
            _row(
                application_id, date(2026, 3, 10), profile, card, model_version="c" * 64, score=9e3
            )
        )
        application_id += 1
    with UnitOfWork(engine) as uow:
        uow.connection.execute(insert(decisions), rows)
        uow.commit()
    return labels


def _run(engine: Engine, metrics: MonitoringMetrics, **kwargs: Any):
    with UnitOfWork(engine) as uow:
        report = monitor(
            uow.connection,
            until=kwargs.pop("until", UNTIL),
            models_dir=MODELS,
            clock=FixedClock.at_date(date(2026, 7, 1)),
            metrics=metrics,
            **kwargs,
        )
        uow.commit()
    return report


def _alert_rows(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                select(
                    model_alerts.c.kind,
                    model_alerts.c.subject,
                    model_alerts.c.model_version,
                    model_alerts.c.window_start,
                    model_alerts.c.window_end,
                ).order_by(model_alerts.c.alert_id)
            )
        ]


def test_a_stable_population_raises_no_alert(engine, card, german):
    labels = _populate(engine, card, german, shift_june=False)
    report = _run(engine, MonitoringMetrics(), labels=labels)
    assert report.alerts == [], report.alerts
    assert _alert_rows(engine) == []
    assert [m["month"] for m in report.months] == [f"2026-{m:02d}" for m in range(1, 7)]
    for month in report.months:
        assert month["applications"] == PER_MONTH + (60 if month["month"] == "2026-03" else 0)
        assert month["scored"] == PER_MONTH  # the challenger's rows are not the card's scores
        assert month["score"]["psi"] < 0.10, month["month"]
        assert max(c["psi"] for c in month["characteristics"].values()) < 0.25
        assert month["performance"]["auc"] > 0.6
    assert report.performance is not None and report.performance["auc"] >= 0.75


def test_a_shifted_month_trips_psi_and_reject_rate_alerts(engine, card, german, caplog):
    labels = _populate(engine, card, german, shift_june=True)
    metrics = MonitoringMetrics()
    with caplog.at_level(logging.WARNING, logger="lendcore.decisioning.monitoring"):
        report = _run(engine, metrics, labels=labels, ids=SequentialIds(500))
    june = report.months[-1]
    assert june["score"]["alert"] and june["score"]["psi"] >= 0.25
    assert june["reject_rate"]["spike"] and june["reject_rate"]["rate"] > 0.5
    assert all(not m["alerts"] for m in report.months[:-1])
    expected = {(PSI_DRIFT, "score")} | {(PSI_DRIFT, name) for name in SHIFTED}
    expected |= {(REJECT_RATE_SPIKE, "reject_rate")}
    assert {(a["kind"], a["subject"]) for a in report.alerts} == expected
    rows = _alert_rows(engine)
    assert sorted((k, s) for k, s, *_ in rows) == sorted(expected)
    for kind, _subject, version, start, end in rows:
        assert (start, end) == (date(2026, 6, 1), date(2026, 6, 30))
        assert version == (None if kind == REJECT_RATE_SPIKE else card.version)
    assert metrics.alerts.value(kind=PSI_DRIFT) == 1 + len(SHIFTED)
    assert metrics.alerts.value(kind=REJECT_RATE_SPIKE) == 1
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "model_alert"]
    assert len(warnings) == len(expected)
    assert all(r.levelno == logging.WARNING for r in warnings)


def test_rerunning_the_monitor_adds_no_duplicate_alert(engine, card, german, caplog):
    _populate(engine, card, german, shift_june=True)
    metrics = MonitoringMetrics()
    first = _run(engine, metrics)
    assert first.new_alerts and len(first.new_alerts) == len(first.alerts)
    rows = _alert_rows(engine)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lendcore.decisioning.monitoring"):
        second = _run(engine, metrics)
        # A later window that still holds June finds the same rows.
        later = _run(engine, metrics, until=date(2026, 7, 20), months=2)
    assert second.new_alerts == [] and later.new_alerts == []
    assert [a["alert_id"] for a in second.alerts] == [a["alert_id"] for a in first.alerts]
    assert {a["alert_id"] for a in later.alerts} <= {a["alert_id"] for a in first.alerts}
    assert _alert_rows(engine) == rows
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(model_alerts)).scalar() == len(
            rows
        )
    assert metrics.alerts.value() == len(rows)
    assert not [r for r in caplog.records if getattr(r, "event", None) == "model_alert"]


def test_a_stricter_reject_rule_or_a_small_sample_changes_what_alerts(engine, card, german):
    _populate(engine, card, german, shift_june=True)
    # Every month has 200 applications: below a 500 minimum no PSI alert is raised, and a
    # reject rule that needs 60 points of rise lets June's ~50-point rise through.
    rule = RejectSpikeRule(points=0.6, ratio=None, min_points=0.05)
    report = _run(engine, MonitoringMetrics(), min_psi_sample=500, reject_spike=rule)
    assert report.alerts == []
    assert report.months[-1]["score"]["level"] == "insufficient_sample"
    assert report.months[-1]["reject_rate"]["status"] == "normal"
