"""A hash chain for the tamper-evident audit log: pure functions, no storage.

Each record's hash covers its content and its predecessor's hash::

    hash = sha256(canonical_json({seq, at, kind, actor, payload, prev_hash}))

canonical JSON being sorted keys, no whitespace, ``ensure_ascii=False``, UTF-8. Changing, adding,
removing or moving any record breaks the chain from that point on, and :func:`verify` names the
first place and the kind of break. Someone able to rewrite the *whole* tail consistently is only
caught by an anchor: a :func:`head` exported outside the database and passed back to
:func:`verify` (see docs/concepts/privacy.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from lendcore.kernel.errors import ErrorCode, ValidationError

GENESIS_HASH = "0" * 64


class ChainHead(NamedTuple):
    """A position in a chain: the last record's seq and hash. Exported, it is an anchor."""

    seq: int
    hash: str


GENESIS_HEAD = ChainHead(0, GENESIS_HASH)


@dataclass(frozen=True)
class ChainRecord:
    seq: int
    at: str  # ISO 8601 with an offset: audit times must be unambiguous across zones
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ChainProblem(StrEnum):
    EDITED = "EDITED"  # a record's content no longer matches its own hash
    BROKEN_LINK = "BROKEN_LINK"  # prev_hash is not the previous record's hash
    SEQ_GAP = "SEQ_GAP"  # a seq is missing: a record was deleted
    DUPLICATE_SEQ = "DUPLICATE_SEQ"  # a seq comes again: a record was inserted or replayed
    REORDERED = "REORDERED"  # the missing seq appears further on: records were moved
    TRUNCATED = "TRUNCATED"  # an anchor names a seq past the end: the tail was cut
    ANCHOR_MISMATCH = "ANCHOR_MISMATCH"  # the record at an anchor's seq has another hash


@dataclass(frozen=True)
class VerifyResult:
    """``verified`` is the last position proven intact; nothing after it can be trusted.

    ``first_bad_seq`` is the first seq proven wrong (for a gap, the missing seq; for an anchor
    mismatch, the anchor's seq -- the rewrite began somewhere after ``verified``).
    """

    ok: bool
    verified: ChainHead
    first_bad_seq: int | None = None
    problem: ChainProblem | None = None
    detail: str = field(default="")


def canonical_json(value: Any) -> bytes:
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        # Floats like NaN and types like Decimal have no single JSON spelling to hash.
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"audit content is not canonical JSON: {exc}"
        ) from None


def record_hash(
    seq: int, at: str, kind: str, actor: str, payload: Mapping[str, Any], prev_hash: str
) -> str:
    content = {
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content)).hexdigest()


def link(
    prev: ChainRecord | None, *, at: str, kind: str, actor: str, payload: Mapping[str, Any]
) -> ChainRecord:
    """The record after ``prev`` (or the genesis record, seq 1), with its hash.

    The seq follows from ``prev`` rather than being passed in, so a caller cannot fork the chain
    by mistake. The payload is stored as its canonical JSON reads back, so what a database returns
    hashes exactly as what was hashed here, and later changes to the caller's dict do not leak in.
    """
    _require_aware_timestamp(at)
    for name, text in (("kind", kind), ("actor", actor)):
        if not isinstance(text, str) or not text:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, f"audit {name} must be a non-empty text"
            )
    if not isinstance(payload, Mapping) or not all(isinstance(k, str) for k in payload):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "audit payload must map text to JSON")
    stored: dict[str, Any] = json.loads(canonical_json(dict(payload)))
    seq, prev_hash = (1, GENESIS_HASH) if prev is None else (prev.seq + 1, prev.hash)
    digest = record_hash(seq, at, kind, actor, stored, prev_hash)
    return ChainRecord(seq, at, kind, actor, stored, prev_hash, digest)


def head(records: Iterable[ChainRecord]) -> ChainHead:
    """The last record's (seq, hash), or :data:`GENESIS_HEAD` for no records.

    Export it after a successful :func:`verify`, to somewhere the database's writers cannot
    change; it is the anchor a later verify checks the chain against.
    """
    tail = deque(records, maxlen=1)
    return ChainHead(tail[0].seq, tail[0].hash) if tail else GENESIS_HEAD


def verify(
    records: Iterable[ChainRecord],
    *,
    after: ChainHead = GENESIS_HEAD,
    anchors: Iterable[ChainHead] = (),
) -> VerifyResult:
    """Check records in the order given, stopping at the first problem.

    ``after`` is a trusted position the records continue from (genesis by default), so a long log
    can be verified page by page, passing each result's ``verified`` on. ``anchors`` are heads
    exported earlier; each one inside or past the window must match the record at its seq.
    """
    chain = list(records)
    last_position = {record.seq: i for i, record in enumerate(chain)}
    trusted = after
    for i, record in enumerate(chain):
        expected = trusted.seq + 1
        if _recomputed(record) != record.hash:
            return _bad(trusted, record.seq, ChainProblem.EDITED, "content does not match hash")
        if record.seq > expected:
            if last_position.get(expected, -1) > i:
                return _bad(trusted, expected, ChainProblem.REORDERED, f"seq {record.seq} first")
            return _bad(trusted, expected, ChainProblem.SEQ_GAP, f"next present is {record.seq}")
        if record.seq < expected:
            return _bad(trusted, record.seq, ChainProblem.DUPLICATE_SEQ, f"expected {expected}")
        if record.prev_hash != trusted.hash:
            return _bad(trusted, record.seq, ChainProblem.BROKEN_LINK, "prev_hash does not link")
        trusted = ChainHead(record.seq, record.hash)
    return _check_anchors(chain, after, trusted, anchors)


def _check_anchors(
    chain: list[ChainRecord], after: ChainHead, end: ChainHead, anchors: Iterable[ChainHead]
) -> VerifyResult:
    # The chain is internally consistent here, so a record is proven only up to the last anchor
    # that matches: an attacker can recompute every hash after the point they rewrote.
    hashes = {record.seq: record.hash for record in chain}
    hashes[after.seq] = after.hash
    proven = after
    for anchor in sorted(set(anchors)):
        if anchor.seq < after.seq:
            continue  # before this window; an earlier page checked it
        if anchor.seq > end.seq:
            detail = f"anchor at seq {anchor.seq}, chain ends at {end.seq}"
            return _bad(proven, end.seq + 1, ChainProblem.TRUNCATED, detail)
        if hashes[anchor.seq] != anchor.hash:
            detail = f"rewritten after seq {proven.seq}"
            return _bad(proven, anchor.seq, ChainProblem.ANCHOR_MISMATCH, detail)
        proven = anchor
    return VerifyResult(ok=True, verified=end)


def _recomputed(record: ChainRecord) -> str | None:
    try:
        return record_hash(
            record.seq, record.at, record.kind, record.actor, record.payload, record.prev_hash
        )
    except ValidationError:
        return None  # content no JSON can spell was not what got hashed


def _bad(verified: ChainHead, seq: int, problem: ChainProblem, detail: str) -> VerifyResult:
    return VerifyResult(
        ok=False, verified=verified, first_bad_seq=seq, problem=problem, detail=detail
    )


def _require_aware_timestamp(at: str) -> None:
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"audit time {at!r} is not ISO 8601 with an offset"
        )
