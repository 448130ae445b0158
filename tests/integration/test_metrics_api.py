"""``GET /metrics``: the process's counters in Prometheus text format, and alert records counted
from the database at scrape time, so an alert raised by another process is visible."""

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from lendcore.api.app import create_app
from lendcore.collections.alerts import METRICS as COLLECTIONS
from lendcore.collections.tables import collection_alerts
from lendcore.decisioning.decision_tables import model_alerts
from lendcore.store.db import UnitOfWork

AT = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _model_alert(alert_id: int, kind: str) -> dict[str, object]:
    return {
        "alert_id": alert_id,
        "kind": kind,
        "subject": "score",
        "model_version": "m1",
        "value": 0.31,
        "threshold": 0.25,
        "window_start": date(2026, 5, 1),
        "window_end": date(2026, 5, 31),
        "details": {},
        "created_at": AT,
    }


def test_alert_records_written_by_another_process_are_exported(engine):
    app = create_app(engine)
    with TestClient(app) as client:
        assert not any(name == "lendcore_alert_records" for name, _ in _samples(client))
        with UnitOfWork(engine) as uow:  # as `lendcore model monitor` would, elsewhere
            uow.connection.execute(
                insert(model_alerts), [_model_alert(1, "PSI_DRIFT"), _model_alert(2, "PSI_DRIFT")]
            )
            uow.connection.execute(
                insert(collection_alerts).values(
                    at=AT,
                    kind="CONTACT_OF_CURRENT_LOAN",
                    agent_id="a1",
                    detail="{}",
                    webhook_status="SENT",
                )
            )
            uow.commit()
        samples = _samples(client)
    model = ("lendcore_alert_records", (("kind", "PSI_DRIFT"), ("source", "model")))
    contact = (
        "lendcore_alert_records",
        (("kind", "CONTACT_OF_CURRENT_LOAN"), ("source", "collections")),
    )
    assert samples[model] == 2.0
    assert samples[contact] == 1.0


def test_process_counters_are_exported_with_their_labels(engine):
    app = create_app(engine)
    before = COLLECTIONS.gate_checks.value(verdict="denied")
    COLLECTIONS.gate_checks.inc(verdict="denied")
    with TestClient(app) as client:
        samples = _samples(client)
    key = ("lendcore_collections_gate_checks_total", (("verdict", "denied"),))
    assert samples[key] == before + 1
