from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import Rounding, allocate, format_major, parse_major, round_minor


def test_yuan_text_parses_to_whole_fen():
    assert parse_major("5307.27") == 530727
    assert parse_major(10000) == 1_000_000
    assert parse_major("0.1") == 10


@pytest.mark.parametrize("bad", ["10.001", "abc", "NaN", "Infinity", ""])
def test_amounts_that_are_not_whole_fen_are_refused(bad):
    with pytest.raises(ValidationError) as info:
        parse_major(bad)
    assert info.value.code is ErrorCode.INVALID_AMOUNT


def test_fen_format_as_two_decimal_yuan():
    assert format_major(530727) == "5307.27"
    assert format_major(5) == "0.05"
    assert format_major(-150) == "-1.50"


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        ("2.5", Rounding.HALF_UP, 3),
        ("2.5", Rounding.HALF_EVEN, 2),
        ("2.9", Rounding.DOWN, 2),
        ("2.1", Rounding.UP, 3),
        ("-2.5", Rounding.HALF_UP, -3),
    ],
)
def test_rounding_modes_are_explicit(value, mode, expected):
    assert round_minor(Decimal(value), mode) == expected


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_then_parse_is_identity(minor):
    assert parse_major(format_major(minor)) == minor


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(any),
)
def test_allocation_sums_exactly_and_stays_within_one_fen_of_proportional(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(part - exact) < 1


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(list(Rounding)),
)
def test_integer_ratio_rounding_agrees_with_decimal_rounding(numerator, denominator, mode):
    from decimal import localcontext

    from lendcore.kernel.money import round_ratio

    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(numerator) / Decimal(denominator)
    assert round_ratio(numerator, denominator, mode) == round_minor(exact, mode)


def test_a_true_half_fen_rounds_up_even_when_the_rate_is_a_twelfth():
    # 150 fen x 12% / 12 = 1.5 fen exactly; a truncated 1/12 would give 1.4999... and round down.
    from fractions import Fraction

    from lendcore.kernel.money import round_ratio

    periodic = Fraction(Decimal("0.12")) * Fraction(1, 12)
    assert round_ratio(150 * periodic.numerator, periodic.denominator) == 2
