"""Schedule throughput: lendcore schedules per second for 12- and 360-period loans, against
numpy-financial computing the same level payments in the same run (the floor).

Not a test: prints figures, never fails on timing. Run: `make bench` or
`.venv/bin/python bench/schedule.py [--seconds 2]`.

What each side computes:
- lendcore build: the full schedule (dates, exact fen interest/principal per period, rounding).
- lendcore build+IRR: the schedule plus the IRR disclosure of its real cash flows.
- numpy-financial: npf.pmt, npf.ipmt and npf.ppmt over every period of the same loan (floats,
  no dates, no rounding): the closest thing numpy-financial has to a schedule.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import numpy as np
import numpy_financial as npf

from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


def rate_per_second(work: Callable[[], object], seconds: float) -> float:
    work()  # warm up
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        work()
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    print(
        f"{'periods':>7} {'method':<18} {'lendcore build/s':>17} {'build+IRR/s':>12} "
        f"{'numpy-financial/s':>18} {'build ÷ npf':>11}"
    )
    for periods in (12, 360):
        terms = ScheduleTerms(
            principal=100_000_000,
            annual_rate=Decimal("0.049"),
            periods=periods,
            method=Method.EQUAL_INSTALLMENT,
            start=date(2026, 1, 15),
        )
        schedule = build_schedule(terms)
        per = np.arange(1, periods + 1)

        def numpy_financial(periods: int = periods, per: np.ndarray = per) -> object:
            rate = 0.049 / 12
            return (
                npf.pmt(rate, periods, 1_000_000.0),
                npf.ipmt(rate, per, periods, 1_000_000.0),
                npf.ppmt(rate, per, periods, 1_000_000.0),
            )

        build = rate_per_second(lambda t=terms: build_schedule(t), args.seconds)
        with_irr = rate_per_second(lambda t=terms: disclose(build_schedule(t)), args.seconds)
        floor = rate_per_second(numpy_financial, args.seconds)
        assert schedule.total_principal == terms.principal
        print(
            f"{periods:>7} {'equal_installment':<18} {build:>17,.0f} {with_irr:>12,.0f} "
            f"{floor:>18,.0f} {build / floor:>11.2f}"
        )


if __name__ == "__main__":
    main()
