"""Synthetic borrowers and loan terms — pure and seeded.

Everything here is drawn from a :class:`random.Random` the caller owns (one per borrower, seeded
from the run's seed and the borrower id), so a run is reproducible whatever order the simulator
visits borrowers in. Amounts are integer fen; rates are exact decimals on a product's own grid.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from lendcore.products.model import Product
from lendcore.schedule.model import Method, PeriodUnit
from lendcore.sim.behaviour import PROFILE_WEIGHTS, Profile, draw_profile

# (city, IANA time zone, weight): most borrowers live on Beijing time; Xinjiang keeps its own
# clock in daily life, which is what collections' contact hours must respect.
CITIES: tuple[tuple[str, str, int], ...] = (
    ("上海", "Asia/Shanghai", 14),
    ("北京", "Asia/Shanghai", 12),
    ("深圳", "Asia/Shanghai", 11),
    ("广州", "Asia/Shanghai", 10),
    ("成都", "Asia/Shanghai", 9),
    ("杭州", "Asia/Shanghai", 8),
    ("武汉", "Asia/Shanghai", 8),
    ("西安", "Asia/Shanghai", 7),
    ("重庆", "Asia/Shanghai", 7),
    ("郑州", "Asia/Shanghai", 6),
    ("长沙", "Asia/Shanghai", 5),
    ("乌鲁木齐", "Asia/Urumqi", 2),
    ("喀什", "Asia/Urumqi", 1),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
COMMON_TERMS_MONTHS = (3, 6, 9, 12, 18, 24, 36)
RATE_STEP = Decimal("0.006")  # offered rates sit on a 0.6% grid inside the product range


@dataclass(frozen=True)
class SyntheticBorrower:
    borrower_id: int
    display_name: str  # masked: only the surname is shown (张*)
    city: str
    timezone: str
    profile: Profile
    payee_account: str  # a synthetic bank card number for the sandbox channel


@dataclass(frozen=True)
class LoanTerms:
    product_code: str
    principal: int
    term: int
    method: Method
    rate: Decimal


def draw_borrower(
    borrower_id: int,
    rng: random.Random,
    profile_weights: tuple[tuple[Profile, int], ...] = PROFILE_WEIGHTS,
) -> SyntheticBorrower:
    city, timezone, _ = rng.choices(CITIES, weights=[c[2] for c in CITIES])[0]
    surname = rng.choice(SURNAMES)
    card = "6222" + "".join(str(rng.randrange(10)) for _ in range(12))
    return SyntheticBorrower(
        borrower_id=borrower_id,
        display_name=f"{surname}*",
        city=city,
        timezone=timezone,
        profile=draw_profile(rng, profile_weights),
        payee_account=card,
    )


def draw_product(
    products: dict[str, Product], weights: dict[str, float], rng: random.Random
) -> str:
    codes = sorted(products)
    return rng.choices(codes, weights=[weights.get(c, 1.0) for c in codes])[0]


def draw_terms(product: Product, rng: random.Random) -> LoanTerms:
    """Amount log-uniform over the range in whole 100-yuan steps (small loans are common, large
    ones rare), a common term, a method the product offers, a rate on the grid."""
    low, high = product.amount.min, product.amount.max
    step = 10_000 if high - low >= 10_000 else 100
    raw = math.exp(rng.uniform(math.log(low), math.log(high)))
    principal = min(high, max(low, round(raw / step) * step))
    if product.term.unit is PeriodUnit.MONTH:
        terms = [t for t in COMMON_TERMS_MONTHS if product.term.min <= t <= product.term.max]
        term = rng.choice(terms) if terms else rng.randint(product.term.min, product.term.max)
    else:
        term = rng.randint(product.term.min, product.term.max)
    if len(product.methods) == 1:
        method = product.methods[0]
    else:  # the first listed method is the product's main one
        rest = product.methods[1:]
        method = product.methods[0] if rng.random() < 0.75 else rng.choice(rest)
    steps = int((product.rate.max - product.rate.min) / RATE_STEP)
    rate = product.rate.min + RATE_STEP * rng.randint(0, steps)
    return LoanTerms(product.code, principal, term, method, rate)
