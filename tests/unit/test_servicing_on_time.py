"""Which instalments a repayment settled on time (servicing.model.settled_on_time): paid in full
by this payment, on or before the due date."""

from datetime import date

from lendcore.servicing.model import settled_on_time

DUE = date(2026, 3, 15)


def _row(seq, owed_left=0, due=DUE):
    return {
        "seq": seq,
        "due_date": due,
        "principal_due": 1000,
        "principal_paid": 1000 - owed_left,
        "interest_due": 50,
        "interest_paid": 50,
        "fee_due": 0,
        "fee_paid": 0,
    }


def test_an_instalment_paid_in_full_on_its_due_date_is_on_time():
    assert settled_on_time([_row(1)], {1}, {1}, DUE) == 1


def test_an_instalment_paid_the_day_after_its_due_date_is_not():
    assert settled_on_time([_row(1)], {1}, {1}, date(2026, 3, 16)) == 0


def test_a_partly_paid_instalment_is_not_settled():
    assert settled_on_time([_row(1, owed_left=1)], {1}, {1}, DUE) == 0


def test_an_instalment_the_payment_did_not_touch_does_not_count():
    assert settled_on_time([_row(1), _row(2)], {1}, {1, 2}, DUE) == 1


def test_an_instalment_already_settled_before_the_payment_does_not_count_again():
    assert settled_on_time([_row(1)], {1}, set(), DUE) == 0
