"""Limits and pricing: the limits policy's row and the product become one lawful offer.

Pure. The limits policy (``policies/decision/limits.json``) names, per tier and score band, a
product, an amount range with an initial credit limit, a term range and a rate; the product's own
ranges still bind (the offer lives in the intersection). Every offer passes
:func:`lendcore.products.quote.quote`, the all-in IRR cap check.

An offer above the cap is **reduced, then refused**: the rate is lowered to the highest rate
(to 0.0001) at which the all-in IRR is within the cap, never below the product's minimum rate;
if even the minimum rate is above the cap (fees alone too heavy for this amount and term), no
offer is made and the refusal carries ``RATE_CAP_EXCEEDED``. Amount and term are never changed
to fit the cap: they are what the borrower asked for.

A returning applicant's **credit line** (:class:`CreditLineFacts`, read at decision time and
stored in the rule context) raises the limit: the offered limit is the larger of the policy's
initial limit and the line's current limit, never above the tier maximum nor the product's
maximum (``limit_source`` says which one it came from). It never lowers a limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from lendcore.kernel.errors import ErrorCode, LendcoreError, PolicyViolation, ValidationError
from lendcore.kernel.money import format_major, parse_major
from lendcore.kernel.rates import format_rate, parse_rate
from lendcore.products.caps import RateCap
from lendcore.products.model import Product
from lendcore.products.quote import Offer, quote

RATE_STEP = Decimal("0.0001")
LIMIT_ROUNDING = 100  # a stepped-up limit is rounded down to a whole yuan (in fen)


@dataclass(frozen=True, slots=True)
class StepUpRule:
    """After every ``after`` on-time repayments the limit grows by ``factor``, up to the tier max."""

    after: int
    factor: Decimal

    def __post_init__(self) -> None:
        if self.after < 1:
            raise ValidationError(ErrorCode.INVALID_POLICY, "step_up_after must be at least 1")
        if not Decimal(1) <= self.factor <= Decimal(10):
            raise ValidationError(ErrorCode.INVALID_POLICY, "step_up_factor must be in 1..10")


LIMIT_SOURCES = ("policy", "credit_line")


@dataclass(frozen=True, slots=True)
class CreditLineFacts:
    """The applicant's credit line as the decision saw it: stored in the rule context (a replay
    reads it from there, never from the line, which has moved on)."""

    borrower_id: int
    limit: int  # fen, the line's current limit
    version: int  # the line's history version it was read at

    def to_context(self) -> dict[str, Any]:
        return {
            "found": True,
            "borrower_id": str(self.borrower_id),
            "limit": format_major(self.limit),
            "version": self.version,
        }

    @classmethod
    def from_context(cls, document: Any) -> CreditLineFacts | None:
        """The line a context recorded; None when it recorded none (or predates lines)."""
        if not isinstance(document, Mapping) or not document.get("found"):
            return None
        return cls(
            int(document["borrower_id"]), parse_major(document["limit"]), int(document["version"])
        )


NO_CREDIT_LINE: dict[str, Any] = {
    "found": False,
    "borrower_id": None,
    "limit": None,
    "version": None,
}


@dataclass(frozen=True, slots=True)
class LimitTerms:
    """One row of the limits policy. Amounts in fen; terms in the product's unit."""

    product: str
    amount_min: int
    initial_limit: int
    amount_max: int  # the tier maximum the step-up may reach
    term_min: int
    term_max: int
    rate: Decimal
    step_up: StepUpRule

    @classmethod
    def from_policy(cls, row: Mapping[str, Any]) -> LimitTerms:
        """Parse the limits policy's output; a malformed row is an ``INVALID_POLICY``."""
        try:
            terms = cls(
                product=_text(row, "product"),
                amount_min=parse_major(_text(row, "amount_min")),
                initial_limit=parse_major(_text(row, "initial_limit")),
                amount_max=parse_major(_text(row, "amount_max")),
                term_min=_whole(row, "term_min"),
                term_max=_whole(row, "term_max"),
                rate=parse_rate(_text(row, "rate")),
                step_up=StepUpRule(
                    after=_whole(row, "step_up_after"),
                    factor=Decimal(_text(row, "step_up_factor")),
                ),
            )
        except (LendcoreError, ArithmeticError) as exc:
            message = exc.message if isinstance(exc, LendcoreError) else str(exc)
            raise ValidationError(
                ErrorCode.INVALID_POLICY, f"limits: {message}", {"row": dict(row)}
            ) from None
        if not 0 < terms.amount_min <= terms.initial_limit <= terms.amount_max:
            raise ValidationError(
                ErrorCode.INVALID_POLICY,
                "limits: need 0 < amount_min <= initial_limit <= amount_max",
                {"row": dict(row)},
            )
        if not 0 < terms.term_min <= terms.term_max:
            raise ValidationError(
                ErrorCode.INVALID_POLICY,
                "limits: need 0 < term_min <= term_max",
                {"row": dict(row)},
            )
        return terms


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        # Money and rates are strings in the policy: a JSON number would be a binary float.
        raise ValidationError(ErrorCode.INVALID_POLICY, f"{name} must be a string, got {value!r}")
    return value


