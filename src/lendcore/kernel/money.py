"""Exact money: integer minor units (fen) and explicit rounding.

Amounts are plain ``int`` counts of the currency's minor unit everywhere in the domain and the
database: integers add, compare and sum exactly, are fast, and map to BIGINT columns. Conversions
to and from decimal text happen only at the edges (CLI, API, YAML), through this module.
Every step that produces a fraction of a fen goes through :func:`round_minor` with a named mode.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from enum import StrEnum

from lendcore.kernel.errors import ErrorCode, ValidationError

MINOR_PER_MAJOR = 100  # CNY: 1 yuan = 100 fen
_ONE_FEN = Decimal(1)


class Rounding(StrEnum):
    """How a fractional fen becomes a whole one. Half-up is the default (banking practice in CN)."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"
    UP = "up"


_DECIMAL_MODE = {
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.DOWN: ROUND_DOWN,
    Rounding.UP: ROUND_UP,
}


# Rounding a negative amount mirrors the positive one (DOWN and UP are toward/away from zero).
_MIRROR = {r: r for r in Rounding}


def round_minor(value: Decimal, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Round a Decimal amount expressed in minor units to a whole minor unit."""
    return int(value.quantize(_ONE_FEN, rounding=_DECIMAL_MODE[rounding]))


def round_ratio(numerator: int, denominator: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """numerator / denominator rounded to a whole minor unit, in exact integer arithmetic.

    The hot path of every schedule and accrual: rates and year fractions are exact rationals,
    so interest = balance x rate x days / basis is one integer division with an explicit mode.
    Half-up and up round away from zero, like Decimal's ROUND_HALF_UP and ROUND_UP."""
    if denominator <= 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "denominator must be positive")
    if numerator < 0:
        return -round_ratio(-numerator, denominator, _MIRROR[rounding])
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0 or rounding is Rounding.DOWN:
        return quotient
    if rounding is Rounding.UP:
        return quotient + 1
    twice = 2 * remainder
    if twice > denominator or (
        twice == denominator and (rounding is Rounding.HALF_UP or quotient % 2 == 1)
    ):
        return quotient + 1
    return quotient


def parse_major(text: str | int | Decimal) -> int:
    """Parse a yuan amount ("5307.27", 10000) into fen. More than two decimals is an error:
    silently rounding what a person typed would change the contract."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(ErrorCode.INVALID_AMOUNT, f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise ValidationError(ErrorCode.INVALID_AMOUNT, f"not a finite amount: {text!r}")
    minor = value * MINOR_PER_MAJOR
    if minor != minor.to_integral_value():
        raise ValidationError(
            ErrorCode.INVALID_AMOUNT, f"amount has more than two decimals: {text!r}"
        )
    return int(minor)


def to_major(minor: int) -> Decimal:
    """Fen to a yuan Decimal with exactly two places."""
    return (Decimal(minor) / MINOR_PER_MAJOR).quantize(Decimal("0.01"))


def format_major(minor: int) -> str:
    """Fen to the contract's decimal string in yuan: 530727 -> "5307.27"."""
    return str(to_major(minor))


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` fen in proportion to ``weights`` so the parts sum exactly to ``total``
    (largest-remainder method; ties go to the earlier part)."""
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "weights must be non-negative, not all 0")
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts
