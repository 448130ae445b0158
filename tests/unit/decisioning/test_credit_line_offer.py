"""A returning applicant's credit line in the offer, without a database: the offered limit is the
larger of the policy's and the line's, within the tier and product maxima; the line never lowers
an offer, never touches a rejection or a review, never turns an approval into a review; the
priced offer still passes the cap; the context records the line so a replay needs no read."""

import copy
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.decisioning import decide as decide_module
from lendcore.decisioning.artifacts import models_dir
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.pricing import (
    NO_CREDIT_LINE,
    CreditLineFacts,
    LimitTerms,
    OfferRefused,
    PricedOffer,
    StepUpRule,
    make_offer,
)
from lendcore.decisioning.rules import parse_application
from lendcore.decisioning.scoring import ModelRegistry
from lendcore.decisioning.service import DecisionService, Facts
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.caps import RateCap
from lendcore.products.loader import load_products, policies_dir
from lendcore.products.versions import ProductVersionStore

PRODUCTS = load_products()
DAY = date(2026, 3, 1)
AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SMALL = PRODUCTS["small_short_term"]
INSTALMENT = PRODUCTS["consumer_instalment"]
# The shipped limits row for low scores on the small product: start at 1 000, tier max 2 000.
SMALL_LOW = LimitTerms(
    product="small_short_term",
    amount_min=50_000,
    initial_limit=100_000,
    amount_max=200_000,
    term_min=7,
    term_max=30,
    rate=Decimal("0.1800"),
    step_up=StepUpRule(3, Decimal("1.5")),
)
# High-risk instalment: 20 000 yuan to start, 30 000 at most, 18% and a monthly fee.
INSTALMENT_HIGH_RISK = LimitTerms(
    product="consumer_instalment",
    amount_min=300_000,
    initial_limit=2_000_000,
    amount_max=3_000_000,
    term_min=3,
    term_max=24,
    rate=Decimal("0.1800"),
    step_up=StepUpRule(6, Decimal("1.2")),
)


def priced(terms, loaded, *, line_limit=None, amount=10**12, term=14, cap=None):
    return make_offer(
        terms,
        loaded.product,
        product_version=loaded.version_hash,
        requested_product=terms.product,
        requested_amount=amount,
        requested_term=term,
        start=DAY,
        cap=cap,
        line_limit=line_limit,
    )


@given(line=st.integers(min_value=1, max_value=10**9))
def test_the_offered_limit_is_the_larger_of_the_policys_and_the_lines_within_the_tier_max(line):
    offer = priced(SMALL_LOW, SMALL, line_limit=line)
    assert isinstance(offer, PricedOffer)
    assert offer.credit_limit == max(100_000, min(line, 200_000))
    assert offer.limit_source == ("credit_line" if line > 100_000 else "policy")
    assert offer.offer.schedule.terms.principal <= offer.credit_limit <= offer.tier_max


@given(line=st.integers(min_value=1, max_value=100_000))
def test_a_line_at_or_below_the_policys_limit_changes_nothing_in_the_offer(line):
    with_line = priced(SMALL_LOW, SMALL, line_limit=line, amount=70_000)
    without = priced(SMALL_LOW, SMALL, amount=70_000)
    assert isinstance(with_line, PricedOffer) and isinstance(without, PricedOffer)
    assert with_line.to_dict() == without.to_dict()
    assert with_line.to_dict()["limit_source"] == "policy"


def test_the_products_maximum_binds_a_line_even_under_a_larger_tier_maximum():
    generous = dataclasses.replace(SMALL_LOW, amount_max=1_000_000)  # above the product's 2 000
    offer = priced(generous, SMALL, line_limit=900_000)
    assert isinstance(offer, PricedOffer)
    assert (offer.credit_limit, offer.tier_max) == (200_000, 200_000)


@given(line=st.integers(min_value=2_000_001, max_value=10**8))
def test_an_offer_drawing_on_a_line_still_passes_the_rate_cap(line):
    cap = RateCap(Decimal("0.20"))
    offer = priced(INSTALMENT_HIGH_RISK, INSTALMENT, line_limit=line, term=12, cap=cap)
    assert isinstance(offer, PricedOffer)
    assert offer.limit_source == "credit_line"
    assert offer.offer.cap.compliant and offer.offer.disclosure.apr_irr <= Decimal("0.20")


def test_the_line_cannot_make_a_limits_row_that_misses_the_product_pass():
    missing = dataclasses.replace(SMALL_LOW, amount_min=300_000, initial_limit=300_000)
    with pytest.raises(LendcoreError) as caught:
        priced(missing, SMALL, line_limit=200_000)
    assert caught.value.code is ErrorCode.INVALID_POLICY


