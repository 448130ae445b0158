"""The business clock: business date and wall clock are parameters, never read ad hoc.

Services receive a :class:`Clock`; tests and the simulator use :class:`FixedClock` and move it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


class Clock(Protocol):
    @property
    def timezone(self) -> ZoneInfo: ...

    def now(self) -> datetime:
        """Aware wall-clock time."""
        ...

    def business_date(self) -> date:
        """The date the business is operating on (may lag the wall clock during end-of-day)."""
        ...


@dataclass
class SystemClock:
    """Wall clock; the business date is today's date in the clock's time zone."""

    tz_name: str = DEFAULT_TIMEZONE

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def now(self) -> datetime:
        return datetime.now(self.timezone)

    def business_date(self) -> date:
        return self.now().date()


@dataclass
class FixedClock:
    """A clock that stands still until moved: for tests, replays and the simulator."""

    current: datetime
    tz_name: str = DEFAULT_TIMEZONE
    _business_date: date | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            self.current = self.current.replace(tzinfo=ZoneInfo(self.tz_name))

    @classmethod
    def at_date(cls, day: date, tz_name: str = DEFAULT_TIMEZONE) -> FixedClock:
        return cls(datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo(tz_name)), tz_name)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def now(self) -> datetime:
        return self.current

    def business_date(self) -> date:
        return self._business_date or self.current.astimezone(self.timezone).date()

    def advance(self, delta: timedelta) -> None:
        self.current += delta
        self._business_date = None

    def set_business_date(self, day: date) -> None:
        self._business_date = day
