"""The decision's response document (what the API, the CLI and the record return) and the
replay comparison. Pure.

Reasons come in one list, policy reasons first (what decided: ``source: "policy"`` with the
outcome each one forces), then the credit model's reasons (``source: "model"``: the at most four
characteristics that cost the applicant the most points, with the points lost). Each carries
``message`` (English), ``message_zh`` and ``message_en``. Ids are strings: a 64-bit id does not
survive a JavaScript number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from lendcore.decisioning.decide import Decision, Reason
from lendcore.decisioning.scorecard import Reason as ModelReason
from lendcore.decisioning.scoring import ModelScore
from lendcore.kernel.money import format_major

# What a replay must reproduce (the trace's timings and the record's ids and clock are not).
REPLAYED_FIELDS = (
    "outcome",
    "reasons",
    "score",
    "pd",
    "segment",
    "score_band",
    "tier",
    "offer",
    "offer_refused",
    "policy_versions",
    "model_version",
    "arm",
)


def policy_version(versions: Mapping[str, str]) -> str:
    """One hash for the set of policy versions a decision used."""
    text = "\n".join(f"{key}={versions[key]}" for key in sorted(versions))
    return hashlib.sha256(text.encode()).hexdigest()


def _policy_reason(reason: Reason) -> dict[str, Any]:
    document: dict[str, Any] = {
        "code": reason.code,
        "message": reason.message_en,
        "message_zh": reason.message_zh,
        "message_en": reason.message_en,
        "outcome": str(reason.outcome),
        "source": "policy",
    }
    if reason.detail is not None:
        document["detail"] = reason.detail
    return document


def _model_reason(reason: ModelReason) -> dict[str, Any]:
    return {
        "code": reason.code,
        "message": reason.message_en,
        "message_zh": reason.message_zh,
        "message_en": reason.message_en,
        "outcome": None,
        "source": "model",
        "characteristic": reason.characteristic,
        "points_lost": reason.points_lost,
    }


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)  # 64-bit: a string survives JavaScript


def response_document(
    decision: Decision,
    acted: ModelScore,
    *,
    decision_id: int | None,
    application_id: int | None,
) -> dict[str, Any]:
    """The answer: policy reasons first (what decided), then the model's reasons (the at most four
    characteristics that cost the most points). ``decision_id`` is None for a decision that is not
    recorded (``lendcore decide`` without ``--store``)."""
    offer = None
    if decision.offer is not None:
        offer = {"limit": format_major(decision.offer.credit_limit), **decision.offer.to_dict()}
    refused = decision.refusal
    versions = dict(decision.policy.versions)
    return {
        "decision_id": _id(decision_id),
        "application_id": _id(application_id),
        "outcome": str(decision.outcome),
        "reasons": [_policy_reason(r) for r in decision.reasons]
        + [_model_reason(r) for r in acted.result.reasons],
        "score": acted.result.score,
        "pd": acted.result.pd,
        "segment": decision.policy.segment,
        "score_band": decision.policy.score_band,
        "tier": decision.policy.tier,
        "offer": offer,
        "offer_refused": None
        if refused is None
        else {"code": str(refused.code), "message": refused.message},
        "policy_version": policy_version(versions),
        "policy_versions": versions,
        "model_version": acted.version,
        "model_kind": acted.kind,
        "arm": acted.arm,
    }


# Offer fields added after records were first written: a record that predates one is compared
# without it (its offer was priced the same way; ``limit_source`` was then always "policy").
_LATER_OFFER_FIELDS = ("limit_source",)


def _as_recorded(original: Mapping[str, Any], replayed: Any) -> Any:
    offer = original.get("offer")
    if not isinstance(offer, Mapping) or not isinstance(replayed, Mapping):
        return replayed
    return {k: v for k, v in replayed.items() if k in offer or k not in _LATER_OFFER_FIELDS}


def compare(
    original: Mapping[str, Any], replayed: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The replayed fields of both documents and every field on which they differ."""
    before = {name: original.get(name) for name in REPLAYED_FIELDS}
    after = {name: replayed.get(name) for name in REPLAYED_FIELDS}
    after["offer"] = _as_recorded(original, after["offer"])
    differences = [
        {"field": name, "original": before[name], "replayed": after[name]}
        for name in REPLAYED_FIELDS
        if before[name] != after[name]
    ]
    return before, after, differences
