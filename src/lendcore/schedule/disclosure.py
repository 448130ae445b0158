"""IRR-based annualised rate disclosure (PBOC Announcement [2021] No. 3).

The disclosed rate is the internal rate of return of the borrower's real cash flows: money
actually received at the start against every payment made (principal, interest, every fee),
annualised the way the announcement does it (periodic IRR x periods per year). We discount each
period with the same year fraction its interest was charged on, so for a fee-free loan the IRR
equals the nominal rate exactly (up to fen rounding), whatever the day count or a broken first
period; every fee or upfront deduction shows up as a higher IRR.

Upfront interest (砍头息) is not lawful: when a contract deducts interest from the principal, the
principal is the amount actually received (Civil Code Art. 670). :func:`disclose` reports that
legal principal and a warning code; pricing and the cap check use the real cash received.

The IRR is a root of a polynomial, not an amount of money, so it is solved in binary floating
point (Newton's method with a bisection fallback) to ~1e-12 and returned as a Decimal; it is
disclosed to four places. Money itself never becomes a float.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.schedule.model import Schedule

UPFRONT_INTEREST_DEDUCTED = "UPFRONT_INTEREST_DEDUCTED"
_TOLERANCE = 1e-13
_IRR_PLACES = Decimal("0.0000000001")


@dataclass(frozen=True, slots=True)
class Disclosure:
    apr_irr: Decimal  # annualised IRR of the real cash flows
    nominal_rate: Decimal  # the contract's stated annual rate
    amount_received: int  # fen the borrower actually gets
    legal_principal: (
        int  # principal as the law counts it (contract principal less upfront interest)
    )
    upfront_interest: int  # interest deducted at disbursement (should be 0)
    total_cost: int  # interest + every fee + upfront interest, in fen
    warnings: tuple[str, ...]


def _present_value(
    flows: Sequence[int], fractions: Sequence[float], rate: float
) -> tuple[float, float]:
    """Sum of discounted flows and its derivative with respect to ``rate``."""
    value = derivative = 0.0
    discount = 1.0
    slope = 0.0  # d(log discount)/d(rate)
    for flow, fraction in zip(flows, fractions, strict=True):
        step = 1.0 + rate * fraction
        discount /= step
        slope -= fraction / step
        value += flow * discount
        derivative += flow * discount * slope
    return value, derivative


def annualised_irr(received: int, flows: Sequence[int], fractions: Sequence[Fraction]) -> Decimal:
    """The annual rate R at which ``flows`` (paid at the end of periods of the given year
    fractions) are worth exactly ``received`` today: Σ flow_k · Π_{i≤k} 1/(1 + R·f_i) = received."""
    if received <= 0 or not flows or any(f < 0 for f in flows) or sum(flows) <= 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "cash flows have no IRR")
    fracs = [float(f) for f in fractions]
    if any(f <= 0 for f in fracs):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "every period must have a positive length"
        )
    target = float(received)

    def excess(rate: float) -> tuple[float, float]:
        value, slope = _present_value(flows, fracs, rate)
        return value - target, slope

    # Newton from 10%: the present value is smooth, convex and decreasing in the rate.
    rate = 0.1
    for _ in range(50):
        gap, slope = excess(rate)
        if abs(gap) <= _TOLERANCE * target:
            return Decimal(repr(rate)).quantize(_IRR_PLACES)
        if slope == 0:
            break
        step = rate - gap / slope
        if not step > -1.0 / max(fracs):  # left the domain where every 1 + R·f > 0
            break
        rate = step
    # Bisection fallback: bracket the root, then halve.
    low = -1.0 / max(fracs) + 1e-12
    high = 1.0
    while excess(high)[0] > 0:
        high *= 2
        if high > 1e6:
            raise LendcoreError(ErrorCode.IRR_NOT_FOUND, "IRR above 100,000,000% a year")
    for _ in range(200):
        middle = (low + high) / 2
        if excess(middle)[0] > 0:
            low = middle
        else:
            high = middle
        if high - low < 1e-14:
            break
    return Decimal(repr((low + high) / 2)).quantize(_IRR_PLACES)


def disclose(schedule: Schedule, upfront_interest: int = 0) -> Disclosure:
    """The rate disclosure of ``schedule``; ``upfront_interest`` is interest withheld from the
    disbursement (砍头息), which the law treats as never lent."""
    terms = schedule.terms
    if upfront_interest < 0:
        raise ValidationError(ErrorCode.INVALID_AMOUNT, "upfront interest must be >= 0")
    received = schedule.amount_received - upfront_interest
    if received <= 0:
        raise ValidationError(
            ErrorCode.INVALID_AMOUNT, "upfront deductions leave the borrower nothing"
        )
    installments = schedule.installments
    apr = annualised_irr(
        received, [i.total for i in installments], [i.fraction for i in installments]
    )
    warnings = (UPFRONT_INTEREST_DEDUCTED,) if upfront_interest else ()
    return Disclosure(
        apr_irr=apr,
        nominal_rate=terms.annual_rate,
        amount_received=received,
        legal_principal=terms.principal - upfront_interest,
        upfront_interest=upfront_interest,
        total_cost=schedule.total_interest + schedule.total_fees + upfront_interest,
        warnings=warnings,
    )
