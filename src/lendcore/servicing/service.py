"""Servicing use cases: open a loan from a product offer, sign, repay, write off.

Each takes a unit of work, locks the loan row, calls the pure model, writes balances, the
journal entry and events, and leaves the commit to the caller's unit of work.

Credit lines are decisioning's (``decisioning.credit_lines``): a loan opened from a decision
opens or rebases the borrower's line, and a repayment reports how many instalments it settled
on time; both through that module's service functions, in this unit of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import insert, select, update

from lendcore.batch.tables import outbox
from lendcore.decisioning import credit_lines
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.ids import partition_of
from lendcore.kernel.money import Rounding
from lendcore.kernel.rates import format_rate
from lendcore.ledger.accounts import Account
from lendcore.ledger.model import Entry
from lendcore.ledger.posting import post_entry
from lendcore.products.caps import RateCap
from lendcore.products.loader import LoadedProduct
from lendcore.products.quote import Offer, product_cap, quote
from lendcore.schedule import Method
from lendcore.schedule.amortize import amortize
from lendcore.schedule.calendar import regular_fraction
from lendcore.schedule.model import DayCount, PeriodUnit
from lendcore.servicing.model import (
    LIVE_STATES,
    Due,
    LoanState,
    allocate,
    bucket_for,
    parse_waterfall,
    settled_on_time,
    transition,
)
from lendcore.servicing.repository import load_instalments, load_loan_for_update, oldest_unpaid
from lendcore.servicing.tables import instalments, loans, repayments
from lendcore.store.db import UnitOfWork

PPM = 1_000_000


def to_ppm(rate: Decimal) -> int:
    """A rate as integer parts per million; more precision than that is refused, not rounded."""
    scaled = rate * PPM
    if scaled != scaled.to_integral_value():
        raise ValidationError(ErrorCode.INVALID_RATE, f"rate {rate} has more than 6 decimals")
    return int(scaled)


def open_loan(
    uow: UnitOfWork,
    *,
    loan_id: int,
    borrower_id: int,
    product: LoadedProduct,
    principal: int,
    term: int,
    start: date,
    now: datetime,
    method: Method | None = None,
    rate: Decimal | None = None,
    cap: RateCap | None = None,
    decision_id: int | None = None,
) -> Offer:
    """Create an APPROVED loan and its schedule from a product offer (refused above the cap).
    The penalty rate is limited to the cap: a penalty at or below the cap can never lift the
    loan's all-in IRR above it (docs/concepts/servicing.md proves why). With ``decision_id``
    (the approved decision the loan comes from) the borrower's credit line is opened or rebased
    from that decision's offer, and a principal above the line is refused."""
    cap = product_cap(product.product, cap or RateCap())
    offer = quote(product.product, principal, term, start, method=method, rate=rate, cap=cap)
    schedule, terms = offer.schedule, offer.schedule.terms
    first = schedule.installments[0]
    uow.connection.execute(
        insert(loans).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            partition_key=partition_of(borrower_id),
            product_code=product.product.code,
            product_version=product.version_hash,
            state=str(LoanState.APPROVED),
            method=str(terms.method),
            period_unit=str(terms.period_unit),
            day_count=str(terms.day_count),
            rounding=str(terms.rounding),
            annual_rate=str(terms.annual_rate),
            annual_rate_ppm=to_ppm(terms.annual_rate),
            penalty_rate_ppm=to_ppm(min(product.product.penalty_rate, cap.effective_limit)),
            apr_irr=format_rate(offer.disclosure.apr_irr),
            prepayment_rule=(
                product.product.prepayment.recompute
                if product.product.prepayment.allowed
                else "not_allowed"
            ),
            waterfall=",".join(product.product.waterfall),
            principal=principal,
            upfront_fee=terms.upfront_fee,
            fee_per_period=terms.fee_per_period,
            current_seq=1,
            current_period_start=start,
            current_due_date=first.due_date,
            current_interest=first.interest,
            last_closed_business_date=start - timedelta(days=1),
            start_date=start,
            maturity_date=schedule.maturity,
            created_at=now,
        )
    )
    uow.connection.execute(
        insert(instalments),
        [
            {
                "borrower_id": borrower_id,
                "loan_id": loan_id,
                "seq": i.period,
                "period_start": i.start,
                "due_date": i.due_date,
                "year_frac_num": i.fraction.numerator,
                "year_frac_den": i.fraction.denominator,
                "principal_due": i.principal,
                "interest_due": i.interest,
                "fee_due": i.fee,
            }
            for i in schedule.installments
        ],
    )
    if decision_id is not None:
        credit_lines.open_from_decision(
            uow.connection,
            borrower_id=borrower_id,
            decision_id=decision_id,
            loan_id=loan_id,
            product_code=product.product.code,
            principal=principal,
            business_date=start,
            now=now,
        )
    return offer