def _whole(row: Mapping[str, Any], name: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValidationError(ErrorCode.INVALID_POLICY, f"{name} must be a whole number")
    return int(value)


@dataclass(frozen=True, slots=True)
class PricedOffer:
    offer: Offer
    credit_limit: int  # the limit granted now (fen); the amount is at most this
    tier_max: int  # what on-time repayments may step the limit up to
    step_up: StepUpRule
    counter_offer: bool  # a different product than the one applied for
    requested_rate: Decimal  # the policy's rate before any reduction for the cap
    product_version: str
    limit_source: str = "policy"  # "credit_line" when the applicant's line raised the limit

    @property
    def rate_reduced_for_cap(self) -> bool:
        return self.offer.schedule.terms.annual_rate < self.requested_rate

    def to_dict(self) -> dict[str, Any]:
        terms = self.offer.schedule.terms
        schedule = self.offer.schedule
        return {
            "product": self.offer.product.code,
            "product_version": self.product_version,
            "counter_offer": self.counter_offer,
            "amount": format_major(terms.principal),
            "term": terms.periods,
            "term_unit": str(terms.period_unit),
            "method": str(terms.method),
            "annual_rate": format_rate(terms.annual_rate),
            "apr_irr": format_rate(self.offer.disclosure.apr_irr),
            "cap": format_rate(self.offer.cap.limit),
            "rate_reduced_for_cap": self.rate_reduced_for_cap,
            "first_installment": format_major(schedule.installments[0].total),
            "total_repayment": format_major(schedule.total_repayment),
            "credit_limit": format_major(self.credit_limit),
            "tier_max": format_major(self.tier_max),
            "step_up": {"after": self.step_up.after, "factor": str(self.step_up.factor)},
            "limit_source": self.limit_source,
        }


@dataclass(frozen=True, slots=True)
class OfferRefused:
    code: ErrorCode
    message: str


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def make_offer(
    limit: LimitTerms,
    product: Product,
    *,
    product_version: str,
    requested_product: str,
    requested_amount: int,
    requested_term: int,
    start: date,
    cap: RateCap | None = None,
    line_limit: int | None = None,
) -> PricedOffer | OfferRefused:
    """The offer for an approved (or reviewed) application.

    Limit: the policy's initial limit, or ``line_limit`` (the applicant's credit line, fen) when
    that is larger, never above the tier maximum (the policy's ``amount_max``) nor the product's
    maximum. Amount: the request clamped into [max(policy min, product min), that limit]. Term: the request clamped the same way; on a counter-offer in another product (whose
    term unit may differ) the longest term the policy allows. Rate: the policy's, clamped into
    the product's range, then reduced for the cap if needed (module docstring)."""
    if limit.product != product.code:
        raise ValidationError(ErrorCode.INVALID_POLICY, "limits row and product disagree")
    amount_low = max(limit.amount_min, product.amount.min)
    ceiling = min(limit.amount_max, product.amount.max)
    policy_high = min(limit.initial_limit, ceiling)
    amount_high = max(policy_high, min(line_limit or 0, ceiling))
    limit_source = "credit_line" if amount_high > policy_high else "policy"
    term_low = max(limit.term_min, product.term.min)
    term_high = min(limit.term_max, product.term.max)
    if amount_low > policy_high or term_low > term_high:  # the policy's own ranges, line or not
        raise ValidationError(
            ErrorCode.INVALID_POLICY,
            f"limits for {product.code} do not overlap the product's ranges",
            {
                "amount": [format_major(amount_low), format_major(policy_high)],
                "term": [term_low, term_high],
            },
        )
    counter_offer = requested_product != product.code
    amount = _clamp(requested_amount, amount_low, amount_high)
    term = term_high if counter_offer else _clamp(requested_term, term_low, term_high)
    rate = min(max(limit.rate, product.rate.min), product.rate.max)
    offer = _quote_within_cap(product, amount, term, start, rate, cap)
    if isinstance(offer, OfferRefused):
        return offer
    return PricedOffer(
        offer=offer,
        credit_limit=amount_high,
        tier_max=ceiling,
        step_up=limit.step_up,
        counter_offer=counter_offer,
        requested_rate=rate,
        product_version=product_version,
        limit_source=limit_source,
    )


def _quote_within_cap(
    product: Product, amount: int, term: int, start: date, rate: Decimal, cap: RateCap | None
) -> Offer | OfferRefused:
    try:
        return quote(product, amount, term, start, rate=rate, cap=cap)
    except PolicyViolation as exc:
        if exc.code is not ErrorCode.RATE_CAP_EXCEEDED:
            raise
        refusal = OfferRefused(exc.code, exc.message)
    # The IRR rises with the rate, so the highest compliant rate is found by bisection over
    # whole basis points between the product minimum and the rate that failed.
    low = product.rate.min
    best: Offer | None = None
    try:
        best = quote(product, amount, term, start, rate=low, cap=cap)
    except PolicyViolation as exc:
        if exc.code is not ErrorCode.RATE_CAP_EXCEEDED:
            raise
        return refusal
    low_steps, high_steps = 0, int((rate - low) / RATE_STEP)  # high_steps is known to fail
    while high_steps - low_steps > 1:
        middle = (low_steps + high_steps) // 2
        try:
            best = quote(product, amount, term, start, rate=low + middle * RATE_STEP, cap=cap)
            low_steps = middle
        except PolicyViolation as exc:
            if exc.code is not ErrorCode.RATE_CAP_EXCEEDED:
                raise
            high_steps = middle
    return best


def step_up_limit(
    current_limit: int,
    on_time_repayments: int,
    rule: StepUpRule,
    *,
    tier_max: int,
    late_repayments: int = 0,
) -> int:
    """The credit limit after ``on_time_repayments`` on-time repayments since it was granted.

    Each full ``rule.after`` on-time repayments multiplies the limit by ``rule.factor`` (rounded
    down to a whole yuan), never above ``tier_max``. Any late repayment freezes the
    limit. The step-up never lowers a limit: cutting a limit is a decision, not a step-up."""
    if current_limit <= 0 or on_time_repayments < 0 or late_repayments < 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "limits and counts must be non-negative")
    if late_repayments:
        return current_limit
    limit = current_limit
    for _ in range(on_time_repayments // rule.after):
        if limit >= tier_max:
            break
        grown = (Decimal(limit) * rule.factor / LIMIT_ROUNDING).to_integral_value(ROUND_FLOOR)
        limit = min(tier_max, max(limit, int(grown) * LIMIT_ROUNDING))
    return max(current_limit, limit)


@dataclass(frozen=True, slots=True)
class LineProgress:
    """A credit line after some on-time repayments were counted (see :func:`count_on_time`)."""

    limit: int
    on_time: int  # on-time repayments counted toward the next step
    stepped_up: bool


def count_on_time(
    limit: int, on_time: int, new_on_time: int, rule: StepUpRule, *, tier_max: int
) -> LineProgress:
    """Count ``new_on_time`` more on-time repayments on a line that had ``on_time`` toward its
    next step. Each time the count reaches ``rule.after`` the limit steps up once
    (:func:`step_up_limit`) and the count starts again from the remainder, so a step-up always
    rests on ``after`` repayments nobody counted before. At the tier maximum the count still
    turns over but the limit stays. A late instalment resets ``on_time`` to 0 before this runs
    (the caller's rule, docs/concepts/decisioning.md), which is why no late count is passed."""
    if new_on_time < 0 or on_time < 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "on-time counts must be non-negative")
    total = on_time + new_on_time
    steps = total // rule.after
    if steps == 0:
        return LineProgress(limit, total, False)
    stepped = step_up_limit(limit, steps * rule.after, rule, tier_max=tier_max)
    return LineProgress(stepped, total - steps * rule.after, stepped > limit)
