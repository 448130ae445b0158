"""The 48-hour contact interval and the daily dials cap are about the person behind a phone
number, not one debtor's contact-list entry: matched across debtors by the number's blind index
(SQLite and PostgreSQL; the concurrent case on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy.pool import NullPool

from lendcore.collections.contacts import ContactPoint, store_contact
from lendcore.collections.model import ContactScope, Outcome
from lendcore.collections.service import check_and_reserve
from lendcore.store.db import UnitOfWork, make_engine

from .racing import race
from .test_collections_support import (
    CONTACT_PHONE,
    MORNING,
    ScriptedDialer,
    add_contacts,
    add_loan,
    attempts,
    call,
    check,
    make_context,
    request,
)


def _two_debtors_one_contact_phone(engine, ctx):
    """Loans 1 and 2 (two borrowers), each listing c1 -- the same phone number -- and each
    borrower unreachable, so both may call their contact."""
    for loan_id in (1, 2):
        add_contacts(engine, ctx, add_loan(engine, loan_id, 10))
        for n in range(3):
            when = MORNING + timedelta(minutes=10 * loan_id + n)
            call(engine, ctx, request(loan_id, when), Outcome.UNANSWERED)
    rows = {a["loan_id"]: a for a in attempts(engine) if a["party"] == "borrower"}
    assert rows[1]["phone_index"] == rows[2]["phone_index"]  # the borrowers' own: same test phone
    return MORNING + timedelta(hours=1)


def test_one_person_on_two_debtors_lists_is_called_once_per_48_hours(engine):
    ctx = make_context()
    when = _two_debtors_one_contact_phone(engine, ctx)
    assert call(engine, ctx, request(1, when, contact_id="c1"), Outcome.ANSWERED).allowed
    other = check(engine, ctx, request(2, when + timedelta(hours=47, minutes=59), contact_id="c1"))
    assert other.reasons == ("CONTACT_INTERVAL",)
    later = check(engine, ctx, request(2, when + timedelta(hours=48), contact_id="c1"))
    assert later.allowed, later.reasons


def test_a_reservation_about_another_debtor_holds_the_number_too(engine):
    ctx = make_context()
    when = _two_debtors_one_contact_phone(engine, ctx)
    assert check(engine, ctx, request(1, when, contact_id="c1")).allowed  # not dialled yet
    other = check(engine, ctx, request(2, when, contact_id="c1", agent="agent-2"))
    assert other.reasons == ("CONTACT_INTERVAL",)


def test_different_numbers_on_two_debtors_lists_do_not_hold_each_other(engine):
    ctx = make_context()
    when = _two_debtors_one_contact_phone(engine, ctx)
    with UnitOfWork(engine) as uow:  # loan 2's borrower (20) also lists c9, another number
        point = ContactPoint(
            20,
            "c9",
            "friend",
            CONTACT_PHONE[:-1] + "9",
            "王五",
            ContactScope.OVERDUE_COLLECTION,
            MORNING - timedelta(days=30),
        )
        store_contact(uow.connection, ctx.vault, point, MORNING, "test")
        uow.commit()
    assert call(engine, ctx, request(1, when, contact_id="c1"), Outcome.ANSWERED).allowed
    assert check(engine, ctx, request(2, when, contact_id="c9")).allowed


def test_unanswered_dials_to_one_number_are_capped_per_day_across_debtors(engine):
    # The borrowers' own phones are one number in these builders: 3 + 3 unanswered dials to it
    # about two debtors reach the cap of 6, so a seventh about either is denied.
    ctx = make_context(dialer=ScriptedDialer())
    when = _two_debtors_one_contact_phone(engine, ctx)
    denied = check(engine, ctx, request(1, when))
    assert denied.reasons == ("NUMBER_DAILY_DIALS",)
    assert check(engine, ctx, request(2, when)).reasons == ("NUMBER_DAILY_DIALS",)


CLIENTS = 50


def test_fifty_simultaneous_attempts_on_one_person_about_two_debtors_allow_one(
    postgres_url, engine
):
    ctx = make_context()
    when = _two_debtors_one_contact_phone(engine, ctx)
    clients = make_engine(postgres_url, poolclass=NullPool)  # a connection per client

    def attempt(n: int, barrier: threading.Barrier) -> tuple[str, ...]:
        with UnitOfWork(clients) as uow:
            barrier.wait()
            loan_id = 1 + n % 2  # half about each debtor
            decision = check_and_reserve(
                uow, request(loan_id, when, contact_id="c1", agent=f"agent-{n}"), ctx
            )
            uow.commit()
        return decision.reasons

    verdicts, errors = race(CLIENTS, attempt)
    clients.dispose()

    assert errors == []
    outcome = Counter(verdicts)
    assert outcome[()] == 1, outcome
    assert outcome[("CONTACT_INTERVAL",)] == CLIENTS - 1
    assert sum(1 for a in attempts(engine) if a["contact_id"] == "c1") == 1
