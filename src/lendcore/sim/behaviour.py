"""How synthetic borrowers repay — pure.

A profile turns a loan's due dates into a payment plan when the loan is opened:

- ``on_time``   (~70%) pays each instalment on its due date or a few days before; some prepay
                the whole loan early;
- ``late``      (~15%) pays each instalment 1–20 days late, penalty included;
- ``cured``     (~5%)  falls 30–60 days behind once, then pays everything overdue and carries on
                on time;
- ``defaulter`` (~10%) pays the first k instalments (k small) and then stops.

A :class:`Payment` names *what* is paid (every instalment up to ``through_seq`` plus whatever is
overdue, or the whole loan); the amount is worked out on the day from the loan's rows
(:func:`amount_due`), so penalties and re-amortised schedules are always paid exactly.

Collection calls nudge this a little (:func:`promise_to_pay`, :func:`payment_after_call`): a
borrower who answers may promise to pay by a day soon and may keep it, paying what is overdue
(a catch-up payment, ``through_seq`` 0); see the section at the end.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any


class Profile(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    CURED = "cured"
    DEFAULTER = "defaulter"


PROFILE_WEIGHTS: tuple[tuple[Profile, int], ...] = (
    (Profile.ON_TIME, 70),
    (Profile.LATE, 15),
    (Profile.CURED, 5),
    (Profile.DEFAULTER, 10),
)
PREPAY_SHARE = 0.08  # on-time borrowers who pay an instalment loan off early
LATE_DAYS = (1, 20)
CURE_BEHIND_DAYS = (30, 60)


def draw_profile(
    rng: random.Random, weights: tuple[tuple[Profile, int], ...] = PROFILE_WEIGHTS
) -> Profile:
    return rng.choices([p for p, _ in weights], weights=[w for _, w in weights])[0]


@dataclass(frozen=True, order=True)
class Payment:
    day: date
    through_seq: int  # settle instalments 1..through_seq (and anything overdue on ``day``)
    payoff: bool = False  # also prepay every instalment's principal not yet due


def plan_payments(
    profile: Profile, start: date, due_dates: list[date], rng: random.Random
) -> list[Payment]:
    """The payments a borrower of ``profile`` will make on a loan, in date order."""
    n = len(due_dates)

    def on_time(seq: int) -> Payment:
        due = due_dates[seq - 1]
        earliest = due_dates[seq - 2] if seq > 1 else start
        early = rng.choice((0, 0, 0, 0, 1, 2, 3))
        return Payment(max(due - timedelta(days=early), earliest + timedelta(days=1)), seq)

    plan: list[Payment] = []
    if profile is Profile.ON_TIME:
        payoff_seq = rng.randint(2, min(n, 6)) if n > 1 and rng.random() < PREPAY_SHARE else None
        for seq in range(1, n + 1):
            if seq == payoff_seq:
                gap = (due_dates[seq - 1] - due_dates[seq - 2]).days
                day = due_dates[seq - 1] - timedelta(days=rng.randint(1, max(1, gap - 1)))
                plan.append(Payment(day, seq, payoff=True))
                break
            plan.append(on_time(seq))
    elif profile is Profile.LATE:
        for seq in range(1, n + 1):
            plan.append(Payment(due_dates[seq - 1] + timedelta(days=rng.randint(*LATE_DAYS)), seq))
    elif profile is Profile.CURED:
        first_missed = rng.randint(1, min(n, 3))
        plan.extend(on_time(seq) for seq in range(1, first_missed))
        catch_up = due_dates[first_missed - 1] + timedelta(days=rng.randint(*CURE_BEHIND_DAYS))
        through = max(seq for seq in range(1, n + 1) if due_dates[seq - 1] <= catch_up)
        plan.append(Payment(catch_up, through))
        plan.extend(on_time(seq) for seq in range(through + 1, n + 1))
    else:  # defaulter: a few instalments, then nothing
        paid = rng.randint(0, min(n - 1, 3))
        plan.extend(on_time(seq) for seq in range(1, paid + 1))
    # Plans are per loan and dated; two payments never share a day (later one moves a day on).
    ordered: list[Payment] = []
    for payment in plan:
        if ordered and payment.day <= ordered[-1].day:
            payment = replace(payment, day=ordered[-1].day + timedelta(days=1))
        ordered.append(payment)
    return ordered


def amount_due(payment: Payment, rows: Iterable[Mapping[str, Any]], penalty_owed: int) -> int:
    """What the borrower pays to settle ``payment`` on its day: the penalty owed, every unpaid
    instalment up to ``through_seq`` or already overdue, and for a payoff the current instalment
    in full plus all principal not yet due (the current period's interest is charged in full)."""
    total = penalty_owed
    current_found = False
    for row in sorted(rows, key=lambda r: r["seq"]):
        principal = row["principal_due"] - row["principal_paid"]
        charges = row["interest_due"] - row["interest_paid"] + row["fee_due"] - row["fee_paid"]
        if principal == 0 and charges == 0:
            continue
        if row["seq"] <= payment.through_seq or row["due_date"] < payment.day:
            total += principal + charges
            current_found = current_found or row["due_date"] >= payment.day
        elif payment.payoff and not current_found:
            total += principal + charges
            current_found = True
        elif payment.payoff:
            total += principal
    return total


# ---- how borrowers respond to collections ---------------------------------------------------
# A connected collection call changes little, and only a little: a borrower who answers may
# promise to pay (PTP) by a day soon, and some keep the promise, paying what is overdue that day;
# a borrower who answers without promising sometimes pays anyway. Everything else follows the
# payment plan the profile drew at origination. The rates are illustrative, not calibrated on any
# lender's data.

PROMISE_RATES: Mapping[Profile, float] = {
    Profile.ON_TIME: 0.7,
    Profile.LATE: 0.6,
    Profile.CURED: 0.5,
    Profile.DEFAULTER: 0.25,
}
KEEP_RATES: Mapping[Profile, float] = {
    Profile.ON_TIME: 0.6,
    Profile.LATE: 0.35,
    Profile.CURED: 0.3,
    Profile.DEFAULTER: 0.08,
}
WITHOUT_PROMISE_SHARE = 0.2  # answered without promising: pays at a fifth of the keep rate
CONTACT_REFUSAL = 0.1  # a third party who answers refuses any further contact
PROMISE_DAYS = (0, 3)  # a promise names a day this many days after the call


def promise_to_pay(profile: Profile, day: date, rng: random.Random) -> date | None:
    """The day a borrower of ``profile`` who answered a collection call on ``day`` promises to
    pay by, or None for no promise."""
    if rng.random() >= PROMISE_RATES[profile]:
        return None
    return day + timedelta(days=rng.randint(*PROMISE_DAYS))


def contact_refuses(rng: random.Random) -> bool:
    """Whether a third party who answered refuses further contact (the agent reports it)."""
    return rng.random() < CONTACT_REFUSAL


def payment_after_call(
    profile: Profile, promised: date | None, day: date, rng: random.Random
) -> Payment | None:
    """The catch-up payment a conversation on ``day`` leads to, if any: everything overdue on the
    payment's day and the penalty (``through_seq`` 0: no instalment beyond what is overdue). A
    promise is kept at the profile's keep rate, on the day promised; without a promise the
    borrower pays at a fifth of that rate, within a few days."""
    keep = KEEP_RATES[profile]
    if promised is not None:
        return Payment(promised, through_seq=0) if rng.random() < keep else None
    if rng.random() >= keep * WITHOUT_PROMISE_SHARE:
        return None
    return Payment(day + timedelta(days=rng.randint(*PROMISE_DAYS)), through_seq=0)
