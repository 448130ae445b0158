"""Metrics (Prometheus) shared by every module; see :mod:`lendcore.observability.metrics`."""
