"""The gate's rules about a phone number read contacts with that number about other debtors
(``GateFacts.same_number``): the contact interval and the daily dials, and nothing else."""

from datetime import timedelta

from test_collections_support import (
    ANSWERED,
    BORROWER,
    CN,
    CONTACT,
    SHANGHAI,
    UNANSWERED,
    at,
    borrower,
    called,
    contact,
)

from lendcore.collections import GateFacts, LoanState, evaluate

NOW = at("2026-03-04 10:00")
# The debtor's own borrower is unreachable: three failed calls this morning.
UNREACHABLE = tuple(called(NOW - timedelta(minutes=30 - n)) for n in range(3))


def _reasons(request, same_number):
    facts = GateFacts(SHANGHAI, LoanState(5, False, False), request, UNREACHABLE, same_number)
    return evaluate(CN, facts).reasons


def test_a_contact_about_another_debtor_within_48_hours_holds_the_person():
    elsewhere = (called(NOW - timedelta(hours=47, minutes=59), ANSWERED, CONTACT, "other"),)
    assert _reasons(contact(NOW), elsewhere) == ("CONTACT_INTERVAL",)


def test_a_contact_about_another_debtor_48_hours_ago_frees_the_person():
    elsewhere = (called(NOW - timedelta(hours=48), ANSWERED, CONTACT, "other"),)
    assert _reasons(contact(NOW), elsewhere) == ()


def test_a_call_to_that_person_as_a_borrower_is_not_a_third_party_contact():
    elsewhere = (called(NOW - timedelta(hours=1), ANSWERED, BORROWER),)
    assert _reasons(contact(NOW), elsewhere) == ()


def test_unanswered_dials_to_the_number_about_other_debtors_count_toward_its_daily_cap():
    three = tuple(
        called(NOW - timedelta(minutes=5 + n), UNANSWERED, CONTACT, "x") for n in range(3)
    )
    # 3 own unanswered borrower dials + 3 to the same number elsewhere = the cap of 6.
    assert _reasons(borrower(NOW), three) == ("NUMBER_DAILY_DIALS",)
    assert _reasons(borrower(NOW), three[:2]) == ()


def test_contacts_elsewhere_never_count_toward_this_debtors_own_caps():
    conversations = tuple(
        called(NOW - timedelta(hours=1, minutes=n), ANSWERED, BORROWER) for n in range(5)
    )
    assert _reasons(borrower(NOW), conversations) == ()  # DEBTOR_DAILY_CAP would be 3
