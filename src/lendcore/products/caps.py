"""The all-in annual cost cap.

Defaults follow REGULATIONS.md: 24% all-in for platform-facilitated loans (NFRA, 1 Oct 2025),
36% as the outer bound no configuration may exceed (2017 cash-loan notice), and optionally the
judicial cap of 4x the one-year LPR at signing (SPC private lending provisions Art. 25), which
applies when the lender configures it. The check runs on the disclosed IRR, which already
includes every fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.rates import format_rate

DEFAULT_CAP = Decimal("0.24")
OUTER_BOUND = Decimal("0.36")
# The IRR solver is exact to ~1e-12; anything below this is solver noise, not price.
_COMPARISON_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class CapCheck:
    limit: Decimal
    compliant: bool


@dataclass(frozen=True, slots=True)
class RateCap:
    limit: Decimal = DEFAULT_CAP
    one_year_lpr: Decimal | None = None  # set to also apply 4 x LPR

    def __post_init__(self) -> None:
        if self.limit <= 0:
            raise ValidationError(ErrorCode.INVALID_RATE, "the rate cap must be positive")
        if self.limit > OUTER_BOUND:
            raise ValidationError(
                ErrorCode.CAP_ABOVE_OUTER_BOUND,
                f"cap {format_rate(self.limit)} is above the {format_rate(OUTER_BOUND)} outer bound",
            )
        if self.one_year_lpr is not None and self.one_year_lpr <= 0:
            raise ValidationError(ErrorCode.INVALID_RATE, "LPR must be positive")

    @property
    def effective_limit(self) -> Decimal:
        if self.one_year_lpr is None:
            return self.limit
        return min(self.limit, 4 * self.one_year_lpr)

    def check(self, apr_irr: Decimal) -> CapCheck:
        limit = self.effective_limit
        return CapCheck(limit=limit, compliant=apr_irr.quantize(_COMPARISON_PLACES) <= limit)

    def enforce(self, apr_irr: Decimal, what: str = "offer") -> CapCheck:
        """The check, raising ``RATE_CAP_EXCEEDED`` when the IRR is above the limit."""
        result = self.check(apr_irr)
        if not result.compliant:
            raise PolicyViolation(
                ErrorCode.RATE_CAP_EXCEEDED,
                f"{what} all-in IRR {format_rate(apr_irr)} exceeds the cap {format_rate(result.limit)}",
                {"apr_irr": format_rate(apr_irr), "limit": format_rate(result.limit)},
            )
        return result
