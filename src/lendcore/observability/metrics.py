"""Prometheus metrics: labelled counters that tests and reports can read back, one process-wide
registry, and the exposition the API serves at ``GET /metrics``.

Counters are prometheus-client ``Counter`` objects. Each one is created outside any registry and
registered explicitly by the module that owns the process-wide instance (``export``), so a test
can build its own ``Metrics()`` with fresh counters and assert on them without colliding with
the global names.

A counter lives in one process: the alerts that ``lendcore model monitor`` (a CLI run) raises
would be lost with its process. Durable alert state is the alert records in the database, so the
API also exports *gauges read from those records at scrape time* (see ``api/metrics.py``); an
alerting rule on ``lendcore_alert_records`` fires whichever process raised the alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PrometheusCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)


class Counter(Protocol):
    def inc(self, amount: int = 1, **labels: str) -> None: ...

    def value(self, **labels: str) -> int: ...


class LabelledCounter:
    """A prometheus-client counter with fixed label names and a read-back for tests/reports."""

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str]) -> None:
        self.name = name
        self._counter = PrometheusCounter(name, documentation, tuple(labelnames), registry=None)

    def inc(self, amount: int = 1, **labels: str) -> None:
        self._counter.labels(**labels).inc(amount)

    def value(self, **labels: str) -> int:
        """The sum over every label set that includes ``labels``."""
        wanted = labels.items()
        return int(
            sum(
                sample.value
                for family in self._counter.collect()
                for sample in family.samples
                if sample.name.endswith("_total") and wanted <= sample.labels.items()
            )
        )

    def collect(self) -> Iterable[Metric]:
        return self._counter.collect()


def export(*counters: Counter) -> None:
    """Register process-wide counters in :data:`REGISTRY` (once, at import of their owner)."""
    for counter in counters:
        if isinstance(counter, LabelledCounter):
            REGISTRY.register(counter)


class RecordGauges(Collector):
    """Gauges computed at scrape time by ``read`` (e.g. alert records counted in the database):
    ``{(label values...): value}`` for one metric family."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        read: Callable[[], Mapping[tuple[str, ...], float]],
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = labelnames
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for label_values, value in sorted(self._read().items()):
            family.add_metric(list(label_values), value)
        return [family]