def sign_contract(uow: UnitOfWork, loan_id: int) -> None:
    loan = load_loan_for_update(uow, loan_id)
    uow.connection.execute(
        update(loans)
        .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
        .values(state=str(transition(loan.state, LoanState.CONTRACT_SIGNED)))
    )


@dataclass(frozen=True)
class RepaymentResult:
    loan_id: int
    amount: int
    state: LoanState
    allocation: dict[str, Any]
    duplicate: bool = False


def repay(
    uow: UnitOfWork,
    loan_id: int,
    amount: int,
    idempotency_key: str,
    business_date: date,
    now: datetime,
) -> RepaymentResult:
    """Apply a repayment: waterfall, prepayment with re-amortization, overpayment, settlement.
    The same idempotency key applied twice changes nothing the second time."""
    loan = load_loan_for_update(uow, loan_id)
    earlier = uow.connection.execute(
        select(repayments.c.amount, repayments.c.allocation).where(
            repayments.c.borrower_id == loan.borrower_id,
            repayments.c.loan_id == loan_id,
            repayments.c.idempotency_key == idempotency_key,
        )
    ).first()
    if earlier is not None:
        return RepaymentResult(
            loan_id, earlier.amount, loan.state, json.loads(earlier.allocation), duplicate=True
        )
    if loan.state not in LIVE_STATES:
        raise PolicyViolation(ErrorCode.LOAN_NOT_LIVE, f"loan {loan_id} is {loan.state}")
    rows = load_instalments(uow, loan.borrower_id, loan_id)
    by_seq = {r["seq"]: r for r in rows}
    dues = [
        Due(
            r["seq"],
            r["due_date"],
            r["principal_due"] - r["principal_paid"],
            r["interest_due"] - r["interest_paid"],
            r["fee_due"] - r["fee_paid"],
        )
        for r in rows
    ]
    open_dues = [d for d in dues if d.principal or d.interest or d.fee]
    upcoming = [d for d in open_dues if d.due_date >= business_date]
    current_seq = upcoming[0].seq if upcoming else None
    future_principal = sum(d.principal for d in upcoming[1:])
    allocation = allocate(
        amount,
        business_date,
        open_dues,
        loan.penalty_receivable + loan.penalty_accrued,
        future_principal,
        parse_waterfall(loan.waterfall),
        prepayment_allowed=loan.prepayment_rule != "not_allowed",
    )

    entry = Entry("REPAYMENT", business_date, idempotency_key)
    # Recognise what is being paid before it is due: the penalty accrued since the last
    # crystallisation, and interest/fees of instalments whose due date has not been closed yet.
    entry.move(Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME, loan.penalty_accrued)
    entry.move(Account.FUNDING_CASH, Account.PENALTY_RECEIVABLE, allocation.penalty)
    recognised = {"interest": 0, "fee": 0}
    changes: dict[int, dict[str, int]] = {}
    for component, receivable, income in _CHARGES:
        for seq, paid in getattr(allocation, component).items():
            row = by_seq[seq]
            posted, paid_so_far = f"{component}_posted", f"{component}_paid"
            newly_posted = max(0, row[paid_so_far] + paid - row[posted])
            recognised[component] += newly_posted
            changes.setdefault(seq, {})[posted] = row[posted] + newly_posted
            changes[seq][paid_so_far] = row[paid_so_far] + paid
            entry.move(receivable, income, newly_posted)
            entry.move(Account.FUNDING_CASH, receivable, paid)
    principal_paid = sum(allocation.principal.values()) + allocation.prepaid_principal
    for seq, paid in allocation.principal.items():
        changes.setdefault(seq, {})["principal_paid"] = by_seq[seq]["principal_paid"] + paid
    entry.move(Account.FUNDING_CASH, Account.PRINCIPAL_RECEIVABLE, principal_paid)
    entry.move(Account.FUNDING_CASH, Account.OVERPAYMENT_LIABILITY, allocation.overpayment)

    for seq, changed in changes.items():
        by_seq[seq].update(changed)
    on_time = settled_on_time(rows, set(changes), {d.seq for d in open_dues}, business_date)
    if allocation.prepaid_principal:
        assert current_seq is not None
        _reamortize(loan, rows, current_seq, allocation.prepaid_principal)
    reamortized = allocation.prepaid_principal > 0
    for row in rows:
        if row["seq"] in changes or (reamortized and row["seq"] > (current_seq or 0)):
            uow.connection.execute(
                update(instalments)
                .where(
                    instalments.c.borrower_id == loan.borrower_id,
                    instalments.c.loan_id == loan_id,
                    instalments.c.seq == row["seq"],
                )
                .values({k: row[k] for k in _INSTALMENT_AMOUNTS})
            )

    seq = loan.journal_seq + 1
    post_entry(uow.connection, loan.borrower_id, loan_id, seq, entry, now)
    values: dict[str, Any] = _balances_after(
        loan, rows, allocation, recognised["interest"], recognised["fee"]
    )
    state = loan.state
    paid_off = values["principal_outstanding"] == 0 and not any(
        values[k] for k in ("interest_receivable", "fee_receivable", "penalty_receivable")
    )
    if paid_off:
        state = transition(state, LoanState.SETTLED)
        values.update(closed_on=business_date, accrued_interest=0, current_interest=0)
    elif values["days_past_due"] == 0 and state is LoanState.OVERDUE:
        state = transition(state, LoanState.ACTIVE)
    values.update(state=str(state), journal_seq=seq)
    uow.connection.execute(
        update(loans)
        .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
        .values(values)
    )
    document = _allocation_document(allocation)
    uow.connection.execute(
        insert(repayments).values(
            borrower_id=loan.borrower_id,
            loan_id=loan_id,
            idempotency_key=idempotency_key,
            amount=amount,
            business_date=business_date,
            journal_seq=seq,
            allocation=json.dumps(document),
            received_at=now,
        )
    )
    events = [("REPAYMENT_RECEIVED", amount)]
    if state is LoanState.SETTLED:
        events.append(("SETTLED", 0))
    elif loan.state is LoanState.OVERDUE and state is LoanState.ACTIVE:
        events.append(("CURED", 0))
    uow.connection.execute(
        insert(outbox),
        [
            {
                "borrower_id": loan.borrower_id,
                "loan_id": loan_id,
                "kind": kind,
                "business_date": business_date,
                "days_past_due": values["days_past_due"],
                "bucket_from": loan.bucket,
                "bucket_to": values["bucket"],
                "amount": value,
            }
            for kind, value in events
        ],
    )
    if on_time:
        credit_lines.record_on_time(
            uow.connection,
            borrower_id=loan.borrower_id,
            loan_id=loan_id,
            count=on_time,
            business_date=business_date,
            now=now,
        )
    return RepaymentResult(loan_id, amount, state, document)


