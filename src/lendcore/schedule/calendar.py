"""Due dates and day-count year fractions."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from fractions import Fraction

from lendcore.schedule.model import DayCount, PeriodUnit

_DAYS_PER_UNIT = {PeriodUnit.WEEK: 7, PeriodUnit.DAY: 1}


def add_months(day: date, months: int, anchor_day: int | None = None) -> date:
    """``day`` moved by whole months, keeping ``anchor_day`` (default: day's own) and clamping to
    the month's end: Jan 31 + 1 month = Feb 28/29, and the next one is Mar 31 again."""
    anchor = anchor_day or day.day
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def add_periods(day: date, count: int, unit: PeriodUnit, anchor_day: int | None = None) -> date:
    if unit is PeriodUnit.MONTH:
        return add_months(day, count, anchor_day)
    return day + timedelta(days=_DAYS_PER_UNIT[unit] * count)


def due_dates(
    start: date, periods: int, unit: PeriodUnit, first_due: date | None
) -> tuple[list[date], bool]:
    """The due dates of ``periods`` instalments and whether the first period is broken (its due
    date is not exactly one period after the start). Later dates follow the first due date."""
    regular_first = add_periods(start, 1, unit)
    first = first_due or regular_first
    # Keep the day of month the borrower chose (or the start's), not the one February clamped.
    anchor = first_due.day if first_due else start.day
    dates = [first] + [add_periods(first, k, unit, anchor) for k in range(1, periods)]
    return dates, first != regular_first


def regular_fraction(unit: PeriodUnit, day_count: DayCount) -> Fraction:
    """The year fraction of one regular period, used to price the level payment. A month is
    1/12 under every convention (how every CN bank quotes 月利率 = 年利率/12)."""
    if unit is PeriodUnit.MONTH:
        return Fraction(1, 12)
    days = _DAYS_PER_UNIT[unit]
    return Fraction(days, 365 if day_count is DayCount.ACT_365F else 360)


def thirty_360_days(start: date, end: date) -> int:
    """30/360 day count with the end-of-month rule (30/360 ISDA, EOM): the last day of any month
    counts as day 30, so Jan 31 -> Feb 28 is one 30-day month."""

    def day_of(d: date) -> int:
        last = calendar.monthrange(d.year, d.month)[1]
        return 30 if d.day >= min(30, last) else d.day

    d1, d2 = day_of(start), day_of(end)
    days = 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)
    # Jan 30 -> Jan 31 is 0 days by the convention; money held for a real day costs a day.
    return max(days, 1) if end > start else days


def period_days(
    start: date, end: date, day_count: DayCount, regular_unit: PeriodUnit | None, units: int = 1
) -> tuple[int, int]:
    """A period's length as (days, days in the year basis) under ``day_count``: its year
    fraction is days / basis, an exact rational (1/12 is not a finite decimal, and a truncated
    one could round a true half fen the wrong way). Under 30/360 a period that is exactly
    ``units`` regular periods long counts as such (a month is 30 days by definition); under the
    actual conventions real calendar days count."""
    if day_count is DayCount.THIRTY_360:
        if regular_unit is not None:
            per_unit = 30 if regular_unit is PeriodUnit.MONTH else _DAYS_PER_UNIT[regular_unit]
            return per_unit * units, 360
        return thirty_360_days(start, end), 360
    return (end - start).days, 365 if day_count is DayCount.ACT_365F else 360


def year_fraction(
    start: date, end: date, day_count: DayCount, regular_unit: PeriodUnit | None, units: int = 1
) -> Fraction:
    days, basis = period_days(start, end, day_count, regular_unit, units)
    return Fraction(days, basis)
