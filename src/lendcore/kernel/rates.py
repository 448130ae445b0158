"""Rates as Decimal: parsing and formatting at the edges, never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lendcore.kernel.errors import ErrorCode, ValidationError

RATE_PLACES = Decimal("0.0001")


def parse_rate(text: str | int | float | Decimal, *, field: str = "rate") -> Decimal:
    """Parse an annual rate written as a fraction ("0.12" = 12%). Negative or absurd rates
    (above 1000%) are refused: they are typos, not products."""
    try:
        rate = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            ErrorCode.INVALID_RATE, f"{field} is not a number: {text!r}"
        ) from None
    if not rate.is_finite() or rate < 0:
        raise ValidationError(ErrorCode.INVALID_RATE, f"{field} must be >= 0: {text!r}")
    if rate > 10:
        raise ValidationError(
            ErrorCode.INVALID_RATE, f"{field} {text!r} looks like a percentage; write 0.12 for 12%"
        )
    return rate


def format_rate(rate: Decimal, places: Decimal = RATE_PLACES) -> str:
    """A rate as the contract's decimal string with four places: Decimal("0.12") -> "0.1200"."""
    return str(rate.quantize(places, rounding=ROUND_HALF_UP))
