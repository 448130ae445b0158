"""A loan is paid out exactly once: retries, timeouts and concurrent duplicates included."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import text

from lendcore.funding.ports import (
    PayoutRequest,
    SandboxPaymentChannel,
    verify_callback,
)
from lendcore.funding.service import disburse
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.store.db import make_engine

from .helpers import loan_row, make_loan

CLOCK = FixedClock.at_date(date(2026, 1, 15))


def _count(engine, sql):
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def test_disbursing_activates_the_loan_and_books_principal_and_cash(engine):
    make_loan(engine, 1, disbursed=False)
    channel = SandboxPaymentChannel()
    outcome = disburse(engine, channel, 1, "6222020000001234", CLOCK)
    assert outcome.status == "SUCCEEDED" and channel.payouts_made == 1
    row = loan_row(engine, 1)
    assert row["state"] == "ACTIVE" and row["principal_outstanding"] == 1_200_000
    assert (
        _count(engine, "SELECT sum(credit) FROM journal_lines WHERE account = '1001'") == 1_200_000
    )


def test_a_repeated_request_never_pays_twice(engine):
    make_loan(engine, 1, disbursed=False)
    channel = SandboxPaymentChannel()
    disburse(engine, channel, 1, "6222020000001234", CLOCK)
    again = disburse(engine, channel, 1, "6222020000001234", CLOCK)
    assert again.already and channel.payouts_made == 1
    assert _count(engine, "SELECT count(*) FROM journal_entries WHERE kind = 'DISBURSE'") == 1


def test_a_lost_answer_is_recovered_by_asking_the_channel(engine):
    make_loan(engine, 1, disbursed=False)
    channel = SandboxPaymentChannel(timeout_rate=1.0)  # pays, then the answer is lost
    outcome = disburse(engine, channel, 1, "6222020000001234", CLOCK)
    assert outcome.status == "SUCCEEDED" and channel.payouts_made == 1
    assert loan_row(engine, 1)["state"] == "ACTIVE"


def test_a_rejected_payout_leaves_the_loan_undisbursed(engine):
    make_loan(engine, 1, disbursed=False)
    with pytest.raises(LendcoreError) as info:
        disburse(engine, SandboxPaymentChannel(reject_rate=1.0), 1, "6222020000001234", CLOCK)
    assert info.value.code is ErrorCode.DISBURSEMENT_FAILED
    assert loan_row(engine, 1)["state"] == "CONTRACT_SIGNED"
    assert _count(engine, "SELECT count(*) FROM journal_entries") == 0


def test_an_unsigned_loan_is_not_disbursed(engine):
    from lendcore.servicing.service import open_loan
    from lendcore.store.db import UnitOfWork

    from .helpers import CONSUMER

    with UnitOfWork(engine) as uow:
        open_loan(
            uow,
            loan_id=5,
            borrower_id=50,
            product=CONSUMER,
            principal=1_200_000,
            term=6,
            start=date(2026, 1, 15),
            now=CLOCK.now(),
        )
        uow.commit()
    with pytest.raises(LendcoreError) as info:
        disburse(engine, SandboxPaymentChannel(), 5, "6222020000001234", CLOCK)
    assert info.value.code is ErrorCode.LOAN_NOT_LIVE


def test_sandbox_callbacks_are_signed():
    channel = SandboxPaymentChannel(secret=b"k")
    result = channel.payout(PayoutRequest("S1", 100, "acct"))
    body, signature = channel.signed_callback(result)
    assert verify_callback(b"k", body, signature)
    assert not verify_callback(b"k", body.replace(b"S1", b"S2"), signature)


def test_twenty_concurrent_disbursements_of_one_loan_pay_once(postgres_url):
    engine = make_engine(postgres_url, pool_size=20, max_overflow=0)
    make_loan(engine, 1, disbursed=False)
    channel = SandboxPaymentChannel(latency_seconds=0.05)
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(
            pool.map(lambda _: disburse(engine, channel, 1, "6222020000001234", CLOCK), range(20))
        )
    assert channel.payouts_made == 1
    assert sum(not o.already for o in outcomes) == 1
    assert _count(engine, "SELECT count(*) FROM journal_entries WHERE kind = 'DISBURSE'") == 1
    assert loan_row(engine, 1)["principal_outstanding"] == 1_200_000
    engine.dispose()
