"""Property: whatever the borrower pays and whenever, the books stay exact — every journal entry
balances, each loan's balances equal its ledger balances and its instalments, and the cash
received equals the repayments recorded."""

import shutil
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from lendcore.batch.runner import run_eod
from lendcore.ledger.reconcile import reconcile
from lendcore.schedule import Method
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork, make_engine
from lendcore.store.migrate import upgrade

from .helpers import CONSUMER, SMALL, make_loan

NOW = datetime(2026, 1, 15, tzinfo=UTC)

steps = st.lists(st.tuples(st.integers(1, 45), st.integers(0, 900_000)), min_size=1, max_size=8)


@settings(max_examples=25)
@given(
    steps=steps,
    product=st.sampled_from(["consumer_ei", "consumer_if", "small"]),
)
def test_any_sequence_of_repayments_keeps_the_books_exact(tmp_path_factory, steps, product):
    template = tmp_path_factory.getbasetemp() / "ledger-template.db"
    if not template.exists():
        engine = make_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
    path = tmp_path_factory.mktemp("prop") / "db.sqlite"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    if product == "small":
        make_loan(engine, 1, product=SMALL, principal=150_000, term=21)
    else:
        method = Method.EQUAL_INSTALLMENT if product == "consumer_ei" else Method.INTEREST_FIRST
        make_loan(engine, 1, product=CONSUMER, principal=2_000_000, term=4, method=method)
    day = date(2026, 1, 15)
    paid = 0
    for number, (forward, amount) in enumerate(steps):
        day += timedelta(days=forward)
        run_eod(engine, day)
        if amount:
            with UnitOfWork(engine) as uow:
                state = uow.connection.execute(text("SELECT state FROM loans")).scalar()
                if state in ("ACTIVE", "OVERDUE"):
                    repay(uow, 1, amount, f"k{number}", day + timedelta(days=1), NOW)
                    paid += amount
                uow.commit()
    with engine.connect() as connection:
        result = reconcile(connection)
        cash_in = connection.execute(
            text(
                "SELECT coalesce(sum(l.debit), 0) FROM journal_lines l JOIN journal_entries e "
                "ON e.loan_id = l.loan_id AND e.seq = l.seq "
                "WHERE e.kind = 'REPAYMENT' AND l.account = '1001'"
            )
        ).scalar()
    engine.dispose()
    assert result.ok, (result.ledger_mismatches, result.schedule_mismatches)
    assert result.total_debit == result.total_credit
    assert cash_in == paid
