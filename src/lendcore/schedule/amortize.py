"""The four amortization methods.

Rules shared by every method:
- interest of a period = remaining principal x annual rate x the period's year fraction, rounded
  to the fen with the terms' rounding mode. Rate and fraction are exact rationals and the
  rounding is one integer division, so no intermediate value is ever approximated;
- the last instalment takes whatever principal remains, so principal parts sum exactly to the
  principal whatever the rounding did on the way;
- a broken first period (first due date not one period after the start) is charged interest for
  its real length. For equal instalments the level payment is priced on regular periods and the
  broken period only changes the first instalment's interest (the usual CN bank practice: the
  borrower pays for the extra days, or less for fewer, and every later instalment stays level).
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from lendcore.kernel.money import Rounding, round_ratio
from lendcore.schedule.calendar import add_periods, due_dates, period_days, regular_fraction
from lendcore.schedule.model import Installment, Method, Schedule, ScheduleTerms


def level_payment(principal: int, periodic_rate: Fraction, periods: int, rounding: Rounding) -> int:
    """The annuity payment that repays ``principal`` fen in ``periods`` equal payments,
    P·r·(1+r)^n / ((1+r)^n − 1), or P/n at a zero rate, computed exactly: with r = a/b it is
    P·a·(a+b)^n / (b·((a+b)^n − b^n)), one rounding at the end."""
    if periodic_rate == 0:
        return round_ratio(principal, periods, rounding)
    a, b = periodic_rate.numerator, periodic_rate.denominator
    grown, base = (a + b) ** periods, b**periods
    return round_ratio(principal * a * grown, b * (grown - base), rounding)


def _periods(terms: ScheduleTerms) -> tuple[list[tuple[date, date, tuple[int, int]]], bool]:
    """(start, due, (days, basis)) of every period and whether the first one is broken."""
    unit, day_count = terms.period_unit, terms.day_count
    if terms.method is Method.BULLET:
        # One instalment at maturity: `periods` units after the start unless a date is given.
        regular_maturity = add_periods(terms.start, terms.periods, unit)
        maturity = terms.first_due or regular_maturity
        regular = maturity == regular_maturity
        length = period_days(
            terms.start, maturity, day_count, unit if regular else None, terms.periods
        )
        return [(terms.start, maturity, length)], not regular
    dues, broken = due_dates(terms.start, terms.periods, unit, terms.first_due)
    result = []
    previous = terms.start
    for index, due in enumerate(dues):
        regular_unit = None if (index == 0 and broken) else unit
        result.append((previous, due, period_days(previous, due, day_count, regular_unit)))
        previous = due
    return result, broken


def build_schedule(terms: ScheduleTerms) -> Schedule:
    """The full repayment schedule for ``terms``."""
    periods, broken = _periods(terms)
    installments = amortize(
        terms.principal,
        Fraction(terms.annual_rate),
        terms.method,
        periods,
        regular_fraction(terms.period_unit, terms.day_count),
        terms.rounding,
        terms.fee_per_period,
    )
    return Schedule(terms=terms, installments=tuple(installments), broken_first_period=broken)


def amortize(
    principal: int,
    rate: Fraction,
    method: Method,
    periods: list[tuple[date, date, tuple[int, int]]],
    regular: Fraction,
    rounding: Rounding,
    fee_per_period: int = 0,
    first_number: int = 1,
) -> list[Installment]:
    """Amounts of every instalment over given periods ((start, due, (days, basis)) each).

    Servicing calls this directly to re-amortize the rest of a loan over its existing due dates
    after a partial prepayment; ``first_number`` numbers the instalments from there."""
    count = len(periods)

    # Period lengths repeat (every 30/360 month, every 31-day month ...): build each distinct
    # year fraction and its integer rate ratio once.
    lengths: dict[tuple[int, int], tuple[Fraction, int, int]] = {}

    def rate_for(length: tuple[int, int]) -> tuple[Fraction, int, int]:
        if length not in lengths:
            fraction = Fraction(*length)
            periodic = rate * fraction
            lengths[length] = (fraction, periodic.numerator, periodic.denominator)
        return lengths[length]

    payment = slice_ = 0
    regular_num = regular_den = 1
    if method is Method.EQUAL_INSTALLMENT:
        regular_rate = rate * regular
        regular_num, regular_den = regular_rate.numerator, regular_rate.denominator
        payment = level_payment(principal, regular_rate, count, rounding)
    elif method is Method.EQUAL_PRINCIPAL:
        slice_ = round_ratio(principal, count, rounding)

    balance = principal
    installments = []
    last = count - 1
    for index, (period_start, due, length) in enumerate(periods):
        fraction, num, den = rate_for(length)
        interest = round_ratio(balance * num, den, rounding)
        if index == last:
            part = balance
        else:
            if method is Method.EQUAL_INSTALLMENT:
                # Principal follows the regular annuity even when interest is on actual days.
                part = payment - round_ratio(balance * regular_num, regular_den, rounding)
            elif method is Method.EQUAL_PRINCIPAL:
                part = slice_
            else:  # interest-first and bullet repay all principal with the last instalment
                part = 0
            part = min(max(part, 0), balance)
        balance -= part
        installments.append(
            Installment(
                period=first_number + index,
                start=period_start,
                due_date=due,
                fraction=fraction,
                principal=part,
                interest=interest,
                fee=fee_per_period,
                remaining_principal=balance,
            )
        )
    return installments
