from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.products.loader import load_product_file, load_products
from lendcore.products.quote import quote
from lendcore.schedule import Method, PeriodUnit

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "products"
START = date(2026, 3, 2)


@pytest.fixture(scope="module")
def products():
    return {code: loaded.product for code, loaded in load_products(POLICIES).items()}


def test_shipped_products_load_with_a_version_hash():
    loaded = load_products(POLICIES)
    assert {"small_short_term", "consumer_instalment"} <= set(loaded)
    assert all(len(p.version_hash) == 64 for p in loaded.values())


def test_small_product_is_a_500_to_2000_bullet_over_7_to_30_days(products):
    p = products["small_short_term"]
    assert (p.amount.min, p.amount.max) == (50_000, 200_000)
    assert (p.term.unit, p.term.min, p.term.max) == (PeriodUnit.DAY, 7, 30)
    assert p.methods == (Method.BULLET,)


def test_consumer_product_offers_equal_installment_and_interest_first(products):
    p = products["consumer_instalment"]
    assert (p.amount.min, p.amount.max) == (300_000, 20_000_000)
    assert (p.term.unit, p.term.min, p.term.max) == (PeriodUnit.MONTH, 3, 36)
    assert set(p.methods) == {Method.EQUAL_INSTALLMENT, Method.INTEREST_FIRST}


def test_a_quote_includes_the_product_fees_in_the_disclosed_rate(products):
    offer = quote(products["consumer_instalment"], 1_000_000, 12, START)
    assert all(i.fee == 2_000 for i in offer.schedule.installments)  # 0.2% of 10,000 a month
    assert offer.disclosure.apr_irr > offer.disclosure.nominal_rate
    assert offer.cap.compliant


@pytest.mark.parametrize(
    ("code", "amount", "term", "kwargs", "error"),
    [
        ("small_short_term", 40_000, 14, {}, ErrorCode.AMOUNT_OUT_OF_RANGE),
        ("small_short_term", 100_000, 31, {}, ErrorCode.TERM_OUT_OF_RANGE),
        (
            "small_short_term",
            100_000,
            14,
            {"method": Method.EQUAL_INSTALLMENT},
            ErrorCode.METHOD_NOT_ALLOWED,
        ),
        (
            "consumer_instalment",
            1_000_000,
            12,
            {"rate": Decimal("0.20")},
            ErrorCode.RATE_OUT_OF_RANGE,
        ),
    ],
)
def test_offers_outside_the_product_are_refused(products, code, amount, term, kwargs, error):
    with pytest.raises(PolicyViolation) as info:
        quote(products[code], amount, term, START, **kwargs)
    assert info.value.code is error


def test_an_offer_above_a_product_cap_is_refused(products):
    tight = products["consumer_instalment"].model_copy(update={"cap": Decimal("0.15")})
    with pytest.raises(PolicyViolation) as info:
        quote(tight, 1_000_000, 12, START)
    assert info.value.code is ErrorCode.RATE_CAP_EXCEEDED


def _write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


VALID = (POLICIES / "consumer_instalment.yaml").read_text(encoding="utf-8")


def test_a_product_whose_fees_push_the_irr_past_the_cap_is_refused(tmp_path):
    text = VALID.replace('per_period_rate: "0.0020"', 'per_period_rate: "0.0100"')
    with pytest.raises(ValidationError) as info:
        load_product_file(_write(tmp_path, text))
    assert info.value.code is ErrorCode.INVALID_PRODUCT
    assert info.value.details["cause"] == "RATE_CAP_EXCEEDED"


@pytest.mark.parametrize(
    "edit",
    [
        ('day_count: "30_360"', "day_count: 30_360"),  # YAML reads this as the integer 30360
        ('amount: {min: "3000.00"', "amount: {min: 3000.5"),  # a float amount is not exact
        ('amount: {min: "3000.00"', 'amount: {min: "300000.00"'),  # min above max
        ("methods: [equal_installment, interest_first]", "methods: [balloon]"),
        ('penalty_rate: "0.1800"', 'penalty_rate: "0.5"'),
        ("version: 1", "version: 1\nsurprise: true"),  # unknown keys are typos
    ],
)
def test_schema_refuses_malformed_products(tmp_path, edit):
    old, new = edit
    assert old in VALID
    with pytest.raises(ValidationError) as info:
        load_product_file(_write(tmp_path, VALID.replace(old, new)))
    assert info.value.code is ErrorCode.INVALID_PRODUCT
