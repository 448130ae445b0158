"""Shared test settings.

Hypothesis explores new random examples on every local run; under CI (``CI`` set) it is
derandomized so a submission's verdict does not depend on the draw.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