def test_the_line_goes_into_the_context_and_back_exactly():
    line = CreditLineFacts(borrower_id=77, limit=150_000, version=4)
    assert line.to_context() == {
        "found": True,
        "borrower_id": "77",
        "limit": "1500.00",
        "version": 4,
    }
    assert CreditLineFacts.from_context(line.to_context()) == line
    assert CreditLineFacts.from_context(NO_CREDIT_LINE) is None
    assert CreditLineFacts.from_context(None) is None  # a record made before credit lines


# -- the decision flow ---------------------------------------------------------------------------

# A high-risk applicant (no social insurance) asking for the whole small product: low-score
# limits row, 1 000 yuan to start.
BODY = {
    "product": "small_short_term",
    "amount": "2000.00",
    "term": 14,
    "applicant": {
        "id_number": "110101199003071234",
        "phone": "13812341234",
        "birth_date": "1990-03-07",
        "region": "110105",
        "employment": "private_employee",
        "social_insurance": False,
        "monthly_income": "15000.00",
    },
    "bureau": {"applications_90d": 2, "court_enforcements": 0},
    "device": {"device_id": "dev-0001", "ip": "10.1.2.3", "is_proxy": False},
    "credit_profile": {"credit_history": "existing_paid_duly", "checking_status": "none"},
}
LINE = CreditLineFacts(borrower_id=77, limit=150_000, version=3)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    store = PolicyStore(policies_dir() / "decision", tmp_path_factory.mktemp("versions"))
    directory = tmp_path_factory.mktemp("models")
    for path in models_dir().glob("*.json"):
        if path.name != "experiment.json":
            (directory / path.name).write_bytes(path.read_bytes())
    return DecisionService(
        PolicyEngine(store),
        PRODUCTS,
        ModelRegistry(directory),
        product_versions=ProductVersionStore(tmp_path_factory.mktemp("product-versions")),
    )


def evaluate(service, body=BODY, line=LINE):
    application = parse_application(copy.deepcopy(body), PRODUCTS)
    facts = Facts(fraud_checked=True, credit_line=line)
    return service.evaluate(application, application_id=1, at=AT, facts=facts)


def test_an_approval_draws_on_the_line_and_the_trace_says_so(service):
    evaluation = evaluate(service)
    decision = evaluation.decision
    assert str(decision.outcome) == "APPROVE" and decision.offer is not None
    assert (decision.offer.credit_limit, decision.offer.limit_source) == (150_000, "credit_line")
    assert evaluation.context["credit_line"] == LINE.to_context()
    step = decision.policy.trace["credit_line"][0]["values"]
    assert (step["line_limit"], step["policy_limit"], step["applied"]) == (
        "1500.00",
        "1000.00",
        True,
    )


def test_without_a_line_the_context_says_none_was_found_and_the_policy_sets_the_limit(service):
    evaluation = evaluate(service, line=None)
    assert evaluation.context["credit_line"] == NO_CREDIT_LINE
    assert evaluation.decision.offer is not None
    assert evaluation.decision.offer.limit_source == "policy"
    assert "credit_line" not in evaluation.decision.policy.trace


def test_a_manual_review_keeps_the_policys_limit(service):
    body = copy.deepcopy(BODY)
    body["device"]["is_proxy"] = True  # PROXY_OR_VPN: manual review
    decision = evaluate(service, body).decision
    assert str(decision.outcome) == "MANUAL_REVIEW" and decision.offer is not None
    assert (decision.offer.credit_limit, decision.offer.limit_source) == (100_000, "policy")


def test_a_rejection_with_a_line_stays_a_rejection_without_an_offer(service):
    body = copy.deepcopy(BODY)
    body["bureau"]["court_enforcements"] = 1
    decision = evaluate(service, body).decision
    assert (str(decision.outcome), decision.offer) == ("REJECT", None)
    assert decision.policy.trace["credit_line"][0]["values"]["applied"] is False


def test_a_line_offer_refused_by_the_cap_falls_back_to_the_policys_limit(service, monkeypatch):
    real = decide_module.make_offer

    def refuse_with_a_line(*args, line_limit=None, **kwargs):
        if line_limit is not None:
            return OfferRefused(ErrorCode.RATE_CAP_EXCEEDED, "over the cap")
        return real(*args, **kwargs)

    monkeypatch.setattr(decide_module, "make_offer", refuse_with_a_line)
    decision = evaluate(service).decision
    assert str(decision.outcome) == "APPROVE" and decision.offer is not None
    assert (decision.offer.credit_limit, decision.offer.limit_source) == (100_000, "policy")


def test_a_record_made_before_limit_source_replays_equal_but_a_changed_source_differs():
    from lendcore.decisioning.documents import compare

    replayed = {"offer": {"credit_limit": "1000.00", "limit_source": "policy"}}
    legacy = {"offer": {"credit_limit": "1000.00"}}
    assert compare(legacy, replayed)[2] == []
    drawn = {"offer": {"credit_limit": "1000.00", "limit_source": "credit_line"}}
    assert [d["field"] for d in compare(drawn, replayed)[2]] == ["offer"]
