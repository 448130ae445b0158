from datetime import date

from lendcore.batch.runner import run_eod
from lendcore.ledger.reconcile import reconcile

from .helpers import loan_row, make_loan


def test_a_loan_nobody_pays_becomes_overdue_the_day_after_its_due_date(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 15))  # first due date
    assert loan_row(engine, 1)["days_past_due"] == 0
    run_eod(engine, date(2026, 2, 16))
    row = loan_row(engine, 1)
    assert (row["state"], row["days_past_due"], row["bucket"]) == ("OVERDUE", 1, "M1")
    with engine.connect() as connection:
        assert reconcile(connection).ok
