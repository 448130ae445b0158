"""The decision flow: tier, admission (with every reason and the outcome's precedence
REJECT > MANUAL_REVIEW > APPROVE), limits, then a priced offer that passes the rate cap.

Policies are evaluated through :class:`lendcore.decisioning.policy.PolicyEngine` (the zen engine
with versioned, hot-reloaded JDM files); this module only orders them and reads their results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from lendcore.decisioning.policy import PolicyEngine, compact_trace
from lendcore.decisioning.pricing import (
    CreditLineFacts,
    LimitTerms,
    OfferRefused,
    PricedOffer,
    make_offer,
)
from lendcore.decisioning.rules import limits_context, tier_context
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major
from lendcore.products.caps import RateCap
from lendcore.products.loader import LoadedProduct


class Requested(Protocol):
    """What the offer is priced from: the product, amount (fen) and term applied for. An
    :class:`~lendcore.decisioning.rules.Application` is one; a replay passes the recorded
    values."""

    @property
    def product(self) -> str: ...

    @property
    def amount(self) -> int: ...

    @property
    def term(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RequestedTerms:
    product: str
    amount: int
    term: int


class Outcome(StrEnum):
    APPROVE = "APPROVE"
    MANUAL_REVIEW = "MANUAL_REVIEW"
    REJECT = "REJECT"


PRECEDENCE = (Outcome.REJECT, Outcome.MANUAL_REVIEW, Outcome.APPROVE)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    outcome: Outcome
    message_zh: str
    message_en: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "code": self.code,
            "outcome": str(self.outcome),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.detail is not None:
            document["detail"] = self.detail
        return document


# Reasons raised by code, not by a policy: the cap is law, not a tunable rule.
NO_COMPLIANT_OFFER = Reason(
    "NO_COMPLIANT_OFFER",
    Outcome.MANUAL_REVIEW,
    "在利率上限内无法给出报价，需人工审核",
    "No offer fits under the rate cap; needs manual review",
)


@dataclass(frozen=True)
class PolicyDecision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    segment: str
    score_band: str
    tier: str
    limit: dict[str, Any] | None  # the limits policy's row (None when rejected)
    versions: dict[str, str]
    trace: dict[str, list[dict[str, Any]]]


def _string(result: Mapping[str, Any], name: str, policy: str) -> str:
    value = result.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(
            ErrorCode.INVALID_POLICY, f"{policy}: the result has no {name!r}", {"policy": policy}
        )
    return value


def _reasons(result: Mapping[str, Any]) -> tuple[Outcome, tuple[Reason, ...]]:
    outcome_text = _string(result, "outcome", "admission")
    hits = result.get("reasons")
    if outcome_text not in Outcome.__members__ or not isinstance(hits, list):
        raise ValidationError(ErrorCode.INVALID_POLICY, "admission: bad outcome or reasons")
    reasons: list[Reason] = []
    for hit in hits:
        if not isinstance(hit, dict) or hit.get("outcome") not in Outcome.__members__:
            raise ValidationError(ErrorCode.INVALID_POLICY, f"admission: bad reason {hit!r}")
        detail = hit.get("detail")
        reasons.append(
            Reason(
                _string(hit, "code", "admission"),
                Outcome(hit["outcome"]),
                _string(hit, "message_zh", "admission"),
                _string(hit, "message_en", "admission"),
                None if detail is None else str(detail),
            )
        )
    outcome = Outcome(outcome_text)
    # A safety net under the policy's own precedence expression: an edit that breaks it must
    # not let a REJECT reason through as an approval.
    if outcome is not strongest(reasons):
        raise ValidationError(
            ErrorCode.INVALID_POLICY,
            f"admission: outcome {outcome} contradicts its reasons (expected {strongest(reasons)})",
        )
    return outcome, tuple(reasons)


def strongest(reasons: Any) -> Outcome:
    """REJECT > MANUAL_REVIEW > APPROVE; no reason at all is an approval."""
    outcomes = {reason.outcome for reason in reasons}
    return next((o for o in PRECEDENCE if o in outcomes), Outcome.APPROVE)


def evaluate_policies(
    engine: PolicyEngine,
    context: Mapping[str, Any],
    *,
    versions: Mapping[str, str] | None = None,
    trace: bool = True,
) -> PolicyDecision:
    """tier (segment, score band, tier) -> admission (reasons, outcome) -> limits (unless
    rejected). ``versions`` pins policies to recorded hashes for replay."""
    pinned = versions or {}
    traces: dict[str, list[dict[str, Any]]] = {}
    used: dict[str, str] = {}

    def run(key: str, ctx: Mapping[str, Any]) -> dict[str, Any]:
        evaluated = engine.evaluate(key, ctx, version=pinned.get(key), trace=trace)
        used[key] = evaluated.version
        traces[key] = compact_trace(evaluated.trace)
        return evaluated.result

    tiering = run("tier", tier_context(context))
    segment = _string(tiering, "segment", "tier")
    band = _string(tiering, "score_band", "tier")
    tier = _string(tiering, "tier", "tier")
    outcome, reasons = _reasons(run("admission", {**context, "score_band": band}))
    limit = None
    if outcome is not Outcome.REJECT:
        limit = run("limits", limits_context(context, tier, band))
    return PolicyDecision(outcome, reasons, segment, band, tier, limit, used, traces)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    policy: PolicyDecision
    offer: PricedOffer | None
    refusal: OfferRefused | None
    # The product version the limits row was priced with (code -> sha256), refused or not:
    # what a replay must price with again. Empty when rejected (nothing was priced).
    priced_with: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "reasons": [reason.to_dict() for reason in self.reasons],
            "segment": self.policy.segment,
            "score_band": self.policy.score_band,
            "tier": self.policy.tier,
            "offer": None if self.offer is None else self.offer.to_dict(),
            "offer_refused": None
            if self.refusal is None
            else {"code": str(self.refusal.code), "message": self.refusal.message},
            "policy_versions": dict(self.policy.versions),
            "trace": self.policy.trace,
        }


def _line_trace(
    line: CreditLineFacts, terms: LimitTerms | None, offer: PricedOffer | None, outcome: Outcome
) -> list[dict[str, Any]]:
    """The credit line's step in the trace: what the line said and whether it set the limit."""
    values: dict[str, Any] = {
        "line_borrower_id": str(line.borrower_id),
        "line_limit": format_major(line.limit),
        "line_version": line.version,
        "policy_limit": None if terms is None else format_major(terms.initial_limit),
        "offered_limit": None if offer is None else format_major(offer.credit_limit),
        "limit_source": None if offer is None else offer.limit_source,
        "applied": offer is not None and offer.limit_source == "credit_line",
        "outcome": str(outcome),
    }
    return [{"node": "授信额度 credit line", "performance": None, "values": values}]


