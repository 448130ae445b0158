"""The default `cn` pack, one rule per test, each at its boundary."""

from datetime import timedelta

import pytest
from test_collections_support import (
    ANSWERED,
    CN,
    CONTACT,
    EMERGENCY,
    INVALID_NUMBER,
    INVESTIGATION,
    LOST_CONTACT_REPAIR,
    OVERDUE_COLLECTION,
    REFUSED,
    SHANGHAI,
    SMS,
    UNANSWERED,
    URUMQI,
    at,
    borrower,
    called,
    check,
    contact,
    reasons,
    unreachable_before,
)

NOON = at("2026-03-02 12:00")


def test_a_plain_borrower_call_in_daytime_on_an_overdue_loan_is_allowed():
    result = check(borrower(NOON))
    assert result.allowed and result.reasons == ()
    assert result.pack_version == f"cn@{CN.version_hash}"


# -- quiet hours 21:00-08:00 in the debtor's zone ---------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [("07:59", True), ("08:00", False), ("20:59", False), ("21:00", True), ("03:00", True)],
)
def test_quiet_hours_boundaries_in_the_debtors_zone(local, quiet):
    result = check(borrower(at(f"2026-03-02 {local}")))
    assert ("QUIET_HOURS" in result.reasons) is quiet
    assert result.allowed is not quiet


def test_quiet_hours_cover_text_messages_too():
    assert reasons(borrower(at("2026-03-02 21:30"), channel=SMS)) == {"QUIET_HOURS"}


def test_quiet_hours_use_the_debtors_zone_not_the_lenders():
    # 22:30 in Beijing is 20:30 in Urumqi (UTC+6): fine for a debtor there, not for one in Shanghai.
    evening = at("2026-03-02 22:30", SHANGHAI)
    assert check(borrower(evening), tz=URUMQI).allowed
    assert not check(borrower(evening), tz=SHANGHAI).allowed
    # 09:30 in Beijing is 07:30 in Urumqi: the other way round.
    morning = at("2026-03-02 09:30", SHANGHAI)
    assert reasons(borrower(morning), tz=URUMQI) == {"QUIET_HOURS"}
    assert check(borrower(morning), tz=SHANGHAI).allowed


# -- who may be called at which DPD ------------------------------------------------------------


def test_no_collection_call_to_anybody_at_dpd_0():
    assert reasons(borrower(NOON), dpd=0) == {"NOT_OVERDUE"}
    assert "NOT_OVERDUE" in reasons(contact(NOON), unreachable_before(NOON), dpd=0)


def test_the_borrower_may_be_called_from_dpd_1():
    assert check(borrower(NOON), dpd=1).allowed


@pytest.mark.parametrize(("dpd", "locked"), [(1, True), (3, True), (4, False), (30, False)])
def test_contacts_only_from_dpd_4(dpd, locked):
    result = check(contact(NOON), unreachable_before(NOON), dpd=dpd)
    assert ("CONTACTS_LOCKED" in result.reasons) is locked
    assert result.allowed is not locked


@pytest.mark.parametrize(("misses", "locked"), [(2, True), (3, False)])
def test_contacts_need_three_unanswered_borrower_calls_in_a_row(misses, locked):
    result = check(contact(NOON), unreachable_before(NOON, misses))
    assert ("CONTACTS_LOCKED" in result.reasons) is locked


def test_an_invalid_borrower_number_makes_the_borrower_unreachable_at_once():
    history = [called(NOON - timedelta(hours=2), INVALID_NUMBER)]
    assert check(contact(NOON), history).allowed


def test_a_borrower_who_answered_after_the_misses_is_reachable_again():
    history = [*unreachable_before(NOON), called(NOON - timedelta(hours=1), ANSWERED)]
    assert reasons(contact(NOON), history) == {"CONTACTS_LOCKED"}


