"""Repayment schedules and IRR rate disclosure: pure functions over values."""

from lendcore.schedule.amortize import build_schedule
from lendcore.schedule.disclosure import Disclosure, disclose
from lendcore.schedule.model import (
    DayCount,
    Installment,
    Method,
    PeriodUnit,
    Schedule,
    ScheduleTerms,
)

__all__ = [
    "DayCount",
    "Disclosure",
    "Installment",
    "Method",
    "PeriodUnit",
    "Schedule",
    "ScheduleTerms",
    "build_schedule",
    "disclose",
]
