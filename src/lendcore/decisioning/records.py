"""What one decision is made of, and its stored record.

:class:`Facts` are what the outside world said at decision time (fraud counts, blacklist, IP
verdict, credit line); :class:`Gathered` is those facts with the applicant's identifiers as read
at one moment; :class:`Evaluation` is the scored and decided application; :class:`Prepared` is an
evaluation made on a read snapshot, before the write transaction (see
:meth:`~lendcore.decisioning.service.DecisionService.prepare`). :func:`decision_row` is the
``decisions`` row a replay needs; :func:`get_decision` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from lendcore.decisioning import reviews
from lendcore.decisioning.decide import Decision
from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.fraud import Identifier
from lendcore.decisioning.inputs import mask_application
from lendcore.decisioning.pricing import CreditLineFacts
from lendcore.decisioning.rules import Application
from lendcore.decisioning.scoring import ModelRegistry, Scoring, with_shadow_reasons
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.store.db import ReadMark


@dataclass(frozen=True)
class Facts:
    """What the outside world said at decision time (stored in the context, never re-read)."""

    identifier_counts: Mapping[str, Mapping[str, Any]] | None = None
    blacklist_identifier: str | None = None
    ip_risk: str | None = None
    fraud_checked: bool = False
    credit_line: CreditLineFacts | None = None  # the applicant's line, found by applicant key


@dataclass(frozen=True)
class Gathered:
    """One application's identifiers and the facts read about them at one moment."""

    applicant_key: str
    identifiers: Sequence[Identifier]
    facts: Facts
    ip_source: str  # which IP reputation answered (the list file, the sandbox)


@dataclass(frozen=True)
class Evaluation:
    application: Application
    application_id: int
    decision_date: date
    context: dict[str, Any]
    scoring: Scoring
    decision: Decision


@dataclass(frozen=True)
class Prepared:
    """An application evaluated on a read snapshot at ``at``, before its write transaction. It is
    recorded as it is only if the facts read again inside that transaction equal ``gathered``'s;
    otherwise the application is evaluated again on the fresh facts. ``mark``: where the snapshot
    stood (SQLite): a transaction on the same connection that finds nothing committed since need
    not read the facts again."""

    application: Application
    application_id: int
    at: datetime
    gathered: Gathered
    evaluation: Evaluation
    given_id: bool = False  # the caller's id (a queued application: it may be decided already)
    mark: ReadMark | None = None


def decision_row(
    evaluation: Evaluation,
    response: dict[str, Any],
    gathered: Gathered,
    channel: str,
    at: datetime,
) -> dict[str, Any]:
    """The ``decisions`` row: the masked request, the rule context, the versions, the trace, the
    shadow scores and the response."""
    application, scoring = evaluation.application, evaluation.scoring
    return {
        "decision_id": int(response["decision_id"]),
        "application_id": evaluation.application_id,
        "applicant_key": gathered.applicant_key,
        "channel": channel,
        "created_at": at.astimezone(UTC),
        "decision_date": evaluation.decision_date,
        "product": application.product,
        "amount_fen": application.amount,
        "term": application.term,
        "outcome": response["outcome"],
        "tier": response["tier"],
        "score": float(response["score"]),
        "pd": float(response["pd"]),
        "arm": response["arm"],
        "model_version": response["model_version"],
        "policy_versions": response["policy_versions"],
        "inputs": mask_application(application.model_dump(mode="json", exclude_none=True)),
        "context": evaluation.context,
        "result": {
            "response": response,
            "trace": evaluation.decision.policy.trace,
            "model": scoring.acted.to_dict(),
            "shadow": [s.to_dict() for s in scoring.shadow],
            "experiment": None if scoring.assignment is None else scoring.assignment.to_dict(),
            "ip_reputation_source": gathered.ip_source,
            "product_versions": dict(evaluation.decision.priced_with),
        },
    }


def load_row(connection: Connection, decision_id: int) -> Any:
    row = connection.execute(
        select(decisions).where(decisions.c.decision_id == decision_id)
    ).first()
    if row is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_DECISION,
            f"no decision {decision_id}",
            {"decision_id": str(decision_id)},
        )
    return row


def get_decision(
    connection: Connection, decision_id: int, models: ModelRegistry | None = None
) -> dict[str, Any]:
    """The recorded decision: the response, the trace, the masked request, the context, the
    shadow scores, the experiment draw and the review verdict (if any). A shadow arm's reasons
    are recorded as None (not computed on the decision's path); with ``models`` they are
    computed here from the recorded model version and credit profile."""
    row = load_row(connection, decision_id)
    result = row.result
    shadow = result["shadow"]
    if models is not None and shadow:
        shadow = with_shadow_reasons(shadow, row.inputs.get("credit_profile") or {}, models)
    return {
        **result["response"],
        "channel": row.channel,
        "created_at": reviews.as_utc(row.created_at).isoformat(),
        "decision_date": row.decision_date.isoformat(),
        "trace": result["trace"],
        "model": result["model"],
        "shadow": shadow,
        "experiment": result["experiment"],
        "inputs": row.inputs,
        "context": row.context,
        "review": reviews.review_of(connection, decision_id),
    }
