"""Blacklist management: entries in ``fraud_identifier_blacklist``, added and removed by operators.

A value is never stored: an entry is the blind index of the identifier under the same hasher the
decisions use (:mod:`lendcore.decisioning.fraud`), so a listed phone matches an application's
phone however it is written (``+86 138 1234 1234`` = ``13812341234``), and the list itself reveals
no phone. The list shows the kind, the hash, the reason, the source and when it was added; an
entry is removed by its value or by its hash (what the list shows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from lendcore.decisioning.fraud import HashIdentifier
from lendcore.decisioning.fraud_tables import identifier_blacklist
from lendcore.decisioning.reviews import as_utc
from lendcore.decisioning.rules import IDENTIFIER_KINDS
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError

_HEX = frozenset("0123456789abcdef")


def _kind(kind: str) -> str:
    if kind not in IDENTIFIER_KINDS:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"kind must be one of {', '.join(IDENTIFIER_KINDS)}, not {kind!r}",
            {"field": "kind"},
        )
    return kind


def identifier_hash(hasher: HashIdentifier, kind: str, value: str) -> str:
    """The blind index of ``value`` as a ``kind`` (refused when there is nothing to index)."""
    _kind(kind)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "value is empty", {"field": "value"})
    try:
        return hasher(kind, value)
    except ValueError as exc:  # e.g. an IP that is not an address
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"value: not a valid {kind} ({exc})", {"field": "value"}
        ) from None


def _checked_hash(digest: str) -> str:
    digest = digest.strip().lower()
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "identifier_hash is 64 hex digits (as the list shows it)",
            {"field": "identifier_hash"},
        )
    return digest


def _text(value: str, name: str, longest: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > longest:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"{name}: 1 to {longest} characters", {"field": name}
        )
    return text


def _document(row: Any) -> dict[str, Any]:
    return {
        "kind": row.identifier_kind,
        "identifier_hash": row.identifier_hash,
        "reason": row.reason,
        "source": row.source,
        "created_at": as_utc(row.created_at).isoformat(),
    }


def _find(connection: Connection, kind: str, digest: str) -> Any:
    t = identifier_blacklist.c
    return connection.execute(
        select(identifier_blacklist).where(t.identifier_kind == kind, t.identifier_hash == digest)
    ).first()


def add_entry(
    connection: Connection,
    hasher: HashIdentifier,
    kind: str,
    value: str,
    *,
    reason: str,
    source: str,
    at: datetime,
) -> dict[str, Any]:
    """List an identifier. Listing one twice is a conflict, not a silent success: the first
    entry's reason and source stay what they were."""
    digest = identifier_hash(hasher, kind, value)
    reason = _text(reason, "reason", 200)
    source = _text(source, "source", 40)
    existing = _find(connection, kind, digest)
    if existing is not None:
        raise _exists(existing)
    try:
        with connection.begin_nested():  # keeps the transaction usable for the error response
            connection.execute(
                insert(identifier_blacklist).values(
                    identifier_kind=kind,
                    identifier_hash=digest,
                    reason=reason,
                    source=source,
                    created_at=as_utc(at),
                )
            )
    except IntegrityError:  # added concurrently
        raise LendcoreError(
            ErrorCode.BLACKLIST_ENTRY_EXISTS, f"this {kind} is already on the blacklist"
        ) from None
    return _document(_find(connection, kind, digest))


def _exists(row: Any) -> LendcoreError:
    return LendcoreError(
        ErrorCode.BLACKLIST_ENTRY_EXISTS,
        f"this {row.identifier_kind} is already on the blacklist",
        {"entry": _document(row)},
    )


def remove_entry(
    connection: Connection,
    kind: str,
    *,
    value: str | None = None,
    digest: str | None = None,
    hasher: HashIdentifier | None = None,
) -> dict[str, Any]:
    """Remove an entry named by its value (hashed with ``hasher``) or its hash (exactly one);
    returns what was removed."""
    if (value is None) == (digest is None):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "name the entry by value or by identifier_hash (one)"
        )
    _kind(kind)
    if value is not None:
        if hasher is None:
            raise ValueError("removing by value needs the hasher")
        digest = identifier_hash(hasher, kind, value)
    else:
        digest = _checked_hash(digest or "")
    existing = _find(connection, kind, digest)
    if existing is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_BLACKLIST_ENTRY,
            f"no such {kind} on the blacklist",
            {"kind": kind, "identifier_hash": digest},
        )
    t = identifier_blacklist.c
    connection.execute(
        delete(identifier_blacklist).where(t.identifier_kind == kind, t.identifier_hash == digest)
    )
    return _document(existing)


def list_entries(
    connection: Connection, *, kind: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Entries newest first, with the total count."""
    if limit < 1 or offset < 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "limit >= 1 and offset >= 0")
    t = identifier_blacklist.c
    where = [] if kind is None else [t.identifier_kind == _kind(kind)]
    total = connection.execute(
        select(func.count()).select_from(identifier_blacklist).where(*where)
    ).scalar_one()
    rows = connection.execute(
        select(identifier_blacklist)
        .where(*where)
        .order_by(t.created_at.desc(), t.identifier_kind, t.identifier_hash)
        .limit(limit)
        .offset(offset)
    )
    return {"total": int(total), "items": [_document(row) for row in rows]}
