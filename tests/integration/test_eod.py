"""End-of-day behaviour against hand-worked figures, on SQLite and PostgreSQL.

The loan: consumer_instalment, 12,000.00 at 18% (30/360), 6 months from 2026-01-15, service fee
24.00 a month. Month 1 interest = 12,000 × 18% / 12 = 180.00; the first period Jan 15 -> Feb 15
has 31 calendar days.
"""

from datetime import date

from sqlalchemy import select, text

from lendcore.batch.runner import run_eod
from lendcore.batch.tables import outbox
from lendcore.ledger.reconcile import reconcile
from lendcore.servicing.tables import instalments

from .helpers import loan_row, make_loan


def _instalment(engine, loan_id, seq):
    with engine.connect() as connection:
        return connection.execute(
            select(instalments).where(instalments.c.loan_id == loan_id, instalments.c.seq == seq)
        ).one()


def _events(engine, loan_id):
    with engine.connect() as connection:
        return [
            (r.kind, str(r.business_date)[:10], r.bucket_from, r.bucket_to)
            for r in connection.execute(
                select(outbox).where(outbox.c.loan_id == loan_id).order_by(outbox.c.event_id)
            )
        ]


def _state(engine):
    """Every business table, sorted, without wall-clock columns: to compare two databases."""
    queries = {
        "loans": "SELECT * FROM loans ORDER BY loan_id",
        "instalments": "SELECT * FROM instalments ORDER BY loan_id, seq",
        "entries": "SELECT borrower_id, loan_id, seq, kind, business_date, reference "
        "FROM journal_entries ORDER BY loan_id, seq",
        "lines": "SELECT * FROM journal_lines ORDER BY loan_id, seq, line_no",
        "outbox": "SELECT borrower_id, loan_id, kind, business_date, days_past_due, bucket_from, "
        "bucket_to, amount FROM outbox ORDER BY loan_id, business_date, kind",
        "snapshots": "SELECT * FROM bucket_snapshots ORDER BY loan_id, month_end",
    }
    with engine.connect() as connection:
        result = {}
        for name, sql in queries.items():
            rows = [dict(r._mapping) for r in connection.execute(text(sql))]
            for row in rows:
                row.pop("created_at", None)
            result[name] = rows
        return result


def test_interest_accrues_daily_as_a_memo_and_is_recognised_when_due(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 1, 15))
    assert loan_row(engine, 1)["accrued_interest"] == 581  # 180.00 × 1/31, half-up
    run_eod(engine, date(2026, 2, 14))
    row = loan_row(engine, 1)
    assert row["accrued_interest"] == 18_000  # the whole period earned
    assert row["interest_receivable"] == 0  # ... but not yet in the ledger
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM journal_entries")).scalar() == 1
    run_eod(engine, date(2026, 2, 15))
    row = loan_row(engine, 1)
    assert row["interest_receivable"] == 18_000 and row["fee_receivable"] == 2_400
    assert row["current_seq"] == 2 and str(row["current_due_date"])[:10] == "2026-03-15"
    assert _instalment(engine, 1, 1).interest_posted == 18_000
    with engine.connect() as connection:
        lines = connection.execute(
            text("SELECT account, debit, credit FROM journal_lines WHERE seq = 2 ORDER BY line_no")
        ).all()
    assert [tuple(r) for r in lines] == [
        ("1131", 18_000, 0),
        ("6011", 0, 18_000),
        ("1132", 2_400, 0),
        ("6021", 0, 2_400),
    ]


def test_days_past_due_count_from_the_oldest_unpaid_instalment(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 15))
    row = loan_row(engine, 1)
    assert (row["state"], row["days_past_due"], row["bucket"]) == ("ACTIVE", 0, "M0")
    run_eod(engine, date(2026, 2, 16))
    row = loan_row(engine, 1)
    assert (row["state"], row["days_past_due"], row["bucket"]) == ("OVERDUE", 1, "M1")
    run_eod(engine, date(2026, 3, 18))  # a second instalment is missed on Mar 15 too
    row = loan_row(engine, 1)
    assert row["days_past_due"] == 31 and row["bucket"] == "M2"  # still from Feb 15
    assert str(row["oldest_unpaid_due_date"])[:10] == "2026-02-15"


def test_penalty_accrues_daily_on_overdue_amounts_and_is_recognised_at_month_end(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 15))
    first = _instalment(engine, 1, 1)
    overdue = first.principal_due + first.interest_due
    daily = (overdue * 180_000 * 2 + 365_000_000) // 730_000_000  # 18% / 365, half-up
    run_eod(engine, date(2026, 2, 17))
    row = loan_row(engine, 1)
    assert row["penalty_accrued"] == 2 * daily and row["penalty_receivable"] == 0
    run_eod(engine, date(2026, 2, 28))  # month end: the memo goes to the ledger
    row = loan_row(engine, 1)
    assert row["penalty_accrued"] == 0 and row["penalty_receivable"] == 13 * daily
    with engine.connect() as connection:
        assert reconcile(connection).ok


def test_penalty_rate_never_exceeds_the_cap(engine):
    make_loan(engine, 1)
    assert loan_row(engine, 1)["penalty_rate_ppm"] <= 240_000


def test_events_tell_collections_what_changed(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 3, 20))
    events = _events(engine, 1)
    assert ("DUE_SOON", "2026-02-12", "M0", "M0") in events
    assert ("BECAME_OVERDUE", "2026-02-16", "M0", "M1") in events
    assert ("BUCKET_CHANGED", "2026-03-18", "M1", "M2") in events
    assert [e for e in events if e[0] == "BECAME_OVERDUE"] == [
        ("BECAME_OVERDUE", "2026-02-16", "M0", "M1")
    ]


def test_a_second_run_for_the_same_date_changes_nothing(engine):
    for loan_id in range(1, 6):
        make_loan(engine, loan_id)
    run_eod(engine, date(2026, 3, 31))
    before = _state(engine)
    summary = run_eod(engine, date(2026, 3, 31))
    assert summary.loan_days == 0
    assert _state(engine) == before


def test_catching_up_several_days_equals_closing_them_one_by_one(db_url, second_db_url):
    from lendcore.store.db import make_engine

    one_go, daily = make_engine(db_url), make_engine(second_db_url)
    for engine in (one_go, daily):
        for loan_id in range(1, 4):
            make_loan(engine, loan_id, term=3)
    run_eod(one_go, date(2026, 4, 30))
    day = date(2026, 1, 15)
    while day <= date(2026, 4, 30):
        run_eod(daily, day)
        day = date.fromordinal(day.toordinal() + 1)
    assert _state(one_go) == _state(daily)
    one_go.dispose()
    daily.dispose()


def test_month_end_snapshots_feed_roll_rates(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 3, 31))
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT month_end, bucket FROM bucket_snapshots ORDER BY month_end")
        ).all()
    assert [(str(r[0])[:10], r[1]) for r in rows] == [
        ("2026-01-31", "M0"),
        ("2026-02-28", "M1"),
        ("2026-03-31", "M2"),
    ]
