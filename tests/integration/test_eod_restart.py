"""An end-of-day killed with SIGKILL mid-run and rerun ends exactly where an uninterrupted run
ends; and a repayment posted while end-of-day runs on the same loan is neither lost nor
double-counted (PostgreSQL, real concurrent clients)."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from lendcore.batch.runner import run_eod
from lendcore.ledger.reconcile import reconcile
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork, make_engine

from .helpers import make_loan
from .test_eod import _state

TARGET = date(2027, 3, 31)


def _portfolio(url, loans=60):
    engine = make_engine(url)
    for loan_id in range(1, loans + 1):
        make_loan(engine, loan_id, term=6 + loan_id % 7, principal=600_000 + 10_000 * loan_id)
    return engine


def _progress(engine):
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM loans WHERE last_closed_business_date >= :t"),
            {"t": TARGET.isoformat() if engine.dialect.name == "sqlite" else TARGET},
        ).scalar(), connection.execute(text("SELECT count(*) FROM journal_entries")).scalar()


def test_a_killed_end_of_day_resumes_to_the_same_state(db_url, second_db_url):
    killed, reference = _portfolio(db_url), _portfolio(second_db_url)
    run_eod(reference, TARGET)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lendcore",
            "eod",
            "--date",
            TARGET.isoformat(),
            "--database",
            db_url,
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, entries_at_start = _progress(killed)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once it has done some work, not all of it
        _, entries = _progress(killed)
        if entries > entries_at_start:  # first committed day with postings: kill now
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    closed, _ = _progress(killed)
    assert process.returncode == -signal.SIGKILL
    assert closed < 60, "the run finished before it could be killed: make the portfolio bigger"

    run_eod(killed, TARGET)
    assert _state(killed) == _state(reference)
    with killed.connect() as connection:
        assert reconcile(connection).ok
    killed.dispose()
    reference.dispose()


def test_repayments_during_end_of_day_are_neither_lost_nor_double_counted(postgres_url):
    engine = make_engine(postgres_url, pool_size=10, max_overflow=0)
    for loan_id in range(1, 41):
        make_loan(engine, loan_id, term=12)
    stop = threading.Event()
    payments: list[int] = []
    paid_at: list[float] = []
    eod_window: list[float] = []

    def batch():
        eod_window.append(time.monotonic())
        day = date(2026, 1, 15)
        while day <= date(2026, 12, 31):  # one run per day: many short transactions
            run_eod(engine, day)
            day += timedelta(days=1)
        eod_window.append(time.monotonic())
        stop.set()

    def borrower(loan_id: int):
        number = 0
        while not stop.is_set() and number < 25:
            number += 1
            with engine.connect() as connection:
                closed = connection.execute(
                    text("SELECT last_closed_business_date FROM loans WHERE loan_id = :i"),
                    {"i": loan_id},
                ).scalar()
            with UnitOfWork(engine) as uow:
                result = repay(
                    uow,
                    loan_id,
                    7_777,
                    f"{loan_id}-{number}",
                    closed + timedelta(days=1),
                    datetime.now(UTC),
                )
                uow.commit()
            if not result.duplicate:
                payments.append(7_777)
                paid_at.append(time.monotonic())
            time.sleep(0.005)

    runner = threading.Thread(target=batch)
    runner.start()
    borrowers = [threading.Thread(target=borrower, args=(i,)) for i in range(1, 41, 4)]
    for thread in borrowers:
        thread.start()
    for thread in borrowers:
        thread.join()
    runner.join()

    with engine.connect() as connection:
        result = reconcile(connection)
        cash_in = connection.execute(
            text(
                "SELECT sum(l.debit) FROM journal_lines l JOIN journal_entries e "
                "ON e.loan_id = l.loan_id AND e.seq = l.seq "
                "WHERE e.kind = 'REPAYMENT' AND l.account = '1001'"
            )
        ).scalar()
        recorded = connection.execute(text("SELECT sum(amount) FROM repayments")).scalar()
    engine.dispose()
    started, finished = eod_window
    assert sum(started < t < finished for t in paid_at) > 50  # the two really overlapped
    assert result.ok, (result.ledger_mismatches, result.schedule_mismatches)
    assert cash_in == recorded == sum(payments)


def _without(state, loan_id):
    """``_state`` with one loan's rows left out: the other loans' part, to compare."""
    return {name: [r for r in rows if r["loan_id"] != loan_id] for name, rows in state.items()}


@pytest.mark.parametrize(
    "day", [date(2026, 3, 31), date(2026, 3, 15)], ids=["month_end", "due_day"]
)
def test_a_rerun_after_a_new_loan_closes_only_the_new_loan(engine, day):
    """Rerunning a closed date after a loan was disbursed on it closes (and, at month end,
    snapshots) the new loan and changes nothing for the loans already closed — their penalty,
    due lines, events, month-end recognition and snapshots stay exactly as the first run left
    them. 2026-03-15 is a due day (and the old loans are overdue), 2026-03-31 a month end."""
    for loan_id in range(1, 6):
        make_loan(engine, loan_id)
    run_eod(engine, day)
    before = _state(engine)
    make_loan(engine, 99, start=day)  # disbursed on the closed day, through the real services

    summary = run_eod(engine, day)

    assert summary.loan_days == 1
    after = _state(engine)
    assert _without(after, 99) == before
    new = [r for r in after["loans"] if r["loan_id"] == 99]
    assert str(new[0]["last_closed_business_date"])[:10] == day.isoformat()
    columns = ("bucket", "days_past_due", "state", "principal_outstanding")
    snapshots = [
        (str(r["month_end"])[:10], *(r[c] for c in columns))
        for r in after["snapshots"]
        if r["loan_id"] == 99
    ]
    # Snapshots are month-end only: none on the due day.
    expected = [(day.isoformat(), "M0", 0, "ACTIVE", 1_200_000)] if day.day == 31 else []
    assert snapshots == expected
    with engine.connect() as connection:
        assert reconcile(connection).ok