def test_misses_only_count_after_the_borrower_was_last_reached():
    history = [
        called(at("2026-02-27 10:00")),
        called(at("2026-02-27 11:00")),
        called(at("2026-02-28 10:00"), ANSWERED),
        called(at("2026-03-01 10:00")),
        called(at("2026-03-01 11:00")),
    ]
    assert "CONTACTS_LOCKED" in reasons(contact(NOON), history)


# -- consent scope ----------------------------------------------------------------------------


def test_overdue_collection_scope_covers_collection():
    assert check(contact(NOON, scope=OVERDUE_COLLECTION), unreachable_before(NOON)).allowed


def test_lost_contact_repair_covers_collection_only_when_the_borrower_is_unreachable():
    request = contact(NOON, scope=LOST_CONTACT_REPAIR)
    assert check(request, unreachable_before(NOON)).allowed
    assert reasons(request, unreachable_before(NOON, 2)) == {"CONTACTS_LOCKED", "CONSENT_SCOPE"}


def test_lost_contact_repair_alone_is_refused_for_a_reachable_borrower_even_in_investigation():
    request = contact(NOON, scope=LOST_CONTACT_REPAIR, call_type=INVESTIGATION)
    assert reasons(request, dpd=0, authorised=True) == {"CONSENT_SCOPE"}


def test_emergency_scope_never_covers_collection():
    request = contact(NOON, scope=EMERGENCY)
    assert reasons(request, unreachable_before(NOON)) == {"CONSENT_SCOPE"}


def test_emergency_scope_never_covers_an_investigation_either():
    request = contact(NOON, scope=EMERGENCY, call_type=INVESTIGATION)
    assert reasons(request, dpd=0, authorised=True) == {"CONSENT_SCOPE"}


# -- same contact, refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "too_soon"), [(timedelta(hours=47, minutes=59), True), (timedelta(hours=48), False)]
)
def test_the_same_contact_at_most_once_per_48_hours(gap, too_soon):
    first = at("2026-03-02 10:00")
    history = [*unreachable_before(first), called(first, ANSWERED, CONTACT, "c1")]
    result = check(contact(first + gap), history)
    assert ("CONTACT_INTERVAL" in result.reasons) is too_soon
    assert result.allowed is not too_soon


def test_the_interval_is_per_contact_and_counts_any_channel():
    first = at("2026-03-02 10:00")
    history = [*unreachable_before(first), called(first, UNANSWERED, CONTACT, "c1", channel=SMS)]
    assert "CONTACT_INTERVAL" in reasons(contact(first + timedelta(hours=2)), history)
    assert check(contact(first + timedelta(hours=2), "c2"), history).allowed


def test_a_contact_who_refused_is_never_called_again():
    long_ago = at("2025-12-01 10:00")
    history = [*unreachable_before(NOON), called(long_ago, REFUSED, CONTACT, "c1")]
    assert reasons(contact(NOON), history) == {"CONTACT_REFUSED"}
    assert reasons(contact(NOON, channel=SMS), history) == {"CONTACT_REFUSED"}
    assert check(contact(NOON, "c2"), history).allowed


# -- daily caps (calendar day in the debtor's zone) ---------------------------------------------


@pytest.mark.parametrize(("earlier", "capped"), [(2, False), (3, True)])
def test_at_most_three_connected_conversations_a_day(earlier, capped):
    history = [called(at(f"2026-03-02 {9 + i:02d}:00"), ANSWERED) for i in range(earlier)]
    result = check(borrower(at("2026-03-02 15:00")), history)
    assert ("DEBTOR_DAILY_CAP" in result.reasons) is capped


def test_conversations_with_contacts_count_toward_the_debtors_daily_cap():
    history = [
        *unreachable_before(NOON),
        called(at("2026-03-02 09:00"), ANSWERED),
        called(at("2026-03-02 10:00"), ANSWERED, CONTACT, "c7"),
        called(at("2026-03-02 11:00"), REFUSED, CONTACT, "c8"),  # a refusal is a conversation
    ]
    assert reasons(borrower(NOON), history) == {"DEBTOR_DAILY_CAP"}


