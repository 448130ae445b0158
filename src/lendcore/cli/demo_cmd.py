"""``lendcore demo``: the showcase that ``make demo`` runs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lendcore.cli.common import app, console
from lendcore.cli.schedule_cmd import show_schedule
from lendcore.products.caps import RateCap
from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


@app.command()
def demo() -> None:
    """演示 / Showcase: the four repayment methods and IRR disclosure of a fee-laden loan."""
    start = date(2026, 1, 15)
    cap = RateCap()
    cases = [
        ("等额本息 equal instalment, 10,000 @ 12% / 12 months", Method.EQUAL_INSTALLMENT, 0),
        ("等额本金 equal principal, 10,000 @ 12% / 12 months", Method.EQUAL_PRINCIPAL, 0),
        ("先息后本 interest first, 10,000 @ 12% / 12 months", Method.INTEREST_FIRST, 0),
        ("等额本息 + 500 upfront fee: IRR far above nominal", Method.EQUAL_INSTALLMENT, 50_000),
    ]
    for title, method, fee in cases:
        terms = ScheduleTerms(
            principal=1_000_000,
            annual_rate=Decimal("0.12"),
            periods=12,
            method=method,
            start=start,
            upfront_fee=fee,
        )
        built = build_schedule(terms)
        disclosure = disclose(built)
        check = cap.check(disclosure.apr_irr)
        show_schedule(built, disclosure, check.limit, check.compliant, title)
        console.print()
