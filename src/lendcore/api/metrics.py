"""``GET /metrics``: Prometheus exposition of the process's counters and of the alert records.

Counters (gate checks, decrypts, alerts raised in this process, model-monitor runs) come from the
process-wide registry. ``lendcore_alert_records{source, kind}`` is counted from the alert tables
at scrape time, so an alert raised by another process (``lendcore model monitor`` run from cron,
a collections worker) is visible here too; the query is two grouped counts over small tables.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine

from lendcore.collections import alerts as collection_alerts
from lendcore.decisioning import monitor_service
from lendcore.observability.metrics import REGISTRY, RecordGauges

router = APIRouter(tags=["ops"])


def alert_records(engine: Engine) -> dict[tuple[str, ...], float]:
    with engine.connect() as connection:
        counts: dict[tuple[str, ...], float] = {
            ("collections", kind): float(n)
            for kind, n in collection_alerts.alert_counts(connection).items()
        }
        counts |= {
            ("model", kind): float(n)
            for kind, n in monitor_service.alert_counts(connection).items()
        }
    return counts


def records_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(
        RecordGauges(
            "lendcore_alert_records",
            "alert records in the database, by source and kind (any process raised them)",
            ("source", "kind"),
            lambda: alert_records(engine),
        )
    )
    return registry


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics 监控指标",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request) -> Response:
    app_state = request.app.state
    registry = getattr(app_state, "metrics_registry", None)
    if registry is None:
        registry = app_state.metrics_registry = records_registry(app_state.engine)
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
