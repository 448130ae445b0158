"""Two agents calling the same contact at once cannot both pass: 50 simultaneous attempts, each
on its own PostgreSQL connection, and exactly one is allowed."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy.pool import NullPool

from lendcore.collections.audit import verify_table
from lendcore.collections.model import Outcome
from lendcore.collections.service import check_and_reserve
from lendcore.store.db import UnitOfWork, make_engine

from .test_collections_support import (
    MORNING,
    add_contacts,
    add_loan,
    attempts,
    audit_records,
    call,
    make_context,
    request,
)

CLIENTS = 50


def test_fifty_simultaneous_attempts_on_one_contact_allow_exactly_one(postgres_url, engine):
    ctx = make_context()
    borrower = add_loan(engine, 1, 10)
    add_contacts(engine, ctx, borrower)
    for n in range(3):  # the borrower is unreachable: the contact may be called, once
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    when = MORNING + timedelta(hours=1)
    clients = make_engine(postgres_url, poolclass=NullPool)  # a connection per client
    barrier = threading.Barrier(CLIENTS)
    verdicts: list[tuple[str, ...]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        try:
            with UnitOfWork(clients) as uow:
                barrier.wait()
                decision = check_and_reserve(
                    uow, request(1, when, contact_id="c1", agent=f"agent-{n}"), ctx
                )
                uow.commit()
            with lock:
                verdicts.append(decision.reasons)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clients.dispose()

    assert errors == []
    outcome = Counter(reasons for reasons in verdicts)
    assert outcome[()] == 1, outcome
    assert outcome[("CONTACT_INTERVAL",)] == CLIENTS - 1
    assert sum(1 for a in attempts(engine) if a["contact_id"] == "c1") == 1
    checks = [r for r in audit_records(engine, "gate.check") if r["payload"]["contact_id"]]
    assert len(checks) == CLIENTS
    with engine.connect() as connection:
        assert verify_table(connection).ok
