"""Restructure a loan under an accepted hardship plan: waive, capitalise, take the down payment,
replace the schedule — one balanced journal entry, one state change.

What the loan owes at the restructure date is its ledger balance: principal outstanding plus
the interest, fee and penalty receivables (the penalty memo accrued since the last
crystallisation is recognised first). The current period's interest accrual is a memo that the
ledger never recognised; a restructure forgoes it (the plan replaces that period).

The entry, kind ``RESTRUCTURE``:

    Dr penalty receivable    / Cr penalty income        penalty memo recognised
    Dr hardship concessions  / Cr each receivable       the waiver: penalty -> interest -> fee
                                                        (-> principal, only if the policy allows)
    Dr principal receivable  / Cr interest, fee, penalty receivable   what is left, capitalised

and, when the plan has a down payment, a second entry, kind ``DOWN_PAYMENT``, whose reference is
the payment channel's receipt serial (required: cash is never booked without the receipt that
proves it arrived, and the receipt is what the channel's statement is reconciled against):

    Dr funding cash          / Cr principal receivable  the down payment received

A plan priced on an earlier debt is refused (``CASE_STALE``) when the caller passes the debt it
was priced on and the loan owes something else now (a month of end-of-day penalty changes the
instalment): the borrower agreed to that plan, not to another one.

So after it the loan owes only principal: the restructured balance, repaid over the plan's new
instalments. Old instalments keep their history; what they still owed is closed by the
restructure (due = paid, posted = paid) and the new instalments continue the numbering, so the
end-of-day batch and repayments work on a restructured loan unchanged. The plan's rate is 0 by
default (hardship plans in China waive future interest; a non-zero rate would charge interest on
capitalised interest, i.e. compound interest, which the default policies do not allow), and a
restructured loan accrues no penalty interest while the plan runs: the plan's own breach rule
(hardship.service) decides what a missed instalment costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from lendcore.batch.tables import outbox
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.rates import format_rate
from lendcore.ledger.accounts import Account
from lendcore.ledger.model import Entry
from lendcore.ledger.posting import post_entry
from lendcore.schedule import Method
from lendcore.schedule.amortize import build_schedule
from lendcore.schedule.disclosure import disclose
from lendcore.schedule.model import DayCount, PeriodUnit, Schedule, ScheduleTerms
from lendcore.servicing.model import LoanState, transition
from lendcore.servicing.repository import load_instalments, load_loan_for_update
from lendcore.servicing.service import to_ppm
from lendcore.servicing.tables import instalments, loans
from lendcore.store.db import UnitOfWork

# The order a waiver is applied in: the charges a borrower least deserves to pay first.
WAIVER_ORDER = ("penalty", "interest", "fee", "principal")
_RECEIVABLE = {
    "principal": Account.PRINCIPAL_RECEIVABLE,
    "interest": Account.INTEREST_RECEIVABLE,
    "fee": Account.FEE_RECEIVABLE,
    "penalty": Account.PENALTY_RECEIVABLE,
}


def _refuse(message: str, **details: Any) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_RESTRUCTURE, message, details)


@dataclass(frozen=True)
class Debt:
    """What a loan owes, by component, in fen."""

    principal: int
    interest: int
    fee: int
    penalty: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty

    def to_dict(self) -> dict[str, int]:
        return {c: getattr(self, c) for c in ("principal", "interest", "fee", "penalty")}


@dataclass(frozen=True)
class RestructureTerms:
    down_payment: int
    periods: int
    waiver: int  # the total waived, fen; split by WAIVER_ORDER
    annual_rate: Decimal = Decimal(0)
    method: Method = Method.EQUAL_INSTALLMENT
    principal_reduction_allowed: bool = False
    reference: str | None = None  # the hardship case
    down_payment_reference: str | None = None  # the payment channel's receipt serial
    expected_debt: Debt | None = None  # the debt the plan was priced on; None: not checked


@dataclass(frozen=True)
class RestructureResult:
    loan_id: int
    debt: Debt
    waived: dict[str, int]
    capitalised: int
    down_payment: int
    new_principal: int
    schedule: Schedule
    apr_irr: Decimal
    journal_seq: int
    first_seq: int
    instalments: list[dict[str, Any]] = field(default_factory=list)
    down_payment_reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "down_payment_reference": self.down_payment_reference,
            "loan_id": self.loan_id,
            "debt": self.debt.to_dict(),
            "waived": dict(self.waived),
            "capitalised": self.capitalised,
            "down_payment": self.down_payment,
            "new_principal": self.new_principal,
            "apr_irr": format_rate(self.apr_irr),
            "journal_seq": self.journal_seq,
            "schedule": [
                {
                    "seq": self.first_seq + i,
                    "due_date": inst.due_date.isoformat(),
                    "principal": inst.principal,
                    "interest": inst.interest,
                    "fee": inst.fee,
                }
                for i, inst in enumerate(self.schedule.installments)
            ],
        }


def split_waiver(debt: Debt, waiver: int, principal_allowed: bool) -> dict[str, int]:
    """The waiver by component in :data:`WAIVER_ORDER`; more than is waivable is refused."""
    if waiver < 0:
        raise _refuse("a waiver cannot be negative", waiver=waiver)
    left = waiver
    split: dict[str, int] = {}
    for component in WAIVER_ORDER:
        if component == "principal" and not principal_allowed:
            continue
        take = min(left, getattr(debt, component))
        split[component] = take
        left -= take
    if left:
        raise _refuse(
            "the waiver exceeds what may be waived",
            waiver=waiver,
            waivable=waiver - left,
        )
    return split


def plan_schedule(principal: int, terms: RestructureTerms, start: date) -> Schedule:
    """The plan's instalments from the foundation's schedule engine: monthly from ``start``."""
    if not 1 <= terms.periods <= 60:
        raise _refuse("a plan runs 1 to 60 monthly periods", periods=terms.periods)
    return build_schedule(
        ScheduleTerms(
            principal=principal,
            annual_rate=terms.annual_rate,
            periods=terms.periods,
            method=terms.method,
            start=start,
            period_unit=PeriodUnit.MONTH,
            day_count=DayCount.THIRTY_360,
        )
    )


def loan_debt(loan: Any) -> Debt:
    return Debt(
        principal=loan.principal_outstanding,
        interest=loan.interest_receivable,
        fee=loan.fee_receivable,
        penalty=loan.penalty_receivable + loan.penalty_accrued,
    )


def current_debt(uow: UnitOfWork, loan_id: int) -> Debt:
    """What the loan owes now (for a calculation; :func:`restructure` re-reads it under lock)."""
    loan = uow.connection.execute(select(loans).where(loans.c.loan_id == loan_id)).first()
    if loan is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}", {"loan_id": loan_id})
    return loan_debt(loan)


def restructure(
    uow: UnitOfWork,
    loan_id: int,
    terms: RestructureTerms,
    business_date: date,
    now: datetime,
) -> RestructureResult:
    """Book an accepted plan on the loan (see the module docstring). The caller's unit of work
    commits; anything refused raises before a row is written."""
    loan = load_loan_for_update(uow, loan_id)
    state = transition(loan.state, LoanState.RESTRUCTURED)
    if loan.overpayment:
        raise _refuse(
            "apply the loan's overpayment before restructuring it", overpayment=loan.overpayment
        )
    debt = loan_debt(loan)
    if terms.expected_debt is not None and debt != terms.expected_debt:
        raise PolicyViolation(
            ErrorCode.CASE_STALE,
            "贷款欠款已变化，方案需重新测算 / the loan's debt changed since the plan was priced: "
            "recalculate the case",
            {"priced_on": terms.expected_debt.to_dict(), "owed_now": debt.to_dict()},
        )
    waived = split_waiver(debt, terms.waiver, terms.principal_reduction_allowed)
    if terms.down_payment < 0:
        raise _refuse("a down payment cannot be negative", down_payment=terms.down_payment)
    if terms.down_payment and not terms.down_payment_reference:
        raise ValidationError(
            ErrorCode.DOWN_PAYMENT_REFERENCE_REQUIRED,
            "首付款需提供支付渠道回单号 / a down payment needs the payment channel's receipt "
            "reference (down_payment_reference)",
            {"down_payment": terms.down_payment},
        )
    capitalised = sum(getattr(debt, c) - waived.get(c, 0) for c in ("interest", "fee", "penalty"))
    new_principal = debt.total - terms.waiver - terms.down_payment
    if new_principal <= 0:
        raise _refuse(
            "the down payment and waiver settle the loan: settle it, do not restructure",
            debt=debt.total,
            waiver=terms.waiver,
            down_payment=terms.down_payment,
        )
    schedule = plan_schedule(new_principal, terms, business_date)

    entry = Entry("RESTRUCTURE", business_date, terms.reference)
    entry.move(Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME, loan.penalty_accrued)
    for component, amount in waived.items():
        entry.move(Account.CONCESSION_EXPENSE, _RECEIVABLE[component], amount)
    for component in ("interest", "fee", "penalty"):
        left = getattr(debt, component) - waived.get(component, 0)
        entry.move(Account.PRINCIPAL_RECEIVABLE, _RECEIVABLE[component], left)
    seq = loan.journal_seq
    if post_entry(uow.connection, loan.borrower_id, loan_id, seq + 1, entry, now):
        seq += 1
    if terms.down_payment:
        cash = Entry("DOWN_PAYMENT", business_date, terms.down_payment_reference)
        cash.move(Account.FUNDING_CASH, Account.PRINCIPAL_RECEIVABLE, terms.down_payment)
        seq += 1
        post_entry(uow.connection, loan.borrower_id, loan_id, seq, cash, now)

    rows = load_instalments(uow, loan.borrower_id, loan_id)
    for row in rows:  # close what the old schedule still owed: the restructure took it over
        owed = any(row[f"{c}_due"] != row[f"{c}_paid"] for c in ("principal", "interest", "fee"))
        if owed or row["interest_posted"] != row["interest_paid"]:
            uow.connection.execute(
                update(instalments)
                .where(
                    instalments.c.borrower_id == loan.borrower_id,
                    instalments.c.loan_id == loan_id,
                    instalments.c.seq == row["seq"],
                )
                .values(
                    principal_due=row["principal_paid"],
                    interest_due=row["interest_paid"],
                    fee_due=row["fee_paid"],
                    interest_posted=row["interest_paid"],
                    fee_posted=row["fee_paid"],
                )
            )
    first_seq = max((r["seq"] for r in rows), default=0) + 1
    new_rows = [
        {
            "borrower_id": loan.borrower_id,
            "loan_id": loan_id,
            "seq": first_seq + i,
            "period_start": inst.start,
            "due_date": inst.due_date,
            "year_frac_num": inst.fraction.numerator,
            "year_frac_den": inst.fraction.denominator,
            "principal_due": inst.principal,
            "interest_due": inst.interest,
            "fee_due": inst.fee,
        }
        for i, inst in enumerate(schedule.installments)
    ]
    uow.connection.execute(insert(instalments), new_rows)

    first = schedule.installments[0]
    apr = disclose(schedule).apr_irr
    uow.connection.execute(
        update(loans)
        .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
        .values(
            state=str(state),
            method=str(terms.method),
            period_unit=str(PeriodUnit.MONTH),
            day_count=str(DayCount.THIRTY_360),
            annual_rate=str(terms.annual_rate),
            annual_rate_ppm=to_ppm(terms.annual_rate),
            penalty_rate_ppm=0,
            apr_irr=format_rate(apr),
            fee_per_period=0,
            principal_outstanding=new_principal,
            interest_receivable=0,
            fee_receivable=0,
            penalty_receivable=0,
            penalty_accrued=0,
            accrued_interest=0,
            due_principal=0,
            due_interest=0,
            due_fee=0,
            current_seq=first_seq,
            current_period_start=business_date,
            current_due_date=first.due_date,
            current_interest=first.interest,
            oldest_unpaid_due_date=None,
            days_past_due=0,
            bucket="M0",
            maturity_date=schedule.maturity,
            journal_seq=seq,
        )
    )
    uow.connection.execute(
        insert(outbox).values(
            borrower_id=loan.borrower_id,
            loan_id=loan_id,
            kind="RESTRUCTURED",
            business_date=business_date,
            days_past_due=0,
            bucket_from=loan.bucket,
            bucket_to="M0",
            amount=new_principal,
        )
    )
    return RestructureResult(
        loan_id,
        debt,
        waived,
        capitalised,
        terms.down_payment,
        new_principal,
        schedule,
        apr,
        seq,
        first_seq,
        new_rows,
        terms.down_payment_reference if terms.down_payment else None,
    )