def decide(
    engine: PolicyEngine,
    application: Requested,
    context: Mapping[str, Any],
    products: Mapping[str, LoadedProduct],
    *,
    start: date,
    cap: RateCap | None = None,
    versions: Mapping[str, str] | None = None,
    trace: bool = True,
) -> Decision:
    """The policies, then the offer. An approval with no offer under the cap becomes a manual
    review (:data:`NO_COMPLIANT_OFFER`); a manual review carries the offer the reviewer would
    grant.

    The applicant's credit line (``context["credit_line"]``, read at decision time) raises an
    **approval's** limit to the line's (within the tier and product maxima, ``make_offer``); it
    never touches a rejection or a manual review, and never turns an approval into a review: if
    the larger offer finds no rate under the cap, the policy's own limit is priced instead."""
    policy = evaluate_policies(engine, context, versions=versions, trace=trace)
    line = CreditLineFacts.from_context(context.get("credit_line"))
    if policy.limit is None:
        if line is not None:
            policy = replace(
                policy,
                trace={
                    **policy.trace,
                    "credit_line": _line_trace(line, None, None, policy.outcome),
                },
            )
        return Decision(policy.outcome, policy.reasons, policy, None, None)
    terms = LimitTerms.from_policy(policy.limit)
    loaded = products.get(terms.product)
    if loaded is None:
        raise ValidationError(
            ErrorCode.INVALID_POLICY,
            f"limits: unknown product {terms.product!r}",
            {"policy": "limits"},
        )

    def price(line_limit: int | None) -> PricedOffer | OfferRefused:
        return make_offer(
            terms,
            loaded.product,
            product_version=loaded.version_hash,
            requested_product=application.product,
            requested_amount=application.amount,
            requested_term=application.term,
            start=start,
            cap=cap,
            line_limit=line_limit,
        )

    line_limit = line.limit if line is not None and policy.outcome is Outcome.APPROVE else None
    priced = price(line_limit)
    if line_limit is not None and isinstance(priced, OfferRefused):
        priced = price(None)
    if line is not None:
        offered = None if isinstance(priced, OfferRefused) else priced
        step = _line_trace(line, terms, offered, policy.outcome)
        policy = replace(policy, trace={**policy.trace, "credit_line": step})
    priced_with = {loaded.product.code: loaded.version_hash}
    if isinstance(priced, OfferRefused):
        reasons = (*policy.reasons, NO_COMPLIANT_OFFER)
        return Decision(strongest(reasons), reasons, policy, None, priced, priced_with)
    return Decision(policy.outcome, policy.reasons, policy, priced, None, priced_with)
