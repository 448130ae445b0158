"""Schedule value types: the terms that define a schedule and the schedule itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import Rounding

MAX_PERIODS = 1200  # 100 years of months, or ~3 years of days: beyond that it is a typo


class Method(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_FIRST = "interest_first"  # 先息后本
    BULLET = "bullet"  # 到期一次还本付息


class PeriodUnit(StrEnum):
    MONTH = "month"
    WEEK = "week"
    DAY = "day"


class DayCount(StrEnum):
    ACT_365F = "act365"
    ACT_360 = "act360"
    THIRTY_360 = "30_360"


@dataclass(frozen=True, slots=True)
class ScheduleTerms:
    """Everything a schedule depends on. Amounts in fen, the rate a nominal annual Decimal."""

    principal: int
    annual_rate: Decimal
    periods: int
    method: Method
    start: date
    period_unit: PeriodUnit = PeriodUnit.MONTH
    first_due: date | None = None
    day_count: DayCount = DayCount.THIRTY_360
    upfront_fee: int = 0
    fee_per_period: int = 0
    rounding: Rounding = Rounding.HALF_UP

    def __post_init__(self) -> None:
        if self.principal <= 0:
            raise ValidationError(ErrorCode.INVALID_AMOUNT, "principal must be positive")
        if not 1 <= self.periods <= MAX_PERIODS:
            raise ValidationError(
                ErrorCode.INVALID_TERM, f"periods must be between 1 and {MAX_PERIODS}"
            )
        if self.annual_rate < 0:
            raise ValidationError(ErrorCode.INVALID_RATE, "annual rate must be >= 0")
        if self.upfront_fee < 0 or self.fee_per_period < 0:
            raise ValidationError(ErrorCode.INVALID_AMOUNT, "fees must be >= 0")
        if self.upfront_fee >= self.principal:
            raise ValidationError(
                ErrorCode.INVALID_AMOUNT, "upfront fee must be less than the principal"
            )
        if self.first_due is not None and self.first_due <= self.start:
            raise ValidationError(ErrorCode.INVALID_DATE, "first due date must be after the start")


@dataclass(frozen=True, slots=True)
class Installment:
    """One instalment. ``fraction`` is the period's year fraction under the day count; it is what
    the interest was charged on, and what the IRR disclosure discounts with."""

    period: int
    start: date
    due_date: date
    fraction: Fraction
    principal: int
    interest: int
    fee: int
    remaining_principal: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee


@dataclass(frozen=True, slots=True)
class Schedule:
    terms: ScheduleTerms
    installments: tuple[Installment, ...]
    broken_first_period: bool = False

    @property
    def total_principal(self) -> int:
        return sum(i.principal for i in self.installments)

    @property
    def total_interest(self) -> int:
        return sum(i.interest for i in self.installments)

    @property
    def total_fees(self) -> int:
        """Every fee the borrower pays: per-instalment fees plus the upfront fee."""
        return sum(i.fee for i in self.installments) + self.terms.upfront_fee

    @property
    def total_repayment(self) -> int:
        """What the borrower pays back over the life of the loan (instalments only; the upfront
        fee is withheld from the disbursement, not repaid)."""
        return sum(i.total for i in self.installments)

    @property
    def amount_received(self) -> int:
        """Money the borrower actually receives at disbursement."""
        return self.terms.principal - self.terms.upfront_fee

    @property
    def maturity(self) -> date:
        return self.installments[-1].due_date
