"""Loan facts collections owns: a recorded fraud-investigation authorisation and a performing
hardship plan (``collection_loan_flags``). Both are audited; the gate service reads them with the
loan (:func:`lendcore.collections.history.load_facts`).

Investigation authorisations also go to their register (``collection_investigations``: every
one, with expiry and revocation), which the API and CLI list and the independent checker reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.context import from_db, utc
from lendcore.collections.tables import collection_investigations, collection_loan_flags
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.servicing.tables import loans


def _borrower_of(connection: Connection, loan_id: int) -> int:
    borrower_id = connection.execute(
        select(loans.c.borrower_id).where(loans.c.loan_id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}")
    return int(borrower_id)


def _flags(connection: Connection, loan_id: int, at: datetime, **values: Any) -> int:
    borrower_id = _borrower_of(connection, loan_id)
    f = collection_loan_flags.c
    where = (f.borrower_id == borrower_id, f.loan_id == loan_id)
    if connection.execute(select(f.loan_id).where(*where)).first() is None:
        connection.execute(
            insert(collection_loan_flags).values(
                borrower_id=borrower_id, loan_id=loan_id, updated_at=utc(at), **values
            )
        )
    else:
        connection.execute(
            update(collection_loan_flags).where(*where).values(updated_at=utc(at), **values)
        )
    return int(borrower_id)


DEFAULT_INVESTIGATION_DAYS = 30  # an authorisation recorded without an expiry lasts this long
_MAX_INVESTIGATION = timedelta(days=366)


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"an investigation authorisation needs {field} / 调查授权须填写{field}",
        )
    if len(value.strip()) > limit:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"{field} is longer than {limit} characters"
        )
    return value.strip()


def authorise_investigation(
    connection: Connection,
    loan_id: int,
    reference: str,
    supervisor: str,
    at: datetime,
    *,
    reason: str = "fraud investigation",
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Record a fraud-investigation authorisation: INVESTIGATION calls must quote ``reference``
    until ``expires_at`` (default: 30 days) unless it is revoked first. It becomes the loan's
    authorisation in force (a previous one still in force is superseded: revoked); the register
    keeps every one. Audited."""
    reference = _text(reference, "reference", 64)
    supervisor = _text(supervisor, "authorised_by", 40)
    reason = _text(reason, "reason", 500)
    if at.utcoffset() is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "the time must carry an offset")
    expires = expires_at or at + timedelta(days=DEFAULT_INVESTIGATION_DAYS)
    if expires.utcoffset() is None or not at < expires <= at + _MAX_INVESTIGATION:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "expires_at must carry an offset and lie after now, at most 366 days ahead "
            "/ 有效期须晚于当前时间且不超过366天",
        )
    borrower_id = _borrower_of(connection, loan_id)
    i = collection_investigations.c
    key = (i.borrower_id == borrower_id, i.loan_id == loan_id)
    if connection.execute(select(i.reference).where(*key, i.reference == reference)).first():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"loan {loan_id} already has an authorisation {reference!r} / 授权编号已存在",
        )
    superseded = [
        str(r)
        for r in connection.execute(
            select(i.reference).where(*key, i.revoked_at.is_(None), i.expires_at > utc(at))
        ).scalars()
    ]
    if superseded:
        connection.execute(
            update(collection_investigations)
            .where(*key, i.reference.in_(superseded))
            .values(revoked_at=utc(at), revoked_by=supervisor, revoke_reason="superseded")
        )
    connection.execute(
        insert(collection_investigations).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            reference=reference,
            authorised_by=supervisor,
            reason=reason,
            authorised_at=utc(at),
            expires_at=utc(expires),
        )
    )
    _flags(
        connection,
        loan_id,
        at,
        investigation_ref=reference,
        investigation_authorised_by=supervisor,
        investigation_expires_at=utc(expires),
    )
    document = {
        "loan_id": loan_id,
        "borrower_id": borrower_id,
        "reference": reference,
        "reason": reason,
        "expires_at": expires.isoformat(),
        "superseded": superseded,
    }
    append(connection, [AuditEntry(at, "investigation.authorised", supervisor, document)])
    return _document(_register_row(connection, borrower_id, loan_id, reference), at)


def revoke_investigation(
    connection: Connection,
    loan_id: int,
    reference: str,
    actor: str,
    at: datetime,
    *,
    reason: str = "revoked",
) -> dict[str, Any]:
    """Revoke an authorisation: from ``at`` on the gate denies INVESTIGATION_NOT_AUTHORISED.
    Audited. Revoking one already revoked or expired is an error that changes nothing."""
    actor = _text(actor, "revoked_by", 40)
    reason = _text(reason, "reason", 500)
    borrower_id = _borrower_of(connection, loan_id)
    row = _register_row(connection, borrower_id, loan_id, reference)
    if row is None:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"loan {loan_id} has no authorisation {reference!r} / 无此调查授权",
        )
    if row.revoked_at is not None or from_db(row.expires_at) <= at:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"authorisation {reference!r} is no longer in force / 该授权已失效",
        )
    i = collection_investigations.c
    connection.execute(
        update(collection_investigations)
        .where(i.borrower_id == borrower_id, i.loan_id == loan_id, i.reference == reference)
        .values(revoked_at=utc(at), revoked_by=actor, revoke_reason=reason)
    )
    f = collection_loan_flags.c
    connection.execute(
        update(collection_loan_flags)
        .where(f.borrower_id == borrower_id, f.loan_id == loan_id, f.investigation_ref == reference)
        .values(
            investigation_ref=None,
            investigation_authorised_by=None,
            investigation_expires_at=None,
            updated_at=utc(at),
        )
    )
    document = {"loan_id": loan_id, "borrower_id": borrower_id, "reference": reference}
    append(
        connection,
        [AuditEntry(at, "investigation.revoked", actor, {**document, "reason": reason})],
    )
    return _document(_register_row(connection, borrower_id, loan_id, reference), at)


def list_investigations(
    connection: Connection, at: datetime, loan_id: int | None = None
) -> list[dict[str, Any]]:
    """The register (one loan's, or every loan's), newest first, with each one's status at
    ``at``: ACTIVE, EXPIRED or REVOKED."""
    i = collection_investigations.c
    query = select(collection_investigations).order_by(i.authorised_at.desc(), i.reference)
    if loan_id is not None:
        query = query.where(i.loan_id == loan_id)
    return [_document(row, at) for row in connection.execute(query)]


def _register_row(connection: Connection, borrower_id: int, loan_id: int, reference: str) -> Any:
    i = collection_investigations.c
    return connection.execute(
        select(collection_investigations).where(
            i.borrower_id == borrower_id, i.loan_id == loan_id, i.reference == reference
        )
    ).first()


def _document(row: Any, at: datetime) -> dict[str, Any]:
    expires = from_db(row.expires_at)
    revoked = None if row.revoked_at is None else from_db(row.revoked_at)
    if revoked is not None and revoked <= at:
        status = "REVOKED"
    elif expires <= at:
        status = "EXPIRED"
    else:
        status = "ACTIVE"
    return {
        "loan_id": int(row.loan_id),
        "borrower_id": int(row.borrower_id),
        "reference": row.reference,
        "authorised_by": row.authorised_by,
        "reason": row.reason,
        "authorised_at": from_db(row.authorised_at).isoformat(),
        "expires_at": expires.isoformat(),
        "revoked_at": None if revoked is None else revoked.isoformat(),
        "revoked_by": row.revoked_by,
        "revoke_reason": row.revoke_reason,
        "status": status,
    }


def set_hardship_plan(
    connection: Connection, loan_id: int, active: bool, actor: str, at: datetime
) -> None:
    """Mark a hardship plan performing (collection pauses) or ended."""
    borrower_id = _flags(connection, loan_id, at, hardship_plan_active=active)
    append(
        connection,
        [
            AuditEntry(
                at,
                "hardship.flag",
                actor,
                {"loan_id": loan_id, "borrower_id": borrower_id, "active": active},
            )
        ],
    )
