from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from lendcore.kernel.clock import FixedClock, SystemClock
from lendcore.kernel.errors import ErrorCode, PolicyViolation


def test_default_business_time_zone_is_shanghai():
    assert SystemClock().timezone == ZoneInfo("Asia/Shanghai")
    assert FixedClock.at_date(date(2026, 3, 2)).now().utcoffset() == timedelta(hours=8)


def test_business_date_follows_the_clock_time_zone_not_utc():
    # 2026-03-01 17:00 UTC is already 2026-03-02 01:00 in Shanghai.
    clock = FixedClock(datetime(2026, 3, 1, 17, 0, tzinfo=ZoneInfo("UTC")))
    assert clock.business_date() == date(2026, 3, 2)


def test_a_fixed_clock_moves_only_when_told():
    clock = FixedClock.at_date(date(2026, 3, 2))
    assert clock.now() == clock.now()
    clock.advance(timedelta(days=1))
    assert clock.business_date() == date(2026, 3, 3)
    clock.set_business_date(date(2026, 3, 1))  # an end-of-day closing yesterday
    assert clock.business_date() == date(2026, 3, 1)


def test_errors_carry_a_stable_machine_readable_code():
    error = PolicyViolation(ErrorCode.RATE_CAP_EXCEEDED, "too dear", {"limit": "0.2400"})
    assert error.to_dict() == {
        "code": "RATE_CAP_EXCEEDED",
        "message": "too dear",
        "details": {"limit": "0.2400"},
    }
