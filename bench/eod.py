"""End-of-day throughput: seconds and loans/s to close a business day over a synthetic portfolio,
against two floors measured in the same run on the same database.

Not a test: prints figures, never fails on timing. Run: `make bench` or
`.venv/bin/python bench/eod.py --loans 100000 [1000000] [--backend sqlite|postgresql|both]
[--workers 1 2] [--days 1]`.

For each portfolio size the portfolio is generated once (bench/_portfolio.py) and, for each
backend and worker count, bulk-loaded into a fresh database (load time printed apart; it is not
the figure), so every run starts from the same state. Then, for the business day(s) D:
- bare UPDATE floor: one `UPDATE loans SET last_closed_business_date = D WHERE <the live loans
  closed through D-1>`, timed, then reset — the least any per-loan daily step can cost (times
  the number of days for a catch-up);
- naive ORM loop: the Fineract-style per-loan ORM close (bench/_naive.py) on a sample of loans,
  extrapolated to loans/s;
- lendcore: `batch.runner.run_eod(engine, D, workers=N)` over every other live loan, in a child
  process bounded by the time budget (killing it is safe: the run is restartable);
- checks: every live loan closed for D, the journal balanced, and the ORM loop's results equal
  to the SQL's on loans of the same template.
Between steps the bench does what an operator's maintenance would (VACUUM ANALYZE on
PostgreSQL, a WAL checkpoint on SQLite); none of it is timed. `--profile` adds, for 1-worker
runs, the time in each end-of-day statement and the bytes SQLite wrote.

PostgreSQL: `--postgres-url` (default $LENDCORE_TEST_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/test), in schema `bench_eod`, dropped and recreated.
SQLite: a file in a temporary directory, deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text

import _checks
import _naive
import _portfolio
from lendcore.store.db import make_engine
from lendcore.store.migrate import upgrade

LIVE = _checks.LIVE
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Row:
    backend: str
    loans: int
    workers: int
    days: int
    eod_seconds: float | None = None
    loan_days: int = 0
    floor_seconds: float = 0.0
    naive_rate: float = 0.0
    check: str = ""

    @property
    def rate(self) -> float:
        return self.loan_days / self.eod_seconds if self.eod_seconds else 0.0


class Budget:
    def __init__(self, minutes: float):
        self.deadline = time.monotonic() + minutes * 60

    @property
    def left(self) -> float:
        return self.deadline - time.monotonic()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, nargs="+", default=[100_000])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--days", type=int, default=1, help="business days closed per run")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 6, 16))
    parser.add_argument("--orm-sample", type=int, default=2000, help="loans the ORM loop closes")
    parser.add_argument("--postgres-url", default=os.environ.get("LENDCORE_TEST_POSTGRES_URL"))
    parser.add_argument("--schema", default="bench_eod")
    parser.add_argument("--budget-minutes", type=float, default=25.0)
    parser.add_argument("--profile", action="store_true", help="time each statement (1 worker)")
    parser.add_argument(
        "--chunk-loans", type=int, default=20_000, help="run_eod's target_chunk_loans"
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="experiment: loans stored in partition order (see bench/_portfolio.py load)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the last database (each run recreates the schema)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one end-of-day run
    return parser.parse_args()


# ---- databases ------------------------------------------------------------------------------


def open_database(backend: str, args: argparse.Namespace) -> tuple[str, object]:
    """A migrated, empty database: (url, handle for drop_database)."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="lendcore-bench-eod-"))
        url = f"sqlite:///{directory / 'eod.db'}"
        handle: object = directory
    else:
        base = (args.postgres_url or DEFAULT_POSTGRES).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        admin = create_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {args.schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {args.schema}"))
        separator = "&" if "?" in base else "?"
        url = f"{base}{separator}options={quote(f'-csearch_path={args.schema}')}"
        handle = (admin, args.schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, handle


def drop_database(handle: object) -> None:
    if isinstance(handle, Path):
        shutil.rmtree(handle, ignore_errors=True)
        return
    admin, schema = handle  # type: ignore[misc]
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def maintenance(engine: Engine) -> None:
    """What an operator's (auto)vacuum does between business days."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside any transaction (the engine opens BEGIN IMMEDIATE)
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("loans", "instalments", "journal_entries", "journal_lines", "outbox"):
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")


def param(engine: Engine, day: date) -> object:
    return day.isoformat() if engine.dialect.name == "sqlite" else day


# ---- the three measurements -------------------------------------------------------------------


def bare_update_floor(engine: Engine, day: date) -> float:
    """One UPDATE moving every live loan closed through day-1 to day, timed; then put back."""
    values = {"d": param(engine, day), "prev": param(engine, day - timedelta(days=1))}
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE loans SET last_closed_business_date = :d "
                f"WHERE state IN {LIVE} AND last_closed_business_date = :prev"
            ),
            values,
        )
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE loans SET last_closed_business_date = :prev "
                f"WHERE state IN {LIVE} AND last_closed_business_date = :d"
            ),
            values,
        )
    maintenance(engine)
    return seconds


def orm_sample(count: int, loans: int) -> list[tuple[int, int]]:
    picks = random.Random(7).sample(range(1, loans + 1), min(count, loans // 2))
    return [(_portfolio.BORROWER_BASE + n, _portfolio.LOAN_BASE + n) for n in sorted(picks)]


def run_child(
    url: str, target: date, workers: int, args: argparse.Namespace, budget: Budget
) -> dict | None:
    """run_eod in a child process group, killed when the budget runs out."""
    spec = json.dumps(
        {
            "url": url,
            "target": target.isoformat(),
            "workers": workers,
            "profile": args.profile,
            "chunk_loans": args.chunk_loans,
        }
    )
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", spec], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        out, _ = process.communicate(timeout=max(1.0, budget.left))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    if process.returncode:
        raise SystemExit(f"end-of-day child failed with {process.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


def child(spec_text: str) -> None:
    from _profile import StatementTimer, bytes_written
    from lendcore.batch.runner import run_eod

    spec = json.loads(spec_text)
    engine = make_engine(spec["url"])
    timer = StatementTimer(engine) if spec["profile"] and spec["workers"] == 1 else None
    written = bytes_written()
    started = time.perf_counter()
    summary = run_eod(
        engine,
        date.fromisoformat(spec["target"]),
        workers=spec["workers"],
        target_chunk_loans=spec["chunk_loans"],
    )
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "loan_days": summary.loan_days,
        "chunks": summary.chunks,
        "profile": timer.report(seconds) if timer else None,
        "written": bytes_written() - written,  # SQLite: the database writes are this process's
    }
    print(json.dumps(result))


# ---- one configuration ------------------------------------------------------------------------


def measure(
    url: str, backend: str, loans: int, workers: int, days: list[date], args, budget: Budget
) -> Row:
    row = Row(backend, loans, workers, len(days))
    engine = make_engine(url)
    try:
        maintenance(engine)
        mix = _checks.portfolio_mix(engine, days[0])
        print(
            f"  {backend}, workers={workers}, day {days[0]}{f'..{days[-1]}' if len(days) > 1 else ''}: "
            f"{mix.live:,} live loans, {mix.due_today:,} with an instalment due on "
            f"{days[0]}, {mix.with_dues:,} with unpaid dues ({mix.overdue:,} past due)"
        )
        row.floor_seconds = bare_update_floor(engine, days[0]) * len(days)
        print(f"    bare UPDATE floor: {row.floor_seconds:.2f} s")
        sample = orm_sample(args.orm_sample, loans)
        closed, seconds = _naive.run_naive(engine, sample, days)
        row.naive_rate = closed / seconds
        print(
            f"    naive ORM loop (sampled, {len(sample):,} loans): {row.naive_rate:,.0f} loan-days/s"
            f" -> {mix.live * len(days) / row.naive_rate:,.0f} s projected for the portfolio"
        )
        print(f"    load average before the run: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        result = run_child(url, days[-1], workers, args, budget)
        if result is None:
            print("    lendcore run_eod: KILLED at the time budget (restartable; not measured)")
            row.check = "killed"
            return row
        row.eod_seconds, row.loan_days = result["seconds"], result["loan_days"]
        print(
            f"    lendcore run_eod: {row.eod_seconds:.2f} s, {row.rate:,.0f} loan-days/s "
            f"({result['chunks']} chunks)"
            + (
                f", {result['written'] / 2**20:,.0f} MiB written to disk"
                if backend == "sqlite" and workers == 1 and result["written"]
                else ""
            )
        )
        if result["profile"]:
            for line in result["profile"]:
                print(f"      {line}")
        verification = _checks.verify(engine, days[-1])
        pairs, differ = _checks.compare_twins(engine, sample)
        print(f"    {verification}")
        print(f"    ORM loop vs SQL on twin loans: {pairs:,} pairs, {differ} differ")
        row.check = "OK" if verification.ok and not differ else "FAILED"
        return row
    finally:
        engine.dispose()


def print_table(rows: list[Row]) -> None:
    print()
    print(
        f"{'backend':<10} {'loans':>9} {'workers':>7} {'days':>4} {'EOD s':>8} "
        f"{'loan-days/s':>11} {'floor s':>8} {'EOD/floor':>9} {'naive/s':>8} "
        f"{'x naive':>7} {'check':>6}"
    )
    for r in rows:
        eod = f"{r.eod_seconds:8.2f}" if r.eod_seconds else f"{'-':>8}"
        ratio = f"{r.eod_seconds / r.floor_seconds:9.1f}" if r.eod_seconds else f"{'-':>9}"
        speedup = f"{r.rate / r.naive_rate:7.1f}" if r.eod_seconds and r.naive_rate else f"{'-':>7}"
        print(
            f"{r.backend:<10} {r.loans:>9,} {r.workers:>7} {r.days:>4} {eod} {r.rate:>11,.0f} "
            f"{r.floor_seconds:>8.2f} {ratio} {r.naive_rate:>8,.0f} {speedup} {r.check:>6}"
        )


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child)
        return
    budget = Budget(args.budget_minutes)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: list[Row] = []
    for loans in args.loans:
        started = time.perf_counter()
        generated = _portfolio.generate(loans, args.day)
        print(f"{loans:,} loans generated in {time.perf_counter() - started:.1f} s")
        days = [args.day + timedelta(days=k) for k in range(args.days)]
        for backend in backends:
            for workers in args.workers:
                if budget.left < 60:
                    print(f"{backend}, {loans:,} loans, workers={workers}: skipped (time budget)")
                    continue
                # A fresh copy of the same portfolio for every run, so the runs compare.
                url, handle = open_database(backend, args)
                try:
                    engine = make_engine(url)
                    report = _portfolio.load(engine, generated, cluster=args.cluster)
                    engine.dispose()
                    print(
                        f"{backend}, {report.loans:,} loans, {report.instalments:,} instalments "
                        f"({report.templates:,} templates): loaded in {report.seconds:.1f} s "
                        "(not part of any figure)"
                    )
                    rows.append(measure(url, backend, loans, workers, days, args, budget))
                finally:
                    if args.keep:
                        print(f"  kept: {url}")
                    else:
                        drop_database(handle)
    print_table(rows)
    load = os.getloadavg()[0]
    print(f"\nload average at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