# Charges paid per instalment: (component, its receivable account, its income account).
_CHARGES = (
    ("interest", Account.INTEREST_RECEIVABLE, Account.INTEREST_INCOME),
    ("fee", Account.FEE_RECEIVABLE, Account.FEE_INCOME),
)

_INSTALMENT_AMOUNTS = (
    "principal_due",
    "interest_due",
    "fee_due",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "interest_posted",
    "fee_posted",
)


def _reamortize(loan: Any, rows: list[dict[str, Any]], current_seq: int, prepaid: int) -> None:
    """Spread the smaller balance over the instalments after the current one, keeping their due
    dates (the product rule ``reduce_installment``); nothing of theirs is paid or posted yet."""
    future = [r for r in rows if r["seq"] > current_seq]
    balance = sum(r["principal_due"] - r["principal_paid"] for r in future) - prepaid
    if balance == 0:  # paid off: later instalments owe nothing, fees for them included
        for row in future:
            row.update(principal_due=row["principal_paid"], interest_due=0, fee_due=0)
        return
    periods = [
        (r["period_start"], r["due_date"], (r["year_frac_num"], r["year_frac_den"])) for r in future
    ]
    fresh = amortize(
        balance,
        Fraction(Decimal(loan.annual_rate)),
        Method(loan.method),
        periods,
        regular_fraction(PeriodUnit(loan.period_unit), DayCount(loan.day_count)),
        Rounding(loan.rounding),
        loan.fee_per_period,
        first_number=future[0]["seq"],
    )
    for row, new in zip(future, fresh, strict=True):
        row.update(principal_due=new.principal, interest_due=new.interest, fee_due=new.fee)


