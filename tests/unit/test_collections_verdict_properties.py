"""Properties of the service's verdict (``collections.verdict.decide``: the pure gate plus the
service's own rules), over random sequences of requests and outcomes: every allowed request joins
the history with a random outcome, and at every step

- no contact call on a loan that is not overdue is allowed without an authorised investigation
  (the reference quoted is the one in force on the loan, and it has not expired);
- a restructured loan, or one under a performing hardship plan, is never called for collection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lendcore.collections.context import AttemptRequest, Purpose
from lendcore.collections.history import ContactFacts, DebtorFacts
from lendcore.collections.loader import get_pack
from lendcore.collections.model import CallType, Channel, HistoryEntry, Outcome, Party
from lendcore.collections.verdict import decide

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
PACKS = {code: get_pack(code) for code in ("cn", "us-regf")}
REFERENCE = "FRAUD-1"

loans = st.fixed_dictionaries(
    {
        "days_past_due": st.integers(0, 8),
        "state": st.sampled_from(("ACTIVE", "OVERDUE", "RESTRUCTURED")),
        "hardship": st.booleans(),
        "investigation_ref": st.sampled_from((None, REFERENCE)),
        # None: no authorisation in force; else hours after START it expires
        "expires_in_hours": st.sampled_from((None, 2, 24 * 30)),
        "scope": st.sampled_from(("overdue_collection", "lost_contact_repair", "emergency")),
        "withdrawn_after_hours": st.sampled_from((None, 1, 30)),
    }
)
steps = st.lists(
    st.fixed_dictionaries(
        {
            "gap_minutes": st.integers(0, 600),
            "party": st.sampled_from(Party),
            "channel": st.sampled_from(Channel),
            "call_type": st.sampled_from(CallType),
            "reference": st.sampled_from((None, REFERENCE, "FRAUD-OTHER")),
            "purpose": st.sampled_from(Purpose),
            "outcome": st.sampled_from(Outcome),
        }
    ),
    min_size=1,
    max_size=15,
)


def _debtor(loan: dict, party: Party) -> DebtorFacts:
    expires = loan["expires_in_hours"]
    withdrawn = loan["withdrawn_after_hours"]
    contact_id = "c1" if party is Party.CONTACT else "self"
    point = ContactFacts(
        contact_id=contact_id,
        phone_index=f"idx-{contact_id}",
        contact_loan_id=None,
        consent_scope=loan["scope"] if party is Party.CONTACT else None,
        consent_at=START - timedelta(days=30),
        consent_withdrawn_at=None if withdrawn is None else START + timedelta(hours=withdrawn),
        phone_masked="138****1234",
    )
    return DebtorFacts(
        borrower_id=7,
        loan_id=1,
        days_past_due=loan["days_past_due"],
        state=loan["state"],
        timezone="Asia/Shanghai",
        hardship=loan["hardship"] or loan["state"] == "RESTRUCTURED",
        investigation_ref=loan["investigation_ref"],
        contact=point,
        investigation_expires_at=None if expires is None else START + timedelta(hours=expires),
    )


def _authorised(loan: dict, request: AttemptRequest) -> bool:
    expires = loan["expires_in_hours"]
    return (
        request.call_type is CallType.INVESTIGATION
        and loan["investigation_ref"] is not None
        and request.authorisation_ref == loan["investigation_ref"]
        and expires is not None
        and request.at < START + timedelta(hours=expires)
    )


def _run(pack_code: str, loan: dict, plan: list[dict]):
    """Yield (request, allowed) for each step; allowed requests join the history."""
    pack = PACKS[pack_code]
    history: list[HistoryEntry] = []
    at = START
    for step in plan:
        at += timedelta(minutes=step["gap_minutes"])
        party = step["party"]
        request = AttemptRequest(
            loan_id=1,
            agent_id="agent-1",
            party=party,
            channel=step["channel"],
            call_type=step["call_type"],
            trigger_reason="property",
            at=at,
            contact_id="c1" if party is Party.CONTACT else None,
            authorisation_ref=step["reference"],
            purpose=step["purpose"],
        )
        debtor = _debtor(loan, party)
        verdict = decide(
            request,
            pack,
            "ACTIVE",
            False,
            debtor,
            lambda _: (list(history), []),
            lambda _: (),  # no other debtor lists this number
        )
        allowed = not verdict.reasons
        if allowed:
            history.append(
                HistoryEntry(at, party, step["channel"], step["outcome"], request.contact_id)
            )
        yield request, allowed


@settings(max_examples=300, deadline=None)
@given(pack=st.sampled_from(sorted(PACKS)), loan=loans, plan=steps)
def test_no_contact_call_of_a_loan_not_overdue_without_an_authorised_investigation(
    pack, loan, plan
):
    for request, allowed in _run(pack, loan, plan):
        if allowed and request.party is Party.CONTACT and loan["days_past_due"] < 1:
            assert _authorised(loan, request), request


@settings(max_examples=300, deadline=None)
@given(pack=st.sampled_from(sorted(PACKS)), loan=loans, plan=steps)
def test_restructured_or_hardship_loans_are_never_called_for_collection(pack, loan, plan):
    paused = loan["hardship"] or loan["state"] == "RESTRUCTURED"
    for request, allowed in _run(pack, loan, plan):
        if allowed and paused:
            assert request.call_type is not CallType.COLLECTION or (
                request.channel is Channel.SMS and request.purpose is Purpose.REMINDER
            ), request
            if request.call_type is CallType.INVESTIGATION:
                assert _authorised(loan, request), request


@settings(max_examples=100, deadline=None)
@given(loan=loans, plan=steps)
def test_an_allowed_investigation_always_quotes_the_authorisation_in_force(loan, plan):
    for request, allowed in _run("cn", loan, plan):
        if allowed and request.call_type is CallType.INVESTIGATION:
            assert _authorised(loan, request), request
