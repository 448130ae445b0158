"""Running the end-of-day: which days, which chunks, which worker.

Loans are spread over ``PARTITIONS`` borrower-hash partitions; a chunk is a contiguous range of
them sized to about ``target_chunk_loans`` live loans. Each task is one chunk closed day by day
up to the target date, one transaction per (chunk, day). N worker processes take chunks from a
shared queue; ``shard=(i, n)`` restricts a machine to every n-th chunk so several machines can
share one run (see docs/operations/eod.md).

The completion step runs after a run's chunks: when every live loan is closed through the
target date — on every partition, whichever shard or run closed it — the day is complete and
the day-level work runs: the hardship plan check (:mod:`lendcore.hardship.plan_check`). So the
shard that finishes last (or the sweep run) does it; a shard that finishes while others still
work skips it. The step is idempotent: a rerun, or two shards completing at once, change
nothing more.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from multiprocessing import get_context

from sqlalchemy import Engine, insert, text, update

from lendcore.batch.eod_sql import LIVE, build_statements, close_chunk_day
from lendcore.batch.tables import eod_runs
from lendcore.hardship.plan_check import check_plans, open_loans
from lendcore.kernel.ids import PARTITIONS
from lendcore.store.db import UnitOfWork, make_engine


@dataclass(frozen=True)
class EodPlan:
    days: list[date]
    chunks: list[tuple[int, int]]
    live_loans: int


@dataclass(frozen=True)
class EodSummary:
    target: date
    days: int
    chunks: int
    loan_days: int
    seconds: float
    workers: int
    # The completion step's plan check (checked/breached/completed), or None when loans were
    # still open on other shards and the day is not complete yet.
    hardship_plans: dict[str, int] | None = None

    @property
    def loans_per_second(self) -> float:
        return self.loan_days / self.seconds if self.seconds else 0.0


def plan(
    engine: Engine, target: date, target_chunk_loans: int = 20_000, shard: tuple[int, int] = (0, 1)
) -> EodPlan:
    """Days and chunks to close. Chunks are sized from ALL live loans, not only those still to
    close, so every machine of a sharded run (and every rerun) cuts the same boundaries."""
    param = target.isoformat() if engine.dialect.name == "sqlite" else target
    with engine.connect() as connection:
        live = int(
            connection.execute(
                text(f"SELECT count(*) FROM loans WHERE state IN {LIVE}")
            ).scalar_one()
        )
        first_open = connection.execute(
            text(
                f"SELECT min(last_closed_business_date) FROM loans WHERE state IN {LIVE} "
                "AND last_closed_business_date < :target"
            ),
            {"target": param},
        ).scalar_one()
    if not live or first_open is None:
        return EodPlan([], [], live)
    if isinstance(first_open, str):
        first_open = date.fromisoformat(first_open)
    days = [first_open + timedelta(days=k) for k in range(1, (target - first_open).days + 1)]
    per_chunk = max(1, min(PARTITIONS, PARTITIONS * target_chunk_loans // live))
    chunks = [(p, min(p + per_chunk, PARTITIONS)) for p in range(0, PARTITIONS, per_chunk)]
    index, count = shard
    return EodPlan(days, chunks[index::count], live)


def close_chunk(
    engine: Engine, partitions: tuple[int, int], days: list[date], due_soon_days: int = 3
) -> int:
    """Close one chunk for every day in ``days``; one committed transaction per day."""
    sqlite = engine.dialect.name == "sqlite"
    statements = build_statements(sqlite, due_soon_days=due_soon_days)
    closed = 0
    for day in days:
        month_end = day.day == calendar.monthrange(day.year, day.month)[1]
        with UnitOfWork(engine) as uow:
            closed += close_chunk_day(
                uow.connection,
                statements,
                sqlite,
                day,
                partitions,
                datetime.now().astimezone(),
                day + timedelta(days=due_soon_days),
                month_end,
            )
            uow.commit()
    return closed


def _worker(url: str, partitions: tuple[int, int], days: list[date]) -> int:
    engine = make_engine(url)
    try:
        return close_chunk(engine, partitions, days)
    finally:
        engine.dispose()


def _finish(engine: Engine, run_id: int, loan_days: int, status: str) -> None:
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            update(eod_runs)
            .where(eod_runs.c.run_id == run_id)
            .values(finished_at=datetime.now().astimezone(), loan_days=loan_days, status=status)
        )
        uow.commit()


def complete_day(engine: Engine, target: date) -> dict[str, int] | None:
    """The day-level work once ``target`` is closed for every live loan (see the module
    docstring); None, doing nothing, while any loan is still open."""
    with UnitOfWork(engine) as uow:
        if open_loans(uow.connection, target):
            return None
        # check_plans counts a plan instalment as missed when due before its date: the day
        # after the closed one, so an instalment due on ``target`` and unpaid is a miss.
        counts = check_plans(uow, target + timedelta(days=1), datetime.now().astimezone())
        uow.commit()
    return counts


def run_eod(
    engine: Engine,
    target: date,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    on_progress: Callable[[int, int], None] | None = None,
    target_chunk_loans: int = 20_000,
) -> EodSummary:
    """Close every live loan up to ``target``. Safe to rerun and to kill: see eod_sql."""
    started = time.perf_counter()
    work = plan(engine, target, target_chunk_loans, shard)
    with UnitOfWork(engine) as uow:
        run_id = uow.connection.execute(
            insert(eod_runs).values(
                target_date=target,
                workers=workers,
                started_at=datetime.now().astimezone(),
                status="RUNNING",
            )
        ).inserted_primary_key
        uow.commit()
    assert run_id is not None
    try:
        loan_days = 0
        done = 0
        if on_progress:
            on_progress(0, len(work.chunks))
        if workers <= 1 or len(work.chunks) <= 1:
            for chunk in work.chunks:
                loan_days += close_chunk(engine, chunk, work.days)
                done += 1
                if on_progress:
                    on_progress(done, len(work.chunks))
        else:
            url = engine.url.render_as_string(hide_password=False)
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_worker, url, chunk, work.days) for chunk in work.chunks]
                for future in as_completed(futures):
                    loan_days += future.result()
                    done += 1
                    if on_progress:
                        on_progress(done, len(work.chunks))
        plans = complete_day(engine, target)
    except BaseException:
        _finish(engine, run_id[0], 0, "FAILED")
        raise
    seconds = time.perf_counter() - started
    _finish(engine, run_id[0], loan_days, "DONE")
    return EodSummary(target, len(work.days), len(work.chunks), loan_days, seconds, workers, plans)
