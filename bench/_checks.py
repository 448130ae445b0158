"""What bench/eod.py checks after each run: every live loan closed, the journal balanced, and the
naive ORM loop's results equal to the set-based SQL's on twin loans (same template)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, text

LIVE = "('ACTIVE', 'OVERDUE', 'RESTRUCTURED')"


def _param(engine: Engine, day: date) -> Any:
    return day.isoformat() if engine.dialect.name == "sqlite" else day


@dataclass(frozen=True)
class Mix:
    live: int
    due_today: int  # an instalment falls due on the day being closed
    with_dues: int  # something already due and unpaid
    overdue: int  # days past due > 0


def portfolio_mix(engine: Engine, day: date) -> Mix:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*), "
                "sum(CASE WHEN current_due_date = :d THEN 1 ELSE 0 END), "
                "sum(CASE WHEN due_principal + due_interest + due_fee > 0 THEN 1 ELSE 0 END), "
                "sum(CASE WHEN days_past_due > 0 THEN 1 ELSE 0 END) "
                f"FROM loans WHERE state IN {LIVE}"
            ),
            {"d": _param(engine, day)},
        ).one()
    return Mix(*(int(v or 0) for v in row))


@dataclass(frozen=True)
class Verification:
    live: int
    closed: int
    debit: int
    credit: int
    lines: int
    unbalanced_entries: int

    @property
    def ok(self) -> bool:
        return (
            self.live == self.closed and self.debit == self.credit and not self.unbalanced_entries
        )

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"check {verdict}: {self.closed:,} of {self.live:,} live loans closed; journal "
            f"{self.lines:,} lines, debits {self.debit:,} = credits {self.credit:,} fen, "
            f"{self.unbalanced_entries} unbalanced entries"
        )


def verify(engine: Engine, target: date) -> Verification:
    with engine.connect() as connection:
        live, closed = connection.execute(
            text(
                "SELECT count(*), sum(CASE WHEN last_closed_business_date = :d THEN 1 ELSE 0 END) "
                f"FROM loans WHERE state IN {LIVE}"
            ),
            {"d": _param(engine, target)},
        ).one()
        debit, credit, lines = connection.execute(
            text(
                "SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*) FROM journal_lines"
            )
        ).one()
        unbalanced = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM journal_lines GROUP BY borrower_id, loan_id, seq "
                "HAVING sum(debit) <> sum(credit)) AS e"
            )
        ).scalar_one()
    return Verification(
        int(live), int(closed or 0), int(debit), int(credit), int(lines), int(unbalanced)
    )


_LOAN_SKIP = {"borrower_id", "loan_id", "partition_key"}


def _by_loan(
    engine: Engine, sql: str, loan_ids: list[int], skip: set[str]
) -> dict[int, list[tuple]]:
    found: dict[int, list[tuple]] = {}
    with engine.connect() as connection:
        for start in range(0, len(loan_ids), 500):
            ids = ", ".join(str(i) for i in loan_ids[start : start + 500])
            for row in connection.execute(text(sql.format(ids=ids))):
                values = row._mapping
                found.setdefault(values["loan_id"], []).append(
                    tuple(str(v) for k, v in values.items() if k not in skip)
                )
    return {k: sorted(v) for k, v in found.items()}


def compare_twins(engine: Engine, sample: list[tuple[int, int]]) -> tuple[int, int]:
    """For each loan the ORM loop closed, a loan of the same template the SQL closed: their
    loan rows, instalments, journal lines and entries and outbox events must be equal (ids and
    timestamps aside). Returns (pairs compared, pairs that differ)."""
    sample_ids = {loan_id for _, loan_id in sample}
    twins: dict[int, int] = {}
    with engine.connect() as connection:
        template_of = {}
        ids = list(sample_ids)
        for start in range(0, len(ids), 500):
            chunk = ", ".join(str(i) for i in ids[start : start + 500])
            for loan_id, tpl_id in connection.execute(
                text(f"SELECT loan_id, tpl_id FROM bench_seed WHERE loan_id IN ({chunk})")
            ):
                template_of[loan_id] = tpl_id
        templates = sorted(set(template_of.values()))
        candidates: dict[int, int] = {}
        for start in range(0, len(templates), 500):
            chunk = ", ".join(str(t) for t in templates[start : start + 500])
            for tpl_id, loan_id in connection.execute(
                text(f"SELECT tpl_id, loan_id FROM bench_seed WHERE tpl_id IN ({chunk})")
            ):
                if loan_id not in sample_ids:
                    candidates.setdefault(tpl_id, loan_id)
    for loan_id, tpl_id in template_of.items():
        if tpl_id in candidates:
            twins[loan_id] = candidates[tpl_id]
    every = sorted(set(twins) | set(twins.values()))
    tables = [
        ("SELECT * FROM loans WHERE loan_id IN ({ids})", _LOAN_SKIP | {"created_at"}),
        ("SELECT * FROM instalments WHERE loan_id IN ({ids})", {"borrower_id", "loan_id"}),
        ("SELECT * FROM journal_lines WHERE loan_id IN ({ids})", {"borrower_id", "loan_id"}),
        (
            "SELECT * FROM journal_entries WHERE loan_id IN ({ids})",
            {"borrower_id", "loan_id", "created_at"},
        ),
        (
            "SELECT * FROM outbox WHERE loan_id IN ({ids})",
            {"borrower_id", "loan_id", "event_id", "published_at"},
        ),
    ]
    fetched = [_by_loan(engine, sql, every, skip | {"loan_id"}) for sql, skip in tables]
    differ = 0
    for loan_id, twin in twins.items():
        if any(rows.get(loan_id) != rows.get(twin) for rows in fetched):
            differ += 1
    return len(twins), differ
