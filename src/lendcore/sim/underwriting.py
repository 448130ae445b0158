"""Underwriting in the portfolio simulator: every loan starts as an application decided by the
real pipeline (:class:`lendcore.decisioning.service.DecisionService`).

For each borrower who wants a loan, the :class:`UnderwritingDesk` builds an application
(:mod:`lendcore.sim.applicants`), decides and records it in the day's unit of work (fraud index,
score, policies, offer under the cap, decision row), and then:

- APPROVE: the loan is opened on the offer (its product, amount, term, method and rate) and
  with the decision's id, so servicing opens or rebases the borrower's credit line from the
  offer; on-time repayments then step the line up (``decisioning.credit_lines``);
- MANUAL_REVIEW: a simulated reviewer records a verdict through the review service — approve
  when the model's default probability is under :data:`REVIEW_APPROVE_BELOW` and the policy gave
  an offer, reject otherwise;
- REJECT: no loan.

It counts outcomes, reasons, scores and review verdicts for the report. Reproducible: decision
ids are sequential, the clock is the simulated day (10:00 Beijing time), the identifier hasher is
the sandbox one.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from lendcore.decisioning.fraud import sha256_hasher
from lendcore.decisioning.policy import PolicyEngine, PolicyStore
from lendcore.decisioning.scoring import ModelRegistry
from lendcore.decisioning.service import DecisionService
from lendcore.kernel.clock import DEFAULT_TIMEZONE, FixedClock
from lendcore.kernel.ids import SequentialIds
from lendcore.kernel.money import format_major, parse_major
from lendcore.products.loader import LoadedProduct
from lendcore.schedule import Method
from lendcore.sim.applicants import CreditFiles, application_for
from lendcore.sim.portfolio import SyntheticBorrower
from lendcore.store.db import UnitOfWork

REVIEW_APPROVE_BELOW = 0.35
SCORE_BANDS = tuple(range(300, 800, 50))  # histogram edges for the report


@dataclass(frozen=True)
class Offered:
    """The loan an approved application becomes."""

    product: str
    principal: int
    term: int
    method: Method
    rate: Decimal
    decision_id: int


@dataclass
class UnderwritingStats:
    applications: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # APPROVE / MANUAL_REVIEW / REJECT
    reasons: Counter[str] = field(default_factory=Counter)  # policy reason codes
    reviews: Counter[str] = field(default_factory=Counter)  # reviewer verdicts
    funded: int = 0  # approvals and reviewed approvals that became loans
    scores: Counter[int] = field(default_factory=Counter)  # lower edge of each 50-point band
    by_tier: Counter[str] = field(default_factory=Counter)
    by_profile: dict[str, Counter[str]] = field(default_factory=dict)  # behaviour -> outcomes
    # credit_lines.step_up_summary at the end of the run (fen)
    credit_lines: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        decided = max(self.applications, 1)
        lines = self.credit_lines
        return {
            "applications": self.applications,
            "outcomes": dict(sorted(self.outcomes.items())),
            "approval_rate": round(self.outcomes["APPROVE"] / decided, 4),
            "funded": self.funded,
            "funded_rate": round(self.funded / decided, 4),
            "reasons": dict(self.reasons.most_common()),
            "reviews": dict(sorted(self.reviews.items())),
            "score_bands": {str(k): v for k, v in sorted(self.scores.items())},
            "by_tier": dict(sorted(self.by_tier.items())),
            "by_behaviour": {
                k: dict(sorted(v.items())) for k, v in sorted(self.by_profile.items())
            },
            "credit_lines": {
                "lines": lines.get("lines", 0),
                "stepped_up": lines.get("stepped_up", 0),
                "average_limit_before": format_major(lines.get("average_limit_before", 0)),
                "average_limit_after": format_major(lines.get("average_limit_after", 0)),
            },
        }


class UnderwritingDesk:
    def __init__(self, engine: Any, products: dict[str, LoadedProduct], seed: int):
        self.clock = FixedClock(datetime(2026, 1, 1, 10, tzinfo=ZoneInfo(DEFAULT_TIMEZONE)))
        self.service = DecisionService(
            PolicyEngine(PolicyStore()),
            products,
            ModelRegistry(),
            sha256_hasher(),  # SANDBOX: a fixed salt, not a secret
            ids=SequentialIds(1),
            clock=self.clock,
        )
        self.files = CreditFiles.load()
        self.stats = UnderwritingStats()
        self.seed = seed

    def decide(
        self,
        uow: UnitOfWork,
        borrower: SyntheticBorrower,
        rng: random.Random,
        *,
        product: str,
        amount: int,
        term: int,
        method: Method,
        day: date,
    ) -> Offered | None:
        """Decide the borrower's application; the loan to open, or None."""
        self.clock.current = datetime.combine(day, time(10), ZoneInfo(DEFAULT_TIMEZONE))
        body = application_for(
            borrower, self.files, rng, product=product, amount=amount, term=term, on=day
        )
        document = self.service.decide(uow, body, channel="sim")
        outcome = document["outcome"]
        stats = self.stats
        stats.applications += 1
        stats.outcomes[outcome] += 1
        stats.by_profile.setdefault(str(borrower.profile), Counter())[outcome] += 1
        for reason in document["reasons"]:
            if reason.get("source") == "policy":
                stats.reasons[reason["code"]] += 1
        if document.get("score") is not None:
            band = max(b for b in SCORE_BANDS if b <= max(document["score"], SCORE_BANDS[0]))
            stats.scores[band] += 1
        if document.get("tier"):
            stats.by_tier[document["tier"]] += 1
        offer = document.get("offer")
        if outcome == "MANUAL_REVIEW":
            pd = document.get("pd")
            verdict = (
                "APPROVE" if offer and pd is not None and pd < REVIEW_APPROVE_BELOW else "REJECT"
            )
            self.service.record_verdict(
                uow, int(document["decision_id"]), "sim-reviewer", verdict, "simulated review"
            )
            stats.reviews[verdict] += 1
            if verdict == "REJECT":
                return None
        elif outcome != "APPROVE":
            return None
        if not offer:
            return None
        stats.funded += 1
        return Offered(
            offer["product"],
            parse_major(offer["amount"]),
            int(offer["term"]),
            Method(offer["method"]),
            Decimal(offer["annual_rate"]),
            int(document["decision_id"]),
        )
