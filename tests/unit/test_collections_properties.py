"""Properties over random sequences of requests and outcomes: what the gate must never allow."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_collections_support import CN, CONTACT, NEW_YORK, SHANGHAI, URUMQI, US

from lendcore.collections import (
    CallType,
    Channel,
    ContactRequest,
    ContactScope,
    GateFacts,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
    evaluate,
)
from lendcore.collections.facts import parse_facts
from lendcore.collections.quiet import grant_expiry, is_quiet
from lendcore.kernel.errors import ErrorCode, ValidationError

# DST zones included: a local day is 23 or 25 hours there.
ZONES = [SHANGHAI, URUMQI, NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Pacific/Auckland")]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def steps(min_size=0, max_size=40):
    return st.lists(
        st.tuples(
            # minutes since the previous request: bursts within a day as well as days apart
            st.one_of(st.integers(0, 120), st.integers(0, 50 * 60)),
            st.sampled_from(Party),
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from(ContactScope),
            st.sampled_from(Channel),
            st.sampled_from(CallType),
            st.sampled_from(["strategy", "strategy", "strategy", "", None]),
            st.sampled_from(Outcome),
            st.booleans(),  # recorded even if denied: history also comes from elsewhere
        ),
        min_size=min_size,
        max_size=max_size,
    )


starts = st.integers(0, 365 * 24 * 60).map(lambda m: EPOCH + timedelta(minutes=m))


def simulate(pack, tz, loan, start, plan, record_denied=True, unreachable=False):
    """Play the plan through the gate; yield each request with its verdict.

    Request times are given in UTC, so the gate has to find the debtor's local time itself.
    ``unreachable`` starts the history with an invalid borrower number.
    """
    history: list[HistoryEntry] = []
    if unreachable:
        invalid = HistoryEntry(start, Party.BORROWER, Channel.CALL, Outcome.INVALID_NUMBER)
        history.append(invalid)
    now = start
    for gap, party, cid, scope, channel, call_type, trigger, outcome, forced in plan:
        now += timedelta(minutes=gap)
        to_contact = party is CONTACT
        request = ContactRequest(
            now,
            party,
            channel,
            call_type,
            trigger,
            cid if to_contact else None,
            scope if to_contact else None,
        )
        result = evaluate(pack, GateFacts(tz, loan, request, tuple(history)))
        yield request, outcome, result
        if result.allowed or (record_denied and forced):
            history.append(HistoryEntry(now, party, channel, outcome, request.contact_id))


# Weighted toward the cases that come closest to being allowed (DPD 3, no hardship plan, an
# unreachable borrower), so that a rule that let one through would be caught.
mostly_false = st.sampled_from([False, False, False, True])


@settings(max_examples=300)
@given(
    st.sampled_from([CN, US]),
    st.sampled_from(ZONES),
    st.sampled_from([0, 1, 2, 3, 3, 3]),
    st.booleans(),
    mostly_false,
    st.sampled_from([True, True, False]),
    starts,
    steps(),
)
def test_no_contact_collection_call_is_ever_allowed_at_dpd_3_or_less(
    pack, tz, dpd, authorised, hardship, unreachable, start, plan
):
    loan = LoanState(dpd, authorised, hardship)
    for request, _, result in simulate(pack, tz, loan, start, plan, unreachable=unreachable):
        if request.party is Party.CONTACT and request.call_type is CallType.COLLECTION:
            assert not result.allowed, (request, result)


@given(
    st.sampled_from([CN, US]), st.sampled_from(ZONES), st.booleans(), st.booleans(), starts, steps()
)
def test_nothing_is_allowed_on_a_loan_not_overdue_but_an_authorised_investigation(
    pack, tz, authorised, unreachable, start, plan
):
    loan = LoanState(0, authorised, False)
    for request, _, result in simulate(pack, tz, loan, start, plan, unreachable=unreachable):
        if result.allowed:
            assert request.call_type is CallType.INVESTIGATION and authorised


def _local_day(request, tz):
    return request.at.astimezone(tz).date()


def assert_cn_limits(tz, played):
    """The cn limits hold over the calls the gate allowed (with their outcomes)."""
    conversations, attempts, dials = Counter(), Counter(), Counter()
    last_contact: dict[str, datetime] = {}
    for request, outcome, result in played:
        if not result.allowed:
            continue
        local = request.at.astimezone(tz)
        assert not (local.hour >= 21 or local.hour < 8)
        day = local.date()
        attempts[day] += 1
        if request.channel is Channel.CALL:
            if outcome in (Outcome.ANSWERED, Outcome.REFUSED):
                conversations[day] += 1
            else:
                dials[day, request.party, request.contact_id] += 1
        if request.party is Party.CONTACT:
            previous = last_contact.get(request.contact_id)
            assert previous is None or request.at - previous >= timedelta(hours=48)
            last_contact[request.contact_id] = request.at
    assert max(conversations.values(), default=0) <= 3
    assert max(dials.values(), default=0) <= 6
    assert max(attempts.values(), default=0) <= 10


@settings(max_examples=100)  # long sequences: fewer of them keep the file fast
@given(st.sampled_from(ZONES), st.integers(0, 30), st.booleans(), starts, steps(10, 50))
def test_what_the_cn_gate_lets_through_never_breaks_a_cn_limit(tz, dpd, authorised, start, plan):
    loan = LoanState(dpd, authorised, False)
    played = simulate(CN, tz, loan, start, plan, record_denied=False, unreachable=dpd % 2 == 0)
    assert_cn_limits(tz, played)


busy_day = st.lists(
    st.tuples(
        st.integers(8 * 60, 21 * 60 - 1),  # a daytime minute
        st.sampled_from([Party.BORROWER, Party.BORROWER, Party.CONTACT]),
        st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
        st.sampled_from([Channel.CALL, Channel.CALL, Channel.SMS]),
        st.sampled_from([*Outcome, Outcome.UNANSWERED]),
    ),
    min_size=10,
    max_size=60,
)


@given(st.sampled_from(ZONES), busy_day)
def test_a_busy_day_never_breaks_the_cn_daily_caps(tz, calls):
    # Everything the gate could let through on one day; only the caps stand in the way.
    day = datetime(2026, 3, 2, tzinfo=tz)
    history = [
        HistoryEntry(
            day - timedelta(hours=12), Party.BORROWER, Channel.CALL, Outcome.INVALID_NUMBER
        )
    ]
    plan = [
        (
            minute,
            party,
            cid,
            ContactScope.OVERDUE_COLLECTION,
            channel,
            CallType.COLLECTION,
            "strategy",
            outcome,
            False,
        )
        for minute, party, cid, channel, outcome in sorted(calls, key=lambda c: c[0])
    ]
    played = []
    for minute, party, cid, scope, channel, call_type, trigger, outcome, _ in plan:
        at = (day + timedelta(minutes=minute)).astimezone(tz)
        cid = cid if party is CONTACT else None
        request = ContactRequest(
            at, party, channel, call_type, trigger, cid, scope if cid else None
        )
        result = evaluate(CN, GateFacts(tz, LoanState(10, False, False), request, tuple(history)))
        played.append((request, outcome, result))
        if result.allowed:
            history.append(HistoryEntry(at, party, channel, outcome, cid))
    assert_cn_limits(tz, played)


@settings(max_examples=100)
@given(st.sampled_from(ZONES), st.integers(4, 30), starts, steps(10, 50))
def test_what_the_us_gate_lets_through_never_breaks_regulation_f(tz, dpd, start, plan):
    loan = LoanState(dpd, False, False)
    calls: list = []  # (local day, connected) of allowed calls to the consumer
    third_parties: Counter = Counter()
    for request, outcome, result in simulate(US, tz, loan, start, plan, record_denied=False):
        if not result.allowed:
            continue
        if request.party is Party.CONTACT:
            third_parties[request.contact_id] += 1
            continue
        if request.channel is not Channel.CALL:
            continue
        day = _local_day(request, tz)
        in_week = [d for d, _ in calls if (day - d).days < 7]
        assert len(in_week) < 7  # this call is at most the 7th in 7 days
        assert not any(connected and (day - d).days < 7 for d, connected in calls)
        calls.append((day, outcome in (Outcome.ANSWERED, Outcome.REFUSED)))
    assert max(third_parties.values(), default=0) <= 1


# -- missing facts never allow -----------------------------------------------------------------

REQUIRED = [
    ("debtor_timezone",),
    ("loan",),
    ("loan", "days_past_due"),
    ("loan", "fraud_investigation_authorised"),
    ("loan", "hardship_plan_active"),
    ("request",),
    ("request", "at"),
    ("request", "party"),
    ("request", "channel"),
    ("request", "call_type"),
    ("history",),
]


@st.composite
def documents(draw):
    party = draw(st.sampled_from(["borrower", "contact"]))
    request = {
        "at": "2026-03-02T10:00:00+08:00",
        "party": party,
        "channel": draw(st.sampled_from(["call", "sms"])),
        "call_type": draw(st.sampled_from(["COLLECTION", "INVESTIGATION"])),
        "trigger_reason": "strategy",
    }
    if party == "contact":
        request["contact_id"] = "c1"
        request["contact_scope"] = draw(st.sampled_from([s.value for s in ContactScope]))
    history = [
        {"at": "2026-03-01T10:00:00+08:00", "party": "borrower", "channel": "call", "outcome": o}
        for o in draw(st.lists(st.sampled_from([o.value for o in Outcome]), max_size=4))
    ]
    return {
        "pack": draw(st.sampled_from(["cn", "us-regf"])),
        "debtor_timezone": draw(st.sampled_from(["Asia/Shanghai", "America/New_York"])),
        "loan": {
            "days_past_due": draw(st.integers(0, 60)),
            "fraud_investigation_authorised": draw(st.booleans()),
            "hardship_plan_active": draw(st.booleans()),
        },
        "request": request,
        "history": history,
    }


@given(documents(), st.sampled_from(REQUIRED))
def test_a_document_missing_any_required_fact_never_yields_a_verdict(doc, path):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(ValidationError) as caught:
        parse_facts(json.dumps(doc))
    assert caught.value.code is ErrorCode.INVALID_FACTS


@given(documents(), st.sampled_from(["contact_id", "contact_scope"]))
def test_a_contact_request_without_its_contact_facts_never_yields_a_verdict(doc, missing):
    doc["request"].update(party="contact", contact_id="c1", contact_scope="overdue_collection")
    del doc["request"][missing]
    with pytest.raises(ValidationError) as caught:
        parse_facts(json.dumps(doc))
    assert caught.value.code is ErrorCode.INVALID_FACTS


@settings(max_examples=400)
@given(
    st.sampled_from([CN, US]),
    st.sampled_from(ZONES),
    # any moment of the year, to the microsecond, and any time-to-live up to three hours
    st.integers(0, 365 * 24 * 3600 * 1_000_000).map(lambda us: EPOCH + timedelta(microseconds=us)),
    st.integers(1, 3 * 3600).map(lambda s: timedelta(seconds=s)),
    st.sampled_from(Party),
    st.sampled_from(Channel),
)
def test_a_grant_is_never_valid_inside_quiet_hours(pack, tz, reserved, ttl, party, channel):
    expiry = grant_expiry(pack, tz, reserved, ttl, party, channel)
    assert reserved <= expiry <= reserved + ttl
    if is_quiet(pack, tz, reserved, party, channel):
        assert expiry == reserved  # the gate denies it; the grant would be dead on arrival
        return
    # Every moment the grant is valid, [reserved, expiry), is outside quiet hours: its last
    # microsecond and every local minute boundary in between.
    last = expiry - timedelta(microseconds=1)
    assert not is_quiet(pack, tz, last, party, channel)
    moment = reserved.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment < expiry:
        assert not is_quiet(pack, tz, moment, party, channel)
        moment += timedelta(minutes=1)
    # And it is no shorter than it must be: cut short only where quiet hours begin.
    assert expiry == reserved + ttl or is_quiet(pack, tz, expiry, party, channel)
