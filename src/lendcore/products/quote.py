"""Quoting: a product, an amount, a term and a rate become an offer, or a refusal with a code.

Every offer passes the rate cap on its all-in IRR. A product is itself refused when any corner of
its ranges (smallest and largest amount and term, at its highest rate and fees, with each method)
would exceed the cap: fixed fees weigh most on the smallest, shortest loan and the rate on every
loan, so the corners bound the whole box for the products this schema can express.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lendcore.kernel.errors import ErrorCode, PolicyViolation
from lendcore.kernel.money import format_major
from lendcore.kernel.rates import format_rate
from lendcore.products.caps import CapCheck, RateCap
from lendcore.products.model import Product
from lendcore.schedule import Disclosure, Method, Schedule, ScheduleTerms, build_schedule, disclose


@dataclass(frozen=True, slots=True)
class Offer:
    product: Product
    schedule: Schedule
    disclosure: Disclosure
    cap: CapCheck


def product_cap(product: Product, platform_cap: RateCap) -> RateCap:
    if product.cap is None or product.cap >= platform_cap.effective_limit:
        return platform_cap
    return RateCap(limit=product.cap, one_year_lpr=platform_cap.one_year_lpr)


def terms_for(
    product: Product, principal: int, term: int, method: Method, rate: Decimal, start: date
) -> ScheduleTerms:
    return ScheduleTerms(
        principal=principal,
        annual_rate=rate,
        periods=term,
        method=method,
        start=start,
        period_unit=product.term.unit,
        day_count=product.day_count,
        upfront_fee=product.upfront_fee(principal),
        fee_per_period=product.fee_per_period(principal),
        rounding=product.rounding,
    )


def quote(
    product: Product,
    principal: int,
    term: int,
    start: date,
    *,
    method: Method | None = None,
    rate: Decimal | None = None,
    cap: RateCap | None = None,
) -> Offer:
    """An offer within the product's ranges whose all-in IRR is within the cap, else a
    :class:`PolicyViolation` naming the broken rule."""
    method = method or product.methods[0]
    rate = product.rate.max if rate is None else rate
    if method not in product.methods:
        raise PolicyViolation(
            ErrorCode.METHOD_NOT_ALLOWED,
            f"{product.code} does not offer {method}",
            {"allowed": [str(m) for m in product.methods]},
        )
    if not product.amount.min <= principal <= product.amount.max:
        raise PolicyViolation(
            ErrorCode.AMOUNT_OUT_OF_RANGE,
            f"amount {format_major(principal)} outside "
            f"{format_major(product.amount.min)}–{format_major(product.amount.max)}",
        )
    if not product.term.min <= term <= product.term.max:
        raise PolicyViolation(
            ErrorCode.TERM_OUT_OF_RANGE,
            f"term {term} {product.term.unit} outside {product.term.min}–{product.term.max}",
        )
    if not product.rate.min <= rate <= product.rate.max:
        raise PolicyViolation(
            ErrorCode.RATE_OUT_OF_RANGE,
            f"rate {format_rate(rate)} outside "
            f"{format_rate(product.rate.min)}–{format_rate(product.rate.max)}",
        )
    schedule = build_schedule(terms_for(product, principal, term, method, rate, start))
    disclosure = disclose(schedule)
    check = product_cap(product, cap or RateCap()).enforce(disclosure.apr_irr, product.code)
    return Offer(product=product, schedule=schedule, disclosure=disclosure, cap=check)


def validate_product_pricing(product: Product, cap: RateCap | None = None) -> None:
    """Refuse a product any corner of whose ranges would price above the cap."""
    start = product.effective_from
    for method in product.methods:
        for principal in (product.amount.min, product.amount.max):
            for term in (product.term.min, product.term.max):
                quote(product, principal, term, start, method=method, cap=cap)
