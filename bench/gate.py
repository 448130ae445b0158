"""Contact-gate throughput: checks per second in-process (the pure gate, the floor) and with the
database check-and-reserve on SQLite and PostgreSQL, each with its ratio to the pure gate.

Not a test: prints figures, never fails on timing. Run:
`.venv/bin/python bench/gate.py [--seconds 3] [--loans 3000] [--backend sqlite|postgresql|both]
[--clients 4]`.

What each row measures:
- pure gate: ``evaluate(cn pack, facts)`` for an overdue borrower call with 12 history entries
  (the typical day of an actively worked debtor) -- no I/O at all;
- check+reserve, allowed: ``check_and_reserve`` in its own unit of work and commit, each on a
  different debtor so every one is allowed and writes its attempt, grant and audit record (lock
  the agent and debtor rows, read the loan, contact and history, evaluate, append to the chain);
- check, denied: the same request at 23:00 (quiet hours): read, evaluate, audit, no reservation;
- PostgreSQL, N clients: allowed checks from N threads with their own connections, to show what
  the single audit-chain head (one locked row per append) does to parallel writers.

PostgreSQL: ``--postgres-url`` (default $LENDCORE_TEST_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/test), in schema ``bench_gate``, dropped afterwards.
SQLite: a file in a temporary directory (the default durable settings: WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, insert, text

from lendcore.collections import evaluate, get_pack
from lendcore.collections.alerts import Metrics, SandboxWebhook
from lendcore.collections.contacts import SELF, ContactPoint, Vault, store_contact
from lendcore.collections.context import AttemptRequest, CollectionsContext
from lendcore.collections.model import (
    CallType,
    Channel,
    ContactRequest,
    GateFacts,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
)
from lendcore.collections.ports import SandboxDialer, SandboxSmsSender
from lendcore.collections.service import check_and_reserve
from lendcore.collections.simulate import borrower_row, loan_row
from lendcore.onboarding.tables import borrowers
from lendcore.privacy.keys import InMemoryKeyProvider
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork, make_engine
from lendcore.store.migrate import upgrade

ZONE = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)
SCHEMA = "bench_gate"


def rate_per_second(work: Callable[[], object], seconds: float) -> float:
    work()  # warm up
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        work()
        count += 1
    return count / elapsed


def pure_rate(seconds: float) -> float:
    pack = get_pack("cn")
    history = tuple(
        HistoryEntry(
            DAY - timedelta(hours=2 + n),
            Party.BORROWER if n % 3 else Party.CONTACT,
            Channel.CALL if n % 4 else Channel.SMS,
            (Outcome.UNANSWERED, Outcome.ANSWERED, Outcome.INVALID_NUMBER)[n % 3],
            None if n % 3 else f"c{n % 2}",
        )
        for n in range(12)
    )
    facts = GateFacts(
        ZONE,
        LoanState(10, False, False),
        ContactRequest(DAY, Party.BORROWER, Channel.CALL, CallType.COLLECTION, "DPD_10"),
        history,
    )
    assert evaluate(pack, facts).pack_version
    return rate_per_second(lambda: evaluate(pack, facts), seconds)


def context() -> CollectionsContext:
    return CollectionsContext(
        vault=Vault.from_provider(InMemoryKeyProvider()),
        dialer=SandboxDialer(),
        sms=SandboxSmsSender(),
        webhook=SandboxWebhook(),
        metrics=Metrics(),
    )


def seed(engine: Engine, ctx: CollectionsContext, count: int) -> list[int]:
    created = DAY - timedelta(days=30)
    rng = random.Random(1)
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            insert(borrowers),
            [borrower_row(100_000 + i, "Asia/Shanghai", created) for i in range(count)],
        )
        uow.connection.execute(
            insert(loans),
            [
                loan_row(100_000 + i, 500_000 + i, 10, date(2026, 3, 2), created)
                for i in range(count)
            ],
        )
        for i in range(count):
            phone = f"138{rng.randrange(10**8):08d}"
            point = ContactPoint(100_000 + i, SELF, SELF, phone, "张三")
            store_contact(uow.connection, ctx.vault, point, created, "bench")
        uow.commit()
    return [500_000 + i for i in range(count)]


def request(loan_id: int, at: datetime, agent: str) -> AttemptRequest:
    return AttemptRequest(
        loan_id, agent, Party.BORROWER, Channel.CALL, CallType.COLLECTION, "DPD_10", at
    )


def database_rates(
    engine: Engine, ctx: CollectionsContext, loan_ids: list[int], seconds: float
) -> tuple[float, float, int]:
    """(allowed checks/s, denied checks/s, allowed checks that were not allowed)."""
    queue = iter(loan_ids)
    wrong = 0
    # Each allowed check reserves for a new debtor; the agent changes every 250 so the pack's
    # per-agent daily cap (300) never interferes.
    counter = [0]

    def allowed() -> object:
        nonlocal wrong
        counter[0] += 1
        with UnitOfWork(engine) as uow:
            decision = check_and_reserve(
                uow, request(next(queue), DAY, f"bench-{counter[0] // 250}"), ctx
            )
            uow.commit()
        wrong += not decision.allowed
        return decision

    def denied() -> object:
        with UnitOfWork(engine) as uow:
            decision = check_and_reserve(
                uow, request(loan_ids[0], DAY.replace(hour=23), "bench-night"), ctx
            )
            uow.commit()
        return decision

    budget = min(seconds, len(loan_ids) / 2000)  # never run out of fresh debtors
    allowed_rate = rate_per_second(allowed, budget)
    denied_rate = rate_per_second(denied, seconds)
    return allowed_rate, denied_rate, wrong


def concurrent_rate(
    engine: Engine, ctx: CollectionsContext, loan_ids: list[int], clients: int, seconds: float
) -> float:
    chunks = [loan_ids[n::clients] for n in range(clients)]
    done = [0] * clients
    stop = time.perf_counter() + seconds
    barrier = threading.Barrier(clients)

    def work(n: int) -> None:
        barrier.wait()
        for i, loan_id in enumerate(chunks[n]):
            if time.perf_counter() >= stop:
                return
            with UnitOfWork(engine) as uow:
                check_and_reserve(uow, request(loan_id, DAY, f"c{n}-{i // 250}"), ctx)
                uow.commit()
            done[n] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def postgres_engine(url: str, clients: int) -> tuple[Engine, Engine]:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in url else "?"
    scoped = f"{url}{separator}options={quote(f'-csearch_path={SCHEMA}')}"
    engine = make_engine(scoped, pool_size=clients + 1, max_overflow=0)
    upgrade(engine)
    return admin, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--loans", type=int, default=6000, help="debtors seeded per database")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=4, help="PostgreSQL concurrent clients")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LENDCORE_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()

    pure = pure_rate(args.seconds)
    rows = [("pure gate, in-process (floor)", pure)]
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            engine = make_engine(f"sqlite:///{Path(directory) / 'gate.db'}")
            upgrade(engine)
            ctx = context()
            loan_ids = seed(engine, ctx, args.loans)
            allowed, denied, wrong = database_rates(engine, ctx, loan_ids, args.seconds)
            assert wrong == 0, f"{wrong} checks meant to pass were denied"
            rows += [("SQLite check+reserve (allowed)", allowed), ("SQLite check (denied)", denied)]
            engine.dispose()
    if args.backend in ("postgresql", "both"):
        admin, engine = postgres_engine(args.postgres_url, args.clients)
        try:
            ctx = context()
            loan_ids = seed(engine, ctx, args.loans)
            half = len(loan_ids) // 2
            allowed, denied, wrong = database_rates(engine, ctx, loan_ids[:half], args.seconds)
            assert wrong == 0, f"{wrong} checks meant to pass were denied"
            parallel = concurrent_rate(engine, ctx, loan_ids[half:], args.clients, args.seconds)
            rows += [
                ("PostgreSQL check+reserve (allowed)", allowed),
                ("PostgreSQL check (denied)", denied),
                (f"PostgreSQL check+reserve, {args.clients} clients", parallel),
            ]
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()
    print(f"{'mode':<40} {'checks/s':>12} {'÷ pure gate':>12}")
    for label, rate in rows:
        print(f"{label:<40} {rate:>12,.0f} {rate / pure:>12.4f}")


if __name__ == "__main__":
    main()
