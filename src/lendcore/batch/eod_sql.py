"""The end-of-day business steps as set-based SQL over one chunk of loans for one day.

A chunk is a range of borrower-hash partitions; the steps touch only its live loans whose
last_closed_business_date is the day before, and the last step moves that date forward — in the
same transaction. So a rerun finds nothing to do, a killed run resumes where it stopped, and
catching up several days is the same steps once per day.

Steps, in order (D = the business date being closed):
1. penalty   — accrue a day of penalty interest on amounts overdue during D (due before D),
               into the penalty_accrued memo (no ledger row per loan per day);
2. due       — for instalments falling due on D: recognise their interest and fee (and the
               penalty memo) in one journal entry per loan, add them to the due amounts,
               start the loan's next period;
3. month end — (last day of a month) recognise the remaining penalty memo in the ledger;
4. events    — DUE_SOON, BECAME_OVERDUE, BUCKET_CHANGED into the outbox; then the credit lines
               consume the chunk's BECAME_OVERDUE events (``decisioning.credit_lines``: a late
               instalment resets the on-time count), two set-based statements;
5. snapshot  — (month end) the bucket, days past due and state each loan closes with, for roll
               rates: computed from step 6's expressions over step 6's filter, just before it,
               so only the loans being closed now are snapshotted (a rerun after a loan was
               opened on D snapshots that loan alone);
6. close     — current-period interest accrual (memo), days past due from the oldest unpaid
               instalment, bucket, ACTIVE <-> OVERDUE, last_closed_business_date = D.
Money is integer fen throughout; every division rounds half-up explicitly ((2a + b) / 2b).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from lendcore.decisioning.credit_lines import consume_overdue_events
from lendcore.ledger.accounts import Account
from lendcore.servicing.model import DEFAULT_BUCKETS, OVERFLOW_BUCKET

LIVE = "('ACTIVE', 'OVERDUE', 'RESTRUCTURED')"


@dataclass(frozen=True)
class Dialect:
    sqlite: bool

    def days(self, later: str, earlier: str) -> str:
        """Whole days between two date expressions."""
        if self.sqlite:
            return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        return f"({later} - {earlier})"

    def param(self, day: date) -> Any:
        return day.isoformat() if self.sqlite else day


def _chunk(alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return (
        f"{prefix}partition_key >= :p0 AND {prefix}partition_key < :p1 "
        f"AND {prefix}last_closed_business_date = :prev AND {prefix}state IN {LIVE}"
    )


def _bucket_case(dpd: str, buckets: tuple[tuple[str, int], ...]) -> str:
    whens = " ".join(f"WHEN {dpd} <= {upper} THEN '{name}'" for name, upper in buckets)
    return f"CASE {whens} ELSE '{OVERFLOW_BUCKET}' END"


def _entry_sql(
    kind: str, source: str, condition: str, lines: list[tuple[str, str]]
) -> tuple[str, str]:
    """INSERT statements for one journal entry per loan row of ``source`` meeting ``condition``:
    lines first (one row per (account, amount) pair, skipping zero amounts), the header last.
    Odd-numbered pairs are debit lines, each followed by its matching credit line."""
    # One pass over the chunk: each loan row meets a small constant table of its line numbers
    # (CROSS JOIN keeps the loans outer on SQLite), instead of one pass per line.
    numbers = " UNION ALL ".join(
        f"SELECT {number} AS line_no, '{account}' AS account"
        for number, (account, _) in enumerate(lines, start=1)
    )
    amount_case = (
        "CASE k.line_no "
        + " ".join(
            f"WHEN {number} THEN {amount}" for number, (_, amount) in enumerate(lines, start=1)
        )
        + " END"
    )
    odd = ", ".join(str(n) for n in range(1, len(lines) + 1, 2))
    lines_sql = (
        "INSERT INTO journal_lines (borrower_id, loan_id, seq, line_no, account, debit, credit) "
        "SELECT borrower_id, loan_id, seq, line_no, account, "
        f"CASE WHEN line_no IN ({odd}) THEN amount ELSE 0 END, "
        f"CASE WHEN line_no IN ({odd}) THEN 0 ELSE amount END FROM ("
        f"SELECT l.borrower_id, l.loan_id, l.journal_seq + 1 AS seq, k.line_no, k.account, "
        f"{amount_case} AS amount {source.replace('WHERE', f'CROSS JOIN ({numbers}) k WHERE', 1)}"
        ") x WHERE amount > 0"
    )
    header_sql = (
        "INSERT INTO journal_entries (borrower_id, loan_id, seq, kind, business_date, created_at) "
        f"SELECT l.borrower_id, l.loan_id, l.journal_seq + 1, '{kind}', :d, :now "
        f"{source} AND ({condition})"
    )
    return lines_sql, header_sql


@dataclass(frozen=True)
class EodStatements:
    lock: str | None
    penalty: str
    due_lines: str
    due_header: str
    due_loans: str
    due_instalments: str
    month_end_lines: str
    month_end_header: str
    month_end_loans: str
    events: str
    close: str
    snapshot: str


def build_statements(
    sqlite: bool, buckets: tuple[tuple[str, int], ...] = DEFAULT_BUCKETS, due_soon_days: int = 3
) -> EodStatements:
    d = Dialect(sqlite)
    dpd = f"CASE WHEN oldest_unpaid_due_date IS NULL THEN 0 ELSE {d.days(':d', 'oldest_unpaid_due_date')} END"
    bucket = _bucket_case(dpd, buckets)

    due_source = (
        "FROM loans l JOIN instalments i ON i.borrower_id = l.borrower_id "
        "AND i.loan_id = l.loan_id AND i.seq = l.current_seq "
        f"WHERE {_chunk('l')} AND l.current_due_date = :d"
    )
    interest = "(i.interest_due - i.interest_posted)"
    fee = "(i.fee_due - i.fee_posted)"
    due_lines, due_header = _entry_sql(
        "DUE",
        due_source,
        f"{interest} > 0 OR {fee} > 0 OR l.penalty_accrued > 0",
        [
            (Account.INTEREST_RECEIVABLE, interest),
            (Account.INTEREST_INCOME, interest),
            (Account.FEE_RECEIVABLE, fee),
            (Account.FEE_INCOME, fee),
            (Account.PENALTY_RECEIVABLE, "l.penalty_accrued"),
            (Account.PENALTY_INCOME, "l.penalty_accrued"),
        ],
    )
    unpaid = (
        "(i.principal_due - i.principal_paid + i.interest_due - i.interest_paid "
        "+ i.fee_due - i.fee_paid)"
    )
    next_instalment = (
        "FROM instalments n WHERE n.borrower_id = loans.borrower_id "
        "AND n.loan_id = loans.loan_id AND n.seq = loans.current_seq + 1"
    )
    due_loans = f"""
        UPDATE loans SET
            interest_receivable = interest_receivable + (i.interest_due - i.interest_posted),
            fee_receivable = fee_receivable + (i.fee_due - i.fee_posted),
            penalty_receivable = penalty_receivable + penalty_accrued,
            penalty_accrued = 0,
            journal_seq = journal_seq + CASE WHEN i.interest_due - i.interest_posted > 0
                OR i.fee_due - i.fee_posted > 0 OR penalty_accrued > 0 THEN 1 ELSE 0 END,
            due_principal = due_principal + (i.principal_due - i.principal_paid),
            due_interest = due_interest + (i.interest_due - i.interest_paid),
            due_fee = due_fee + (i.fee_due - i.fee_paid),
            oldest_unpaid_due_date = CASE WHEN oldest_unpaid_due_date IS NULL AND {unpaid} > 0
                THEN :d ELSE oldest_unpaid_due_date END,
            accrued_interest = 0,
            current_seq = current_seq + 1,
            current_period_start = :d,
            current_due_date = (SELECT n.due_date {next_instalment}),
            current_interest = coalesce((SELECT n.interest_due {next_instalment}), 0)
        FROM instalments i
        WHERE i.borrower_id = loans.borrower_id AND i.loan_id = loans.loan_id
          AND i.seq = loans.current_seq AND {_chunk("loans")} AND loans.current_due_date = :d"""
    due_instalments = f"""
        UPDATE instalments SET interest_posted = interest_due, fee_posted = fee_due
        FROM loans l
        WHERE l.borrower_id = instalments.borrower_id AND l.loan_id = instalments.loan_id
          AND instalments.seq = l.current_seq - 1 AND {_chunk("l")}
          AND l.current_period_start = :d"""

    month_source = f"FROM loans l WHERE {_chunk('l')}"
    month_end_lines, month_end_header = _entry_sql(
        "PENALTY",
        month_source,
        "l.penalty_accrued > 0",
        [
            (Account.PENALTY_RECEIVABLE, "l.penalty_accrued"),
            (Account.PENALTY_INCOME, "l.penalty_accrued"),
        ],
    )
    month_end_loans = f"""
        UPDATE loans SET penalty_receivable = penalty_receivable + penalty_accrued,
                         penalty_accrued = 0, journal_seq = journal_seq + 1
        WHERE {_chunk()} AND penalty_accrued > 0"""

    event_columns = (
        "borrower_id, loan_id, kind, business_date, days_past_due, bucket_from, bucket_to, amount"
    )
    events = f"""
        INSERT INTO outbox ({event_columns})
        SELECT borrower_id, loan_id, 'BECAME_OVERDUE', :d, {dpd}, bucket, {bucket},
               due_principal + due_interest + due_fee
          FROM loans WHERE {_chunk()} AND days_past_due = 0 AND {dpd} > 0
        UNION ALL
        SELECT borrower_id, loan_id, 'BUCKET_CHANGED', :d, {dpd}, bucket, {bucket},
               due_principal + due_interest + due_fee
          FROM loans WHERE {_chunk()} AND bucket <> {bucket}
        UNION ALL
        SELECT borrower_id, loan_id, 'DUE_SOON', :d, {dpd}, bucket, bucket, current_interest
          FROM loans WHERE {_chunk()} AND current_due_date = :due_soon"""

    period_days = d.days("current_due_date", "current_period_start")
    elapsed = f"({d.days(':d', 'current_period_start')} + 1)"
    # The close's new state; the snapshot below reads it (with dpd and bucket) too.
    new_state = (
        f"CASE WHEN {dpd} > 0 THEN 'OVERDUE' WHEN state = 'OVERDUE' THEN 'ACTIVE' ELSE state END"
    )
    close = f"""
        UPDATE loans SET
            accrued_interest = CASE
                WHEN current_due_date IS NULL OR current_due_date <= current_period_start THEN 0
                WHEN {elapsed} >= {period_days} THEN current_interest
                ELSE (current_interest * {elapsed} * 2 + {period_days}) / (2 * {period_days}) END,
            days_past_due = {dpd},
            bucket = {bucket},
            state = {new_state},
            last_closed_business_date = :d
        WHERE {_chunk()}"""
    # Runs just BEFORE the close, over the close's own filter, with the close's own expressions:
    # so it snapshots exactly the loans this transaction closes, as they will be once closed.
    # Not "closed through D" read after the close: that also matches loans an earlier run closed
    # for D, and a rerun after a loan was opened on D would insert their snapshots twice. Not
    # ON CONFLICT DO NOTHING either: a rerun would then be exact only by accident, and a genuine
    # second snapshot of a loan (a bug elsewhere) would be hidden instead of refused.
    snapshot = f"""
        INSERT INTO bucket_snapshots
            (borrower_id, loan_id, month_end, bucket, days_past_due, state, principal_outstanding)
        SELECT borrower_id, loan_id, :d, {bucket}, {dpd}, {new_state}, principal_outstanding
          FROM loans WHERE {_chunk()}"""
    lock = None if sqlite else f"SELECT loan_id FROM loans WHERE {_chunk()} FOR UPDATE"
    return EodStatements(
        lock=lock,
        penalty=f"""
            UPDATE loans SET penalty_accrued = penalty_accrued
                + ((due_principal + due_interest) * penalty_rate_ppm * 2 + 365000000) / 730000000
            WHERE {_chunk()} AND due_principal + due_interest > 0 AND penalty_rate_ppm > 0""",
        due_lines=due_lines,
        due_header=due_header,
        due_loans=due_loans,
        due_instalments=due_instalments,
        month_end_lines=month_end_lines,
        month_end_header=month_end_header,
        month_end_loans=month_end_loans,
        events=events,
        close=close,
        snapshot=snapshot,
    )


def close_chunk_day(
    connection: Connection,
    statements: EodStatements,
    sqlite: bool,
    day: date,
    partitions: tuple[int, int],
    now: datetime,
    due_soon: date,
    month_end: bool,
) -> int:
    """Run every step for one chunk and one day inside the caller's transaction; returns the
    number of loans closed."""
    d = Dialect(sqlite)
    params = {
        "d": d.param(day),
        "prev": d.param(date.fromordinal(day.toordinal() - 1)),
        "p0": partitions[0],
        "p1": partitions[1],
        "now": now,
        "due_soon": d.param(due_soon),
    }
    if statements.lock:
        connection.execute(text(statements.lock), params)
    run = [
        statements.penalty,
        statements.due_lines,
        statements.due_header,
        statements.due_loans,
        statements.due_instalments,
    ]
    if month_end:
        run += [statements.month_end_lines, statements.month_end_header, statements.month_end_loans]
    run.append(statements.events)
    for sql in run:
        connection.execute(text(sql), params)
    consume_overdue_events(connection, day, partitions, now)
    if month_end:  # before the close: see build_statements
        connection.execute(text(statements.snapshot), params)
    closed = connection.execute(text(statements.close), params).rowcount
    return int(closed)