def test_the_daily_cap_counts_the_debtors_calendar_day_not_utcs():
    # 07:00-07:30 in Shanghai is the previous day in UTC; it is still today for the debtor.
    history = [called(at(f"2026-03-02 07:{10 * i:02d}"), ANSWERED) for i in range(3)]
    assert reasons(borrower(NOON), history) == {"DEBTOR_DAILY_CAP"}
    yesterday = [called(at(f"2026-03-01 20:{10 * i:02d}"), ANSWERED) for i in range(3)]
    assert check(borrower(at("2026-03-02 08:00")), yesterday).allowed


@pytest.mark.parametrize(("earlier", "capped"), [(5, False), (6, True)])
def test_at_most_six_unanswered_dials_a_day_per_number(earlier, capped):
    history = [called(at(f"2026-03-02 {8 + i:02d}:00")) for i in range(earlier)]
    result = check(borrower(at("2026-03-02 18:00")), history)
    assert ("NUMBER_DAILY_DIALS" in result.reasons) is capped


def test_unanswered_dials_are_counted_per_number():
    history = [called(at(f"2026-03-02 {8 + i:02d}:00")) for i in range(6)]
    late = at("2026-03-02 18:00")
    assert reasons(borrower(late), history) == {"NUMBER_DAILY_DIALS"}
    assert check(contact(late), history).allowed  # c1's number has no dials today


@pytest.mark.parametrize(("earlier", "capped"), [(9, False), (10, True)])
def test_a_daily_cap_on_attempts_of_any_outcome(earlier, capped):
    history = [called(at(f"2026-03-02 08:{5 * i:02d}"), channel=SMS) for i in range(earlier)]
    result = check(borrower(NOON, channel=SMS), history)
    assert ("DEBTOR_DAILY_ATTEMPTS" in result.reasons) is capped


# -- hardship, trigger reason, investigation -----------------------------------------------------


def test_no_collection_while_a_hardship_plan_performs():
    assert reasons(borrower(NOON), hardship=True) == {"HARDSHIP_PLAN_ACTIVE"}


@pytest.mark.parametrize("trigger", [None, "", "   "])
def test_a_trigger_reason_is_mandatory(trigger):
    assert reasons(borrower(NOON, trigger=trigger)) == {"TRIGGER_REASON_REQUIRED"}


def test_an_authorised_investigation_may_call_contacts_before_the_loan_is_overdue():
    request = contact(NOON, call_type=INVESTIGATION)
    assert check(request, dpd=0, authorised=True).allowed


def test_an_investigation_without_authorisation_is_denied_with_every_reason():
    request = contact(NOON, call_type=INVESTIGATION)
    assert reasons(request, dpd=0) == {
        "INVESTIGATION_NOT_AUTHORISED",
        "NOT_OVERDUE",
        "CONTACTS_LOCKED",
    }


def test_an_authorised_investigation_still_obeys_quiet_hours_and_the_interval():
    night = at("2026-03-02 22:00")
    request = contact(night, call_type=INVESTIGATION)
    assert reasons(request, dpd=0, authorised=True) == {"QUIET_HOURS"}
    history = [called(NOON - timedelta(hours=1), ANSWERED, CONTACT, "c1")]
    request = contact(NOON, call_type=INVESTIGATION)
    assert reasons(request, history, dpd=0, authorised=True) == {"CONTACT_INTERVAL"}


def test_every_applicable_reason_is_returned_not_just_the_first():
    history = [called(at("2026-01-01 10:00"), REFUSED, CONTACT, "c1")]
    request = contact(at("2026-03-02 23:00"), scope=EMERGENCY, trigger="")
    assert reasons(request, history, dpd=2, hardship=True) == {
        "TRIGGER_REASON_REQUIRED",
        "QUIET_HOURS",
        "HARDSHIP_PLAN_ACTIVE",
        "CONTACTS_LOCKED",
        "CONSENT_SCOPE",
        "CONTACT_REFUSED",
    }