def _balances_after(
    loan: Any, rows: list[dict[str, Any]], allocation: Any, posted_interest: int, posted_fee: int
) -> dict[str, Any]:
    """Loan balance columns recomputed from the instalments (the source of truth for dues)."""
    closed = loan.last_closed_business_date
    due_rows = [r for r in rows if closed is not None and r["due_date"] <= closed]
    oldest = oldest_unpaid(rows, closed)
    dpd = (closed - oldest).days if oldest and closed else 0
    current = next((r for r in rows if r["seq"] == loan.current_seq), None)
    return {
        "principal_outstanding": sum(r["principal_due"] - r["principal_paid"] for r in rows),
        "interest_receivable": loan.interest_receivable
        + posted_interest
        - sum(allocation.interest.values()),
        "fee_receivable": loan.fee_receivable + posted_fee - sum(allocation.fee.values()),
        "penalty_receivable": loan.penalty_receivable + loan.penalty_accrued - allocation.penalty,
        "penalty_accrued": 0,
        "overpayment": loan.overpayment + allocation.overpayment,
        "due_principal": sum(r["principal_due"] - r["principal_paid"] for r in due_rows),
        "due_interest": sum(r["interest_due"] - r["interest_paid"] for r in due_rows),
        "due_fee": sum(r["fee_due"] - r["fee_paid"] for r in due_rows),
        "oldest_unpaid_due_date": oldest,
        "days_past_due": dpd,
        "bucket": bucket_for(dpd),
        "current_interest": current["interest_due"] if current else 0,
    }


def _allocation_document(allocation: Any) -> dict[str, Any]:
    return {
        "amount": allocation.amount,
        "penalty": allocation.penalty,
        "interest": {str(k): v for k, v in allocation.interest.items()},
        "fee": {str(k): v for k, v in allocation.fee.items()},
        "principal": {str(k): v for k, v in allocation.principal.items()},
        "prepaid_principal": allocation.prepaid_principal,
        "overpayment": allocation.overpayment,
    }


def write_off(uow: UnitOfWork, loan_id: int, business_date: date, now: datetime) -> int:
    """Write a delinquent loan off: every receivable to write-off expense. Returns the amount."""
    loan = load_loan_for_update(uow, loan_id)
    state = transition(loan.state, LoanState.WRITTEN_OFF)
    entry = Entry("WRITE_OFF", business_date)
    entry.move(Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME, loan.penalty_accrued)
    receivables = {
        Account.PRINCIPAL_RECEIVABLE: loan.principal_outstanding,
        Account.INTEREST_RECEIVABLE: loan.interest_receivable,
        Account.FEE_RECEIVABLE: loan.fee_receivable,
        Account.PENALTY_RECEIVABLE: loan.penalty_receivable + loan.penalty_accrued,
    }
    for account, amount in receivables.items():
        entry.move(Account.WRITE_OFF_EXPENSE, account, amount)
    seq = loan.journal_seq + 1
    post_entry(uow.connection, loan.borrower_id, loan_id, seq, entry, now)
    uow.connection.execute(
        update(loans)
        .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
        .values(
            state=str(state),
            journal_seq=seq,
            principal_outstanding=0,
            interest_receivable=0,
            fee_receivable=0,
            penalty_receivable=0,
            penalty_accrued=0,
            closed_on=business_date,
        )
    )
    return sum(receivables.values())
