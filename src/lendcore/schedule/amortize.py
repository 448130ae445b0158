"""The four amortization methods.

Rules shared by every method:
- interest of a period = remaining principal x annual rate x the period's year fraction, rounded
  to the fen with the terms' rounding mode;
- the last instalment takes whatever principal remains, so principal parts sum exactly to the
  principal whatever the rounding did on the way;
- a broken first period (first due date not one period after the start) is charged interest for
  its real length. For equal instalments the level payment is priced on regular periods and the
  broken period only changes the first instalment's interest (the usual CN bank practice: the
  borrower pays for the extra days, or less for fewer, and every later instalment stays level).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, localcontext

from lendcore.kernel.money import Rounding, round_minor
from lendcore.schedule.calendar import add_periods, due_dates, regular_fraction, year_fraction
from lendcore.schedule.model import Installment, Method, Schedule, ScheduleTerms

PRECISION = 40  # significant digits for the level-payment formula ((1+r)^n with n up to 1200)


def level_payment(principal: int, periodic_rate: Decimal, periods: int, rounding: Rounding) -> int:
    """The annuity payment that repays ``principal`` fen in ``periods`` equal payments:
    P·r·(1+r)^n / ((1+r)^n − 1), or P/n at a zero rate."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if periodic_rate == 0:
            return round_minor(Decimal(principal) / periods, rounding)
        growth = (1 + periodic_rate) ** periods
        return round_minor(principal * periodic_rate * growth / (growth - 1), rounding)


def _periods(terms: ScheduleTerms) -> tuple[list[tuple[date, date, Decimal]], bool]:
    """(start, due, year fraction) of every period and whether the first one is broken."""
    unit, day_count = terms.period_unit, terms.day_count
    if terms.method is Method.BULLET:
        # One instalment at maturity: `periods` units after the start unless a date is given.
        maturity = terms.first_due or add_periods(terms.start, terms.periods, unit)
        regular = terms.first_due is None or maturity == add_periods(
            terms.start, terms.periods, unit
        )
        fraction = year_fraction(
            terms.start, maturity, day_count, unit if regular else None, terms.periods
        )
        return [(terms.start, maturity, fraction)], not regular
    dues, broken = due_dates(terms.start, terms.periods, unit, terms.first_due)
    result = []
    previous = terms.start
    for index, due in enumerate(dues):
        regular_unit = None if (index == 0 and broken) else unit
        result.append((previous, due, year_fraction(previous, due, day_count, regular_unit)))
        previous = due
    return result, broken


def build_schedule(terms: ScheduleTerms) -> Schedule:
    """The full repayment schedule for ``terms``."""
    periods, broken = _periods(terms)
    rate, rounding = terms.annual_rate, terms.rounding
    count = len(periods)

    def interest_on(balance: int, fraction: Decimal) -> int:
        return round_minor(balance * rate * fraction, rounding)

    principal_part: Callable[[int, int], int]
    if terms.method is Method.EQUAL_INSTALLMENT:
        regular_rate = rate * regular_fraction(terms.period_unit, terms.day_count)
        payment = level_payment(terms.principal, regular_rate, count, rounding)

        def principal_part(index: int, balance: int) -> int:
            # Principal follows the regular annuity even when interest is charged on actual days.
            return payment - round_minor(balance * regular_rate, rounding)

    elif terms.method is Method.EQUAL_PRINCIPAL:
        slice_ = round_minor(Decimal(terms.principal) / count, rounding)

        def principal_part(index: int, balance: int) -> int:
            return slice_

    else:  # interest-first and bullet repay all principal with the last instalment

        def principal_part(index: int, balance: int) -> int:
            return 0

    balance = terms.principal
    installments = []
    for index, (period_start, due, fraction) in enumerate(periods):
        interest = interest_on(balance, fraction)
        if index == count - 1:
            principal = balance
        else:
            principal = min(max(principal_part(index, balance), 0), balance)
        balance -= principal
        installments.append(
            Installment(
                period=index + 1,
                start=period_start,
                due_date=due,
                fraction=fraction,
                principal=principal,
                interest=interest,
                fee=terms.fee_per_period,
                remaining_principal=balance,
            )
        )
    return Schedule(terms=terms, installments=tuple(installments), broken_first_period=broken)
