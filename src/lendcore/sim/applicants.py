"""Synthetic loan applications for the simulator's borrowers — pure.

Every borrower applies before each loan, through the real decision pipeline
(:class:`lendcore.decisioning.service.DecisionService`): identifiers into the fraud index, the
scorecard (or the challenger arm), the admission, tier and limit policies, a priced offer. Only
an approval (or a manual review a simulated reviewer approves) becomes a loan.

The credit profile is a row of the German credit data, so the scorecard meets the kind of file it
was built for; which row depends on how the borrower will behave, so the score means something
in the simulation too: a future defaulter usually brings a file of a customer who defaulted
(``BAD_FILE_SHARE``), a punctual payer usually a good one. Demographics, the bureau and the
device are drawn per borrower; a small share of applicants carry what the policies are there to
catch (too many recent applications, a court record, a proxy, an age outside 18–60).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from lendcore.kernel.money import format_major
from lendcore.sim.behaviour import Profile
from lendcore.sim.portfolio import SyntheticBorrower

# Chance that a borrower of each behaviour brings a file from the data set's bad customers.
BAD_FILE_SHARE = {
    Profile.ON_TIME: 0.15,
    Profile.LATE: 0.45,
    Profile.CURED: 0.4,
    Profile.DEFAULTER: 0.75,
}
OUT_OF_AGE_SHARE = 0.03  # applicants outside 18–60, whom admission must refuse
# GB/T 2260 codes of the simulator's cities (the district of the city centre).
REGIONS = {
    "上海": "310101",
    "北京": "110105",
    "深圳": "440304",
    "广州": "440106",
    "成都": "510104",
    "杭州": "330106",
    "武汉": "420102",
    "西安": "610113",
    "重庆": "500103",
    "郑州": "410105",
    "长沙": "430102",
    "乌鲁木齐": "650102",
    "喀什": "653101",
}
EMPLOYMENT = (
    ("private_employee", 55),
    ("self_employed", 15),
    ("freelancer", 10),
    ("state_enterprise", 8),
    ("public_institution", 5),
    ("civil_servant", 3),
    ("other", 4),
)


@dataclass(frozen=True)
class CreditFiles:
    """Credit profiles of good and bad customers (rows of the development data)."""

    good: tuple[dict[str, Any], ...]
    bad: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls) -> CreditFiles:
        from lendcore.decisioning.data import load_german_credit

        data = load_german_credit()
        profiles = data.profiles()
        return cls(
            tuple(p for p, b in zip(profiles, data.bad, strict=True) if not b),
            tuple(p for p, b in zip(profiles, data.bad, strict=True) if b),
        )


def application_for(
    borrower: SyntheticBorrower,
    files: CreditFiles,
    rng: random.Random,
    *,
    product: str,
    amount: int,
    term: int,
    on: date,
) -> dict[str, Any]:
    """The body of ``POST /api/decisions`` for this borrower asking for ``amount`` fen."""
    bad = rng.random() < BAD_FILE_SHARE[borrower.profile]
    profile = dict(rng.choice(files.bad if bad else files.good))
    n = borrower.borrower_id
    # The person does not change between applications: identity from the borrower's own stream.
    person = random.Random(f"lendcore-sim-person:{n}")
    age = (
        person.choice((17, 61, 63))
        if person.random() < OUT_OF_AGE_SHARE
        else person.randrange(21, 58)
    )
    born = date(on.year - age, 1, 1) + timedelta(days=person.randrange(365))
    if born > date(on.year - age, on.month, on.day):  # birthday still to come this year
        born = date(
            born.year - 1, born.month, born.day if (born.month, born.day) != (2, 29) else 28
        )
    profile["age_years"] = age
    employment = person.choices([e for e, _ in EMPLOYMENT], weights=[w for _, w in EMPLOYMENT])[0]
    insured = employment != "freelancer" and person.random() < 0.8
    income = person.randrange(3_000, 30_000, 100) * 100
    risky = rng.random()
    region = REGIONS.get(borrower.city, "110105")
    return {
        "product": product,
        "amount": format_major(amount),
        "term": term,
        "applicant": {
            "id_number": f"{region}{born:%Y%m%d}{n % 10_000:04d}",
            "phone": f"1{3 + n % 7}{n:09d}"[:11],
            "birth_date": born.isoformat(),
            "region": region,
            "employment": employment,
            "social_insurance": insured,
            "monthly_income": format_major(income),
            "bank_card": borrower.payee_account,
        },
        "bureau": {
            "applications_90d": rng.randrange(12, 20) if risky < 0.03 else rng.randrange(0, 6),
            "court_enforcements": 1 if 0.03 <= risky < 0.045 else 0,
        },
        "device": {
            "device_id": f"sim-device-{n:08d}",
            "ip": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
            "is_proxy": 0.045 <= risky < 0.06,
        },
        "credit_profile": profile,
    }
