"""Seeded, varied, realistic application bodies for bench/decide.py.

The body shape and the identity builder are the decision integration tests' own
(tests/integration/test_decisions_support.py); the credit profiles are real rows of the German
credit data the models were developed on, so the score distribution is the development one.
Around it the generator varies what the rules read: age (a few under 18 and over 60), region (a
few restricted), employment and social insurance (the tier segment), income, product, amount and
term, bureau counts (a tail above 10 applications, 2 % with a court record), proxy flags, and IPs
drawn from a pool so some addresses repeat. Every person has their own ID number, phone, card and
device: ``offset`` keeps the people of two runs on one database apart.
"""

from __future__ import annotations

import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/

from tests.integration.test_decisions_support import another_person, application

from lendcore.decisioning.data import load_german_credit

REGIONS = ("110105", "310104", "440305", "330106", "510107", "420102", "610113", "710000")
EMPLOYMENT = (
    ("private_employee", 50),
    ("self_employed", 15),
    ("freelancer", 10),
    ("state_enterprise", 10),
    ("civil_servant", 5),
    ("public_institution", 5),
    ("other", 5),
)


def _age(rng: random.Random) -> int:
    if rng.random() < 0.02:
        return rng.choice((16, 17, 61, 63))  # the admission boundaries get some traffic
    return min(60, max(18, round(rng.gauss(33, 8))))


def _applications_90d(rng: random.Random) -> int:
    return min(20, int(rng.expovariate(1 / 2.5)))  # most 0-4, a tail above 10


def bodies(count: int, seed: int = 7, offset: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    profiles = load_german_credit().profiles()
    kinds, weights = zip(*EMPLOYMENT, strict=True)
    out: list[dict[str, Any]] = []
    for i in range(count):
        age = _age(rng)
        birth = date(2026 - age - 1, rng.randint(1, 12), rng.randint(1, 28))
        if rng.random() < 0.15:
            product, amount, term = (
                "small_short_term",
                rng.randrange(500, 2001, 100),
                7 * rng.randint(1, 4),
            )
        else:
            product = "consumer_instalment"
            amount = rng.randrange(3_000, 200_001, 1_000)
            term = rng.choice((3, 6, 12, 12, 12, 24, 36))
        body = application(
            product=product,
            amount=f"{amount}.00",
            term=term,
            credit_profile=dict(rng.choice(profiles)),
        )
        body = another_person(body, offset + i)
        applicant = body["applicant"]
        applicant["birth_date"] = birth.isoformat()
        applicant["region"] = (
            REGIONS[rng.randrange(len(REGIONS))] if rng.random() < 0.97 else "810000"
        )
        applicant["employment"] = rng.choices(kinds, weights)[0]
        applicant["social_insurance"] = rng.random() < 0.6
        applicant["monthly_income"] = f"{rng.randrange(3_000, 40_001, 500)}.00"
        body["bureau"] = {
            "applications_90d": _applications_90d(rng),
            "court_enforcements": 1 if rng.random() < 0.02 else 0,
        }
        body["device"]["ip"] = (
            f"36.{rng.randrange(100, 110)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        )
        body["device"]["is_proxy"] = rng.random() < 0.03
        out.append(body)
    return out
