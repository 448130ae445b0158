"""Loan lifecycle and repayment allocation — pure.

States (the seed's order_status: 正常 -> ACTIVE or RESTRUCTURED, 逾期 -> OVERDUE,
已结清 -> SETTLED):

    APPROVED -> CONTRACT_SIGNED -> ACTIVE <-> OVERDUE -> WRITTEN_OFF
                                     |  \\      |  \\
                                     |   RESTRUCTURED (performing under a hardship plan)
                                     +------> SETTLED <----+

An illegal transition is a domain error (``ILLEGAL_TRANSITION``); the end-of-day SQL moves only
ACTIVE/RESTRUCTURED -> OVERDUE and OVERDUE -> ACTIVE, which this table allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError


class LoanState(StrEnum):
    APPROVED = "APPROVED"
    CONTRACT_SIGNED = "CONTRACT_SIGNED"
    ACTIVE = "ACTIVE"
    OVERDUE = "OVERDUE"
    RESTRUCTURED = "RESTRUCTURED"
    SETTLED = "SETTLED"
    WRITTEN_OFF = "WRITTEN_OFF"


ORDER_STATUS = {  # the seed documents' order_status vocabulary
    LoanState.ACTIVE: "正常",
    LoanState.RESTRUCTURED: "正常",
    LoanState.OVERDUE: "逾期",
    LoanState.SETTLED: "已结清",
}

TRANSITIONS: dict[LoanState, frozenset[LoanState]] = {
    LoanState.APPROVED: frozenset({LoanState.CONTRACT_SIGNED}),
    LoanState.CONTRACT_SIGNED: frozenset({LoanState.ACTIVE}),
    LoanState.ACTIVE: frozenset({LoanState.OVERDUE, LoanState.SETTLED, LoanState.RESTRUCTURED}),
    LoanState.OVERDUE: frozenset(
        {LoanState.ACTIVE, LoanState.SETTLED, LoanState.WRITTEN_OFF, LoanState.RESTRUCTURED}
    ),
    LoanState.RESTRUCTURED: frozenset(
        {LoanState.OVERDUE, LoanState.SETTLED, LoanState.WRITTEN_OFF}
    ),
    LoanState.SETTLED: frozenset(),
    LoanState.WRITTEN_OFF: frozenset(),
}

LIVE_STATES = (LoanState.ACTIVE, LoanState.OVERDUE, LoanState.RESTRUCTURED)


def transition(current: LoanState, target: LoanState) -> LoanState:
    if target is current:
        return current
    if target not in TRANSITIONS[current]:
        raise PolicyViolation(
            ErrorCode.ILLEGAL_TRANSITION,
            f"a loan cannot go from {current} to {target}",
            {"from": str(current), "to": str(target)},
        )
    return target


# ---- delinquency buckets ------------------------------------------------------------------

DEFAULT_BUCKETS: tuple[tuple[str, int], ...] = (("M0", 0), ("M1", 30), ("M2", 60), ("M3", 90))
OVERFLOW_BUCKET = "M4+"


def bucket_for(days_past_due: int, buckets: tuple[tuple[str, int], ...] = DEFAULT_BUCKETS) -> str:
    """M0 current, M1 1–30, M2 31–60, M3 61–90, M4+ beyond: each (name, upper bound in days)."""
    for name, upper in buckets:
        if days_past_due <= upper:
            return name
    return OVERFLOW_BUCKET


# ---- allocation waterfall -----------------------------------------------------------------


class Target(StrEnum):
    OVERDUE_PENALTY = "overdue_penalty"
    OVERDUE_INTEREST = "overdue_interest"
    OVERDUE_FEE = "overdue_fee"
    OVERDUE_PRINCIPAL = "overdue_principal"
    CURRENT_INTEREST = "current_interest"
    CURRENT_FEE = "current_fee"
    CURRENT_PRINCIPAL = "current_principal"


# Fineract-style default: penalties, then what is overdue (interest before principal), then
# what is due next. Fees sit with interest: both are charges, principal comes last.
DEFAULT_WATERFALL: tuple[Target, ...] = (
    Target.OVERDUE_PENALTY,
    Target.OVERDUE_INTEREST,
    Target.OVERDUE_FEE,
    Target.OVERDUE_PRINCIPAL,
    Target.CURRENT_INTEREST,
    Target.CURRENT_FEE,
    Target.CURRENT_PRINCIPAL,
)


def parse_waterfall(text: str) -> tuple[Target, ...]:
    """ "overdue_penalty,overdue_interest,..." -> targets; every target exactly once."""
    try:
        order = tuple(Target(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"bad waterfall: {exc}") from None
    if sorted(order) != sorted(Target):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "a waterfall must name every target exactly once"
        )
    return order


@dataclass(frozen=True, slots=True)
class Due:
    """What is still unpaid on one instalment."""

    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int


@dataclass
class Allocation:
    amount: int
    penalty: int = 0
    principal: dict[int, int] = field(default_factory=dict)  # seq -> fen
    interest: dict[int, int] = field(default_factory=dict)
    fee: dict[int, int] = field(default_factory=dict)
    prepaid_principal: int = 0
    overpayment: int = 0

    @property
    def allocated(self) -> int:
        return (
            self.penalty
            + sum(self.principal.values())
            + sum(self.interest.values())
            + sum(self.fee.values())
            + self.prepaid_principal
            + self.overpayment
        )


def allocate(
    amount: int,
    payment_date: date,
    dues: list[Due],
    penalty: int,
    future_principal: int,
    waterfall: tuple[Target, ...] = DEFAULT_WATERFALL,
    prepayment_allowed: bool = True,
) -> Allocation:
    """Split ``amount`` over what the borrower owes, in waterfall order.

    Overdue = instalments due before ``payment_date``; current = the first instalment due on or
    after it (all of its interest and fee: the current period is charged in full). After the
    waterfall, money prepays principal not yet due (``future_principal``) when the product allows
    it; anything left is an overpayment, held as a liability for the borrower.
    """
    if amount <= 0:
        raise ValidationError(ErrorCode.INVALID_AMOUNT, "a repayment must be positive")
    ordered = sorted(dues, key=lambda d: d.due_date)
    overdue = [d for d in ordered if d.due_date < payment_date]
    upcoming = [d for d in ordered if d.due_date >= payment_date]
    current = upcoming[:1]
    result = Allocation(amount=amount)
    left = amount

    def take(owed: int) -> int:
        nonlocal left
        paid = min(owed, left)
        left -= paid
        return paid

    for target in waterfall:
        if left == 0:
            break
        if target is Target.OVERDUE_PENALTY:
            result.penalty += take(penalty)
            continue
        group = overdue if target.name.startswith("OVERDUE") else current
        component = target.value.split("_", 1)[1]
        book: dict[int, int] = getattr(result, component)
        for due in group:
            paid = take(getattr(due, component))
            if paid:
                book[due.seq] = book.get(due.seq, 0) + paid
    if prepayment_allowed:
        result.prepaid_principal = take(future_principal)
    result.overpayment = left
    return result


def settled_on_time(
    rows: list[dict[str, Any]], paid: set[int], was_open: set[int], business_date: date
) -> int:
    """Instalments a repayment paid to the last fen, on or before their due date (``rows``: the
    instalments after the payment; ``paid``: the seqs it put money on; ``was_open``: the seqs that
    owed something before it). Only instalments the payment itself touched count: a prepayment
    that re-amortizes later instalments away pays them nothing, so it is one on-time repayment,
    not a dozen. Credit lines count these (decisioning.credit_lines)."""
    return sum(
        1
        for r in rows
        if r["seq"] in paid
        and r["seq"] in was_open
        and r["due_date"] >= business_date
        and r["principal_paid"] == r["principal_due"]
        and r["interest_paid"] == r["interest_due"]
        and r["fee_paid"] == r["fee_due"]
    )
