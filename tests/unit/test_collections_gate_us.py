"""The `us-regf` pack (Regulation F): same gate, different data."""

from datetime import timedelta

import pytest
from test_collections_support import (
    ANSWERED,
    CONTACT,
    LOS_ANGELES,
    NEW_YORK,
    SMS,
    UNANSWERED,
    US,
    at,
    borrower,
    called,
    check,
    contact,
    unreachable_before,
)


def ny(text):
    return at(text, NEW_YORK)


def us_check(request, history=(), **kwargs):
    kwargs.setdefault("tz", NEW_YORK)
    return check(request, history, pack=US, **kwargs)


MONDAY = ny("2026-03-02 12:00")


@pytest.mark.parametrize(
    ("local", "inconvenient"),
    [("07:59", True), ("08:00", False), ("20:59", False), ("21:00", True)],
)
def test_calls_only_between_8am_and_9pm_consumer_local_time(local, inconvenient):
    result = us_check(borrower(ny(f"2026-03-02 {local}")))
    assert ("QUIET_HOURS" in result.reasons) is inconvenient
    assert result.allowed is not inconvenient


def test_the_consumers_location_decides_not_the_collectors():
    # 10:00 in New York is 07:00 in Los Angeles.
    request = borrower(ny("2026-03-02 10:00"))
    assert us_check(request).allowed
    assert set(us_check(request, tz=LOS_ANGELES).reasons) == {"QUIET_HOURS"}


def _daily_calls(days_back):
    """One unanswered call to the consumer at 10:00 on each of the given days before Monday."""
    return [called(MONDAY.replace(hour=10) - timedelta(days=d)) for d in days_back]


@pytest.mark.parametrize(("earlier", "capped"), [(6, False), (7, True)])
def test_at_most_seven_calls_in_seven_consecutive_days(earlier, capped):
    history = _daily_calls(range(earlier))  # today and the days before it
    result = us_check(borrower(MONDAY), history)
    assert ("WEEKLY_CAP" in result.reasons) is capped
    assert result.allowed is not capped


def test_a_call_eight_days_back_is_outside_the_seven_day_window():
    history = _daily_calls(range(1, 8))  # 7 calls: days -1 .. -7
    assert us_check(borrower(MONDAY), history).allowed  # only days -1 .. -6 are in the window


def test_calls_to_third_parties_do_not_count_toward_the_consumers_weekly_cap():
    history = _daily_calls(range(6)) + [
        called(MONDAY - timedelta(hours=1), UNANSWERED, CONTACT, f"c{i}") for i in range(3)
    ]
    assert us_check(borrower(MONDAY), history).allowed


@pytest.mark.parametrize(
    ("when", "paused"),
    [
        ("2026-03-02 15:00", True),  # day 1: the conversation's own day
        ("2026-03-08 20:59", True),  # day 7 (Sunday)
        ("2026-03-09 08:00", False),  # day 8 (the next Monday)
    ],
)
def test_no_call_within_seven_days_after_a_conversation(when, paused):
    history = [called(ny("2026-03-02 10:00"), ANSWERED)]
    result = us_check(borrower(ny(when)), history)
    assert ("POST_CONVERSATION_PAUSE" in result.reasons) is paused
    assert result.allowed is not paused


def test_an_unanswered_call_does_not_start_the_pause():
    history = [called(ny("2026-03-02 10:00"), UNANSWERED)]
    assert us_check(borrower(ny("2026-03-02 15:00")), history).allowed


def test_a_third_party_is_called_once_for_location_information():
    history = unreachable_before(MONDAY)
    assert us_check(contact(MONDAY), history).allowed
    later = MONDAY + timedelta(days=30)
    history = [*history, called(MONDAY, UNANSWERED, CONTACT, "c1")]
    assert set(us_check(contact(later), history).reasons) == {"CONTACT_LIFETIME_CAP"}
    assert set(us_check(contact(later, channel=SMS), history).reasons) == {"CONTACT_LIFETIME_CAP"}
    assert us_check(contact(later, "c2"), history).allowed


def test_third_parties_stay_locked_while_the_consumer_is_reachable_or_early():
    assert "CONTACTS_LOCKED" in us_check(contact(MONDAY)).reasons
    assert "CONTACTS_LOCKED" in us_check(contact(MONDAY), unreachable_before(MONDAY), dpd=3).reasons


def test_the_us_pack_has_no_chinese_daily_conversation_cap():
    # Three conversations with different third parties today: Reg F has no per-day count.
    history = [called(MONDAY - timedelta(hours=h), ANSWERED, CONTACT, f"c{h}") for h in (1, 2, 3)]
    result = us_check(borrower(MONDAY), history)
    assert result.allowed and result.pack_version == f"us-regf@{US.version_hash}"
