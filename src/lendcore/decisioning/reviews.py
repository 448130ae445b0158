"""The manual-review queue and the operator's verdict, itself a record.

A decision that ends in MANUAL_REVIEW waits in the queue (oldest first) until an operator gives
one verdict, APPROVE or REJECT, with a note. The verdict is stored in ``decision_reviews`` beside
the decision, never over it: the record of what the machine decided stays as it was. A second
verdict on the same decision is refused (``VERDICT_ALREADY_RECORDED``); on PostgreSQL the
decision row is locked first, so two operators racing on one case get one verdict and one
conflict, not a constraint error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from lendcore.decisioning.decision_tables import decision_reviews, decisions
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.money import format_major


class Verdict(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; PostgreSQL aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _summary(row: Any) -> dict[str, Any]:
    response = row.result.get("response", {})
    return {
        "decision_id": str(row.decision_id),
        "application_id": str(row.application_id),
        "created_at": as_utc(row.created_at).isoformat(),
        "product": row.product,
        "amount": format_major(row.amount_fen),
        "term": row.term,
        "tier": row.tier,
        "score": response.get("score"),
        "pd": response.get("pd"),
        "reasons": [r for r in response.get("reasons", []) if r.get("source") == "policy"],
        "offer": response.get("offer"),
    }


def review_queue(connection: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """MANUAL_REVIEW decisions without a verdict, oldest first."""
    if limit < 1:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "limit must be at least 1")
    d, r = decisions.c, decision_reviews.c
    statement = (
        select(
            d.decision_id,
            d.application_id,
            d.created_at,
            d.product,
            d.amount_fen,
            d.term,
            d.tier,
            d.result,
        )
        .select_from(decisions.outerjoin(decision_reviews, r.decision_id == d.decision_id))
        .where(d.outcome == "MANUAL_REVIEW", r.decision_id.is_(None))
        .order_by(d.created_at, d.decision_id)
        .limit(limit)
    )
    return [_summary(row) for row in connection.execute(statement)]


def review_of(connection: Connection, decision_id: int) -> dict[str, Any] | None:
    row = connection.execute(
        select(decision_reviews).where(decision_reviews.c.decision_id == decision_id)
    ).first()
    return None if row is None else _review_document(row)


def _review_document(row: Any) -> dict[str, Any]:
    return {
        "decision_id": str(row.decision_id),
        "verdict": row.verdict,
        "operator": row.operator,
        "note": row.note,
        "reviewed_at": as_utc(row.reviewed_at).isoformat(),
    }


def _text(value: str, name: str, longest: int, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if (required and not text) or len(text) > longest:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"{name}: {'1' if required else '0'} to {longest} characters",
            {"field": name},
        )
    return text


def record_verdict(
    connection: Connection,
    decision_id: int,
    operator: str,
    verdict: str,
    note: str,
    at: datetime,
) -> dict[str, Any]:
    """Store the operator's verdict on a MANUAL_REVIEW decision (once). The caller commits."""
    try:
        decided = Verdict(str(verdict).strip().upper())
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"verdict must be APPROVE or REJECT, not {verdict!r}",
            {"field": "verdict"},
        ) from None
    operator = _text(operator, "operator", 64, required=True)
    note = _text(note, "note", 500, required=False)
    row = connection.execute(
        select(decisions.c.outcome)
        .where(decisions.c.decision_id == decision_id)
        .with_for_update()  # serialises two operators on one case (PostgreSQL)
    ).first()
    if row is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_DECISION,
            f"no decision {decision_id}",
            {"decision_id": str(decision_id)},
        )
    if row.outcome != "MANUAL_REVIEW":
        raise LendcoreError(
            ErrorCode.NOT_UNDER_REVIEW,
            f"decision {decision_id} is {row.outcome}, not a manual review",
            {"decision_id": str(decision_id), "outcome": row.outcome},
        )
    existing = review_of(connection, decision_id)
    if existing is not None:
        raise _already(decision_id, existing)
    values = {
        "decision_id": decision_id,
        "operator": operator,
        "verdict": str(decided),
        "note": note,
        "reviewed_at": as_utc(at),
    }
    try:
        with connection.begin_nested():  # keeps the transaction usable for the error response
            connection.execute(insert(decision_reviews).values(**values))
    except IntegrityError:  # a racing verdict won (SQLite has no row lock to wait on)
        raise _already(decision_id, None) from None
    return {
        "decision_id": str(decision_id),
        "verdict": str(decided),
        "operator": operator,
        "note": note,
        "reviewed_at": as_utc(at).isoformat(),
        "final_outcome": str(decided),
    }


def _already(decision_id: int, existing: dict[str, Any] | None) -> LendcoreError:
    return LendcoreError(
        ErrorCode.VERDICT_ALREADY_RECORDED,
        f"decision {decision_id} already has a verdict",
        {"decision_id": str(decision_id), "review": existing},
    )
