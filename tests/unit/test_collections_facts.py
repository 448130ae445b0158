"""Facts are validated before the gate sees them; a broken fact is an error or a denial, never a pass."""

import json
from datetime import datetime

import pytest
from test_collections_support import (
    CN,
    SHANGHAI,
    at,
    borrower,
    called,
)

from lendcore.collections import (
    CallType,
    Channel,
    ContactRequest,
    GateFacts,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
    evaluate,
)
from lendcore.collections.facts import parse_facts
from lendcore.kernel.errors import ErrorCode, ValidationError

NOON = at("2026-03-02 12:00")
NAIVE = datetime(2026, 3, 2, 12, 0)

DOCUMENT = {
    "pack": "cn",
    "debtor_timezone": "Asia/Shanghai",
    "loan": {
        "days_past_due": 5,
        "fraud_investigation_authorised": False,
        "hardship_plan_active": False,
    },
    "request": {
        "at": "2026-03-02T10:00:00+08:00",
        "party": "borrower",
        "channel": "call",
        "call_type": "COLLECTION",
        "trigger_reason": "dpd_strategy",
    },
    "history": [
        {
            "at": "2026-03-01T10:00:00+08:00",
            "party": "contact",
            "contact_id": "c1",
            "channel": "call",
            "outcome": "answered",
        }
    ],
}


def invalid(fn, *args, **kwargs):
    with pytest.raises(ValidationError) as caught:
        fn(*args, **kwargs)
    assert caught.value.code is ErrorCode.INVALID_FACTS
    return caught.value.message


def test_a_complete_document_parses_to_facts_the_gate_allows():
    code, facts = parse_facts(json.dumps(DOCUMENT))
    assert code == "cn" and facts.debtor_timezone.key == "Asia/Shanghai"
    assert evaluate(CN, facts).allowed


def test_naive_datetimes_are_refused_everywhere():
    assert "offset" in invalid(
        ContactRequest, NAIVE, Party.BORROWER, Channel.CALL, CallType.COLLECTION, "t"
    )
    invalid(HistoryEntry, NAIVE, Party.BORROWER, Channel.CALL, Outcome.ANSWERED)
    doc = json.loads(json.dumps(DOCUMENT))
    doc["history"][0]["at"] = "2026-03-01T10:00:00"
    assert "history.0.at" in invalid(parse_facts, json.dumps(doc))


def test_a_contact_request_needs_a_contact_id_and_a_consent_scope():
    invalid(ContactRequest, NOON, Party.CONTACT, Channel.CALL, CallType.COLLECTION, "t", None, None)
    invalid(ContactRequest, NOON, Party.CONTACT, Channel.CALL, CallType.COLLECTION, "t", "c1", None)
    invalid(HistoryEntry, NOON, Party.CONTACT, Channel.CALL, Outcome.ANSWERED, None)


@pytest.mark.parametrize("dpd", [-1, True, 1.0, "5", None])
def test_days_past_due_must_be_a_whole_number(dpd):
    invalid(LoanState, dpd, False, False)


def test_loan_flags_must_be_booleans():
    invalid(LoanState, 5, None, False)
    invalid(LoanState, 5, False, "no")


def test_plain_strings_are_not_accepted_where_enums_belong():
    invalid(ContactRequest, NOON, "borrower", Channel.CALL, CallType.COLLECTION, "t")


def test_history_must_be_a_tuple_of_entries_and_the_zone_a_zoneinfo():
    loan, request = LoanState(5, False, False), borrower(NOON)
    invalid(GateFacts, SHANGHAI, loan, request, [called(NOON)])
    invalid(GateFacts, SHANGHAI, loan, request, ({"at": NOON},))
    invalid(GateFacts, "Asia/Shanghai", loan, request, ())
    invalid(GateFacts, SHANGHAI, None, request, ())


@pytest.mark.parametrize(
    "path",
    [
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
        ("history", 0, "outcome"),
        ("history", 0, "contact_id"),
    ],
)
def test_a_missing_fact_is_an_error_not_a_pass(path):
    doc = json.loads(json.dumps(DOCUMENT))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    invalid(parse_facts, json.dumps(doc))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("debtor_timezone",), "Mars/Olympus"),
        (("debtor_timezone",), "Asia"),
        (("loan", "days_past_due"), "5"),
        (("loan", "days_past_due"), -1),
        (("loan", "hardship_plan_active"), "false"),
        (("request", "party"), "guarantor"),
        (("request", "at"), 1772416800),
        (("request", "surprise"), 1),
    ],
)
def test_a_malformed_fact_is_an_error(path, value):
    doc = json.loads(json.dumps(DOCUMENT))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    invalid(parse_facts, json.dumps(doc))


def test_a_missing_trigger_reason_is_a_denial_not_a_malformed_document():
    doc = json.loads(json.dumps(DOCUMENT))
    del doc["request"]["trigger_reason"]
    _, facts = parse_facts(json.dumps(doc))
    assert evaluate(CN, facts).reasons == ("TRIGGER_REASON_REQUIRED",)


# -- fail-closed inside the gate ----------------------------------------------------------------


def _tampered(facts, target, field, value):
    # Frozen dataclasses can still be forced; the gate must not trust them blindly.
    obj = facts if target is None else getattr(facts, target)
    object.__setattr__(obj, field, value)
    return facts


def _good_facts():
    return GateFacts(SHANGHAI, LoanState(5, False, False), borrower(NOON), (called(NOON),))


@pytest.mark.parametrize(
    ("target", "field", "value"),
    [
        (None, "debtor_timezone", None),
        (None, "loan", None),
        (None, "request", None),
        (None, "history", None),
        ("request", "at", NAIVE),
        ("request", "party", None),
        ("request", "party", "contact"),
        ("request", "channel", None),
        ("request", "call_type", "REMINDER"),
        ("loan", "days_past_due", None),
        ("loan", "days_past_due", -3),
        ("loan", "hardship_plan_active", None),
        ("loan", "fraud_investigation_authorised", 1),
    ],
)
def test_a_fact_tampered_after_validation_denies_with_gate_error(target, field, value):
    facts = _tampered(_good_facts(), target, field, value)
    result = evaluate(CN, facts)
    assert not result.allowed and result.reasons == ("GATE_ERROR",)


@pytest.mark.parametrize(
    ("field", "value"), [("at", NAIVE), ("party", None), ("outcome", "maybe"), ("channel", None)]
)
def test_a_tampered_history_entry_denies_with_gate_error(field, value):
    facts = _good_facts()
    object.__setattr__(facts.history[0], field, value)
    assert evaluate(CN, facts).reasons == ("GATE_ERROR",)


def test_the_wrong_kind_of_pack_or_facts_denies_with_gate_error():
    assert evaluate("cn", _good_facts()).reasons == ("GATE_ERROR",)  # type: ignore[arg-type]
    assert evaluate("cn", _good_facts()).pack_version == "unknown"  # type: ignore[arg-type]
    assert evaluate(CN, {"request": "x"}).reasons == ("GATE_ERROR",)  # type: ignore[arg-type]
