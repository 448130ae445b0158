"""The hardship engine as the API and the case service use it: one policy store per process
(hot-reloading its files), the engine with the business date, policy queries."""

from __future__ import annotations

import functools
from typing import Any

from lendcore.hardship.calculate import calculate
from lendcore.hardship.store import PolicyStore, default_store
from lendcore.kernel.clock import Clock, SystemClock


@functools.cache
def _store() -> PolicyStore:
    return default_store()


def calculator(clock: Clock | None = None, store: PolicyStore | None = None) -> Any:
    """``calculate`` bound to the policy store and today's business date (statement dates and
    policy effective dates are judged against it)."""
    return functools.partial(
        calculate,
        policy_store=store or _store(),
        as_of=(clock or SystemClock()).business_date(),
    )


def query_policies(
    *,
    policy_id: str | None = None,
    scope: str | None = None,
    product: str | None = None,
    dpd: int | None = None,
    store: PolicyStore | None = None,
) -> dict[str, Any]:
    found, invalid = (store or _store()).search(
        policy_id=policy_id, scope=scope, product=product, days_past_due=dpd
    )
    return {"policies": found, "count": len(found), "invalid": invalid}
