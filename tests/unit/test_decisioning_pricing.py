"""Limits and pricing: every limits-policy row gives an offer inside the product's ranges and
under the cap; above the cap the rate is reduced, then the offer refused; limits step up."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.pricing import (
    LimitTerms,
    OfferRefused,
    PricedOffer,
    StepUpRule,
    make_offer,
    step_up_limit,
)
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.caps import RateCap
from lendcore.products.loader import load_products, policies_dir
from lendcore.products.model import Product
from lendcore.products.quote import quote

PRODUCTS = load_products()
DAY = date(2026, 3, 1)
TIERS = ("whitelist", "standard", "high_risk")
BANDS = ("A", "B", "C", "D", "U")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return PolicyEngine(PolicyStore(policies_dir() / "decision", tmp_path_factory.mktemp("v")))


def limits(engine, product, tier, band):
    result = engine.evaluate("limits", {"product": product, "tier": tier, "score_band": band})
    return LimitTerms.from_policy(result.result)


def offer(terms, requested_product="consumer_instalment", amount=5_000_000, term=12, cap=None):
    loaded = PRODUCTS[terms.product]
    return make_offer(
        terms,
        loaded.product,
        product_version=loaded.version_hash,
        requested_product=requested_product,
        requested_amount=amount,
        requested_term=term,
        start=DAY,
        cap=cap,
    )


@pytest.mark.parametrize("requested", ["consumer_instalment", "small_short_term"])
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize(("amount", "term"), [(1, 1), (10**10, 1000)])
def test_every_policy_row_prices_inside_the_product_and_under_the_cap(
    engine, requested, tier, band, amount, term
):
    terms = limits(engine, requested, tier, band)
    priced = offer(terms, requested, amount, term)
    assert isinstance(priced, PricedOffer)
    product: Product = PRODUCTS[terms.product].product
    schedule_terms = priced.offer.schedule.terms
    assert product.amount.min <= schedule_terms.principal <= product.amount.max
    assert schedule_terms.principal <= priced.credit_limit <= priced.tier_max
    assert product.term.min <= schedule_terms.periods <= product.term.max
    assert product.rate.min <= schedule_terms.annual_rate <= product.rate.max
    assert priced.offer.cap.compliant
    assert priced.offer.disclosure.apr_irr <= Decimal("0.24")


def test_low_bands_start_at_500_to_2000_on_the_small_product(engine):
    for tier in TIERS:
        terms = limits(engine, "consumer_instalment", tier, "D")
        assert (terms.product, terms.amount_min, terms.amount_max) == (
            "small_short_term",
            50_000,
            200_000,
        )


def test_the_request_is_clamped_into_the_policy_and_product_ranges(engine):
    terms = limits(engine, "consumer_instalment", "standard", "B")  # 3,000-50,000, 3-24 months
    priced = offer(terms, amount=9_000_000, term=36)
    assert isinstance(priced, PricedOffer)
    assert priced.offer.schedule.terms.principal == 5_000_000
    assert priced.offer.schedule.terms.periods == 24
    assert priced.counter_offer is False


def test_a_counter_offer_in_another_product_takes_its_longest_term(engine):
    terms = limits(engine, "consumer_instalment", "high_risk", "U")
    priced = offer(terms, amount=5_000_000, term=12)
    assert isinstance(priced, PricedOffer)
    assert priced.counter_offer is True
    assert priced.offer.schedule.terms.periods == 30  # days
    assert priced.offer.schedule.terms.principal == 100_000  # the 1,000 yuan starting limit


def test_an_offer_above_the_cap_gets_the_highest_compliant_rate(engine):
    terms = limits(engine, "consumer_instalment", "high_risk", "B")  # 18% + 0.2%/month fee
    cap = RateCap(Decimal("0.20"))
    priced = offer(terms, amount=500_000, term=12, cap=cap)
    assert isinstance(priced, PricedOffer)
    assert priced.rate_reduced_for_cap
    rate = priced.offer.schedule.terms.annual_rate
    assert priced.offer.disclosure.apr_irr <= Decimal("0.20")
    with pytest.raises(LendcoreError) as caught:  # one basis point more breaks the cap
        quote(
            PRODUCTS["consumer_instalment"].product,
            500_000,
            12,
            DAY,
            rate=rate + Decimal("0.0001"),
            cap=cap,
        )
    assert caught.value.code is ErrorCode.RATE_CAP_EXCEEDED


def test_an_offer_is_refused_when_even_the_minimum_rate_breaks_the_cap(engine):
    terms = limits(engine, "consumer_instalment", "high_risk", "B")
    refused = offer(terms, amount=500_000, term=3, cap=RateCap(Decimal("0.05")))
    assert isinstance(refused, OfferRefused)
    assert refused.code is ErrorCode.RATE_CAP_EXCEEDED


def test_a_limits_row_that_misses_the_product_is_an_invalid_policy():
    row = {
        "product": "small_short_term",
        "amount_min": "3000.00",
        "initial_limit": "5000.00",
        "amount_max": "5000.00",
        "term_min": 7,
        "term_max": 30,
        "rate": "0.1800",
        "step_up_after": 3,
        "step_up_factor": "1.5",
    }
    with pytest.raises(LendcoreError) as caught:
        offer(LimitTerms.from_policy(row), "small_short_term")
    assert caught.value.code is ErrorCode.INVALID_POLICY


@pytest.mark.parametrize(
    ("name", "value"),
    [("rate", 0.18), ("amount_min", "abc"), ("term_min", 2.5), ("step_up_factor", "0.5")],
)
def test_a_malformed_limits_row_is_an_invalid_policy(name, value):
    row = {
        "product": "small_short_term",
        "amount_min": "500.00",
        "initial_limit": "1000.00",
        "amount_max": "2000.00",
        "term_min": 7,
        "term_max": 30,
        "rate": "0.1800",
        "step_up_after": 3,
        "step_up_factor": "1.5",
        name: value,
    }
    with pytest.raises(LendcoreError) as caught:
        LimitTerms.from_policy(row)
    assert caught.value.code is ErrorCode.INVALID_POLICY


RULE = StepUpRule(after=3, factor=Decimal("1.5"))


@pytest.mark.parametrize(
    ("repayments", "expected"),
    [
        (0, 50_000),
        (2, 50_000),
        (3, 75_000),
        (6, 112_500),
        (9, 168_700),
        (12, 200_000),
        (60, 200_000),
    ],
)
def test_the_limit_steps_up_every_n_on_time_repayments_to_the_tier_max(repayments, expected):
    assert step_up_limit(50_000, repayments, RULE, tier_max=200_000) == expected


def test_a_late_repayment_freezes_the_limit():
    assert step_up_limit(50_000, 9, RULE, tier_max=200_000, late_repayments=1) == 50_000


@given(
    limit=st.integers(1, 10**8),
    repayments=st.integers(0, 100),
    tier_max=st.integers(1, 10**8),
    after=st.integers(1, 12),
    factor=st.decimals("1", "3", places=2),
)
def test_a_step_up_never_lowers_a_limit_nor_passes_the_tier_max(
    limit, repayments, tier_max, after, factor
):
    stepped = step_up_limit(limit, repayments, StepUpRule(after, factor), tier_max=tier_max)
    assert stepped >= limit
    assert stepped <= max(limit, tier_max)
