"""Disbursement: pay an approved, signed loan out exactly once.

1. Claim: insert the loan's disbursement row (primary key = the loan) in its own transaction.
   A concurrent or repeated request hits the key and gets the existing row: it never reaches the
   channel with a second serial.
2. Pay: call the channel with the claim's serial, outside any transaction (a bank call must not
   hold database locks). On a timeout, ask the channel what happened (``query``); the channel
   deduplicates on the serial, so retrying is safe too.
3. Book: in one transaction, post the disbursement entry, activate the loan, mark the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from lendcore.funding.ports import ChannelTimeout, PaymentChannel, PayoutRequest, PayoutResult
from lendcore.funding.tables import disbursements
from lendcore.kernel.clock import Clock
from lendcore.kernel.errors import ErrorCode, LendcoreError, PolicyViolation
from lendcore.ledger.accounts import Account
from lendcore.ledger.model import Entry
from lendcore.ledger.posting import post_entry
from lendcore.servicing.model import LoanState, transition
from lendcore.servicing.repository import load_loan_for_update
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork


@dataclass(frozen=True)
class DisbursementOutcome:
    loan_id: int
    status: str
    serial: str
    already: bool  # True when an earlier or concurrent call made the booking, not this one


def disburse(
    engine: Engine, channel: PaymentChannel, loan_id: int, payee_account: str, clock: Clock
) -> DisbursementOutcome:
    claim = _claim(engine, loan_id, payee_account, clock)
    if claim.already and claim.status != "PENDING":
        return claim
    request = PayoutRequest(claim.serial, _amount(engine, loan_id), payee_account)
    try:
        result: PayoutResult | None = channel.payout(request)
    except ChannelTimeout:
        result = channel.query(claim.serial)
    if result is None:  # still unknown: leave PENDING for the retry job
        return DisbursementOutcome(loan_id, "PENDING", claim.serial, claim.already)
    return _book(engine, loan_id, result, clock)


def _amount(engine: Engine, loan_id: int) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(loans.c.principal - loans.c.upfront_fee).where(loans.c.loan_id == loan_id)
            ).scalar_one()
        )


def _claim(engine: Engine, loan_id: int, payee_account: str, clock: Clock) -> DisbursementOutcome:
    now = clock.now()
    try:
        with UnitOfWork(engine) as uow:
            loan = load_loan_for_update(uow, loan_id)
            if loan.state not in (LoanState.CONTRACT_SIGNED, LoanState.ACTIVE):
                raise PolicyViolation(
                    ErrorCode.LOAN_NOT_LIVE, f"loan {loan_id} is {loan.state}, not signed"
                )
            existing = uow.connection.execute(
                select(disbursements.c.serial, disbursements.c.status).where(
                    disbursements.c.loan_id == loan_id
                )
            ).first()
            if existing:
                return DisbursementOutcome(loan_id, existing.status, existing.serial, True)
            serial = f"D{loan_id}"
            uow.connection.execute(
                insert(disbursements).values(
                    borrower_id=loan.borrower_id,
                    loan_id=loan_id,
                    serial=serial,
                    amount=loan.principal - loan.upfront_fee,
                    payee_account=payee_account[-4:].rjust(len(payee_account), "*"),
                    status="PENDING",
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.commit()
            return DisbursementOutcome(loan_id, "PENDING", serial, False)
    except IntegrityError:  # a concurrent claim won the primary key
        with engine.connect() as connection:
            row = connection.execute(
                select(disbursements.c.serial, disbursements.c.status).where(
                    disbursements.c.loan_id == loan_id
                )
            ).one()
        return DisbursementOutcome(loan_id, row.status, row.serial, True)


def _book(engine: Engine, loan_id: int, result: PayoutResult, clock: Clock) -> DisbursementOutcome:
    """Book the channel's answer once. A PENDING row left by a claimant that died or lost the
    race is completed by whichever caller gets here first; the rest see it booked."""
    with UnitOfWork(engine) as uow:
        loan = load_loan_for_update(uow, loan_id)
        row = uow.connection.execute(
            select(disbursements.c.status).where(disbursements.c.loan_id == loan_id)
        ).scalar_one()
        if row != "PENDING":  # another caller booked it while we waited for the channel
            return DisbursementOutcome(loan_id, row, result.serial, True)
        status = "SUCCEEDED" if result.status == "SUCCEEDED" else "FAILED"
        uow.connection.execute(
            update(disbursements)
            .where(disbursements.c.loan_id == loan_id)
            .values(
                status=status,
                channel_ref=result.channel_ref,
                last_error=result.reason or None,
                updated_at=clock.now(),
            )
        )
        if status == "SUCCEEDED":
            day = clock.business_date()
            entry = Entry("DISBURSE", day, result.serial)
            entry.move(Account.PRINCIPAL_RECEIVABLE, Account.FUNDING_CASH, loan.principal)
            entry.move(Account.FUNDING_CASH, Account.FEE_INCOME, loan.upfront_fee)
            seq = loan.journal_seq + 1
            post_entry(uow.connection, loan.borrower_id, loan_id, seq, entry, clock.now())
            uow.connection.execute(
                update(loans)
                .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
                .values(
                    state=str(transition(loan.state, LoanState.ACTIVE)),
                    principal_outstanding=loan.principal,
                    journal_seq=seq,
                    disbursed_on=day,
                )
            )
        uow.commit()
    if status == "FAILED":
        raise LendcoreError(
            ErrorCode.DISBURSEMENT_FAILED, f"channel rejected loan {loan_id}: {result.reason}"
        )
    return DisbursementOutcome(loan_id, status, result.serial, already=False)
