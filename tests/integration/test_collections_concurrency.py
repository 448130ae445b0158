"""Two agents calling the same contact at once cannot both pass: 50 simultaneous attempts, each
on its own PostgreSQL connection, and exactly one is allowed; on SQLite, separate engines (each
with its own in-process lock, so only the database file's lock serialises them) in threads and
separate processes on one file, and exactly one is allowed too."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.pool import NullPool

from lendcore.collections.audit import verify_table
from lendcore.collections.model import Outcome
from lendcore.collections.service import check_and_reserve
from lendcore.store.db import UnitOfWork, make_engine

from .racing import race
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

    def attempt(n: int, barrier: threading.Barrier) -> tuple[str, ...]:
        with UnitOfWork(clients) as uow:
            barrier.wait()
            decision = check_and_reserve(
                uow, request(1, when, contact_id="c1", agent=f"agent-{n}"), ctx
            )
            uow.commit()
        return decision.reasons

    verdicts, errors = race(CLIENTS, attempt)
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


@pytest.fixture
def sqlite_url(db_url: str) -> str:
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite variant")
    return db_url


def _prepared(engine):
    ctx = make_context()
    borrower = add_loan(engine, 1, 10)
    add_contacts(engine, ctx, borrower)
    for n in range(3):  # the borrower is unreachable: the contact may be called, once
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    return MORNING + timedelta(hours=1)


def _assert_exactly_one(engine, verdicts, clients):
    outcome = Counter(verdicts)
    assert outcome[()] == 1, outcome
    assert outcome[("CONTACT_INTERVAL",)] == clients - 1, outcome
    assert sum(1 for a in attempts(engine) if a["contact_id"] == "c1") == 1
    with engine.connect() as connection:
        assert verify_table(connection).ok


SQLITE_THREADS = 12


def test_simultaneous_attempts_from_separate_sqlite_engines_allow_exactly_one(sqlite_url, engine):
    when = _prepared(engine)
    ctx = make_context()
    engines = [make_engine(sqlite_url) for _ in range(SQLITE_THREADS)]  # a lock of their own each

    def attempt(n: int, barrier: threading.Barrier) -> tuple[str, ...]:
        barrier.wait()
        with UnitOfWork(engines[n]) as uow:
            decision = check_and_reserve(
                uow, request(1, when, contact_id="c1", agent=f"agent-{n}"), ctx
            )
            uow.commit()
        return decision.reasons

    verdicts, errors = race(SQLITE_THREADS, attempt)
    for each in engines:
        each.dispose()
    assert errors == []
    _assert_exactly_one(engine, verdicts, SQLITE_THREADS)


SQLITE_PROCESSES = 4


def _process_attempt(url: str, n: int, when_iso: str, barrier, results) -> None:
    from datetime import datetime

    engine = make_engine(url)
    try:
        ctx = make_context()
        when = datetime.fromisoformat(when_iso)
        barrier.wait()
        with UnitOfWork(engine) as uow:
            decision = check_and_reserve(
                uow, request(1, when, contact_id="c1", agent=f"proc-{n}"), ctx
            )
            uow.commit()
        results.put(decision.reasons)
    except BaseException as exc:
        results.put(("ERROR", repr(exc)))
    finally:
        engine.dispose()


def test_simultaneous_attempts_from_separate_processes_on_one_sqlite_file_allow_exactly_one(
    sqlite_url, engine
):
    when = _prepared(engine)
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(SQLITE_PROCESSES)
    results = spawn.Queue()
    processes = [
        spawn.Process(
            target=_process_attempt, args=(sqlite_url, n, when.isoformat(), barrier, results)
        )
        for n in range(SQLITE_PROCESSES)
    ]
    for process in processes:
        process.start()
    verdicts = [tuple(results.get(timeout=120)) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    _assert_exactly_one(engine, verdicts, SQLITE_PROCESSES)
