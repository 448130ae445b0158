"""Collections endpoints: contact attempts through the compliance gate, outcomes, the QA queue.

``POST /api/collections/contact-attempts`` checks the contact, reserves it, and dials (or texts)
through the port: 201 with the masked number and the privacy number the agent's call is bridged
through, or 403 with every reason. The real number never leaves the server.

Idempotency: the attempt spans several transactions and a call to the outside (the dialer), so
the one-transaction :func:`lendcore.api.idempotency.run_idempotent` cannot cover it. The key is
claimed first in a transaction of its own (a row marked in progress); a concurrent duplicate
gets 409 ``IDEMPOTENCY_KEY_IN_PROGRESS`` instead of a second call, a retry after completion gets
the stored response. A claim left by a crashed process is taken over after
:data:`CLAIM_TIMEOUT`; whatever the crashed request reserved is still counted by the gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from lendcore.api.errors import error_body
from lendcore.api.idempotency import run_idempotent
from lendcore.api.tables import idempotency_keys
from lendcore.collections.attempts import audit_status_of, get_attempt, qa_queue, record_outcome
from lendcore.collections.context import (
    AttemptRequest,
    CollectionsContext,
    Decision,
    Purpose,
    default_context,
)
from lendcore.collections.dialling import DialOutcome, dial
from lendcore.collections.model import REASON_TEXT, CallType, Channel, Outcome, Party, Reason
from lendcore.collections.service import check_and_reserve
from lendcore.kernel.clock import Clock, SystemClock
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.privacy.keys import PrivacyError
from lendcore.store.db import UnitOfWork

log = logging.getLogger("lendcore.api.collections")
router = APIRouter(prefix="/api/collections", tags=["collections"])
ATTEMPTS_SCOPE = "POST /api/collections/contact-attempts"
CLAIM_TIMEOUT = timedelta(minutes=10)
IN_PROGRESS = 102  # status_code of a claimed key whose response is not stored yet
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]
_STATUS = {
    ErrorCode.UNKNOWN_ATTEMPT: 404,
    ErrorCode.UNKNOWN_LOAN: 404,
    ErrorCode.OUTCOME_CONFLICT: 409,
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttemptBody(_Body):
    loan_id: int = Field(ge=1)
    # Known limitation: the caller names the agent; nothing authenticates it yet
    # (docs/concepts/collections.md, "Limits, stated").
    agent_id: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_.@-]+$",
        description="the collector making the attempt -- taken as given: there is no "
        "authentication yet, so deploy behind a gateway that authenticates operators",
    )
    party: Party
    contact_id: str | None = Field(None, min_length=1, max_length=40)
    channel: Channel = Channel.CALL
    call_type: CallType = CallType.COLLECTION
    trigger_reason: str | None = Field(
        None, max_length=120, description="why this contact (mandatory: the gate denies without)"
    )
    authorisation_ref: str | None = Field(
        None, max_length=64, description="the recorded authorisation, for INVESTIGATION calls"
    )
    purpose: Purpose = Purpose.COLLECTION

    @model_validator(mode="after")
    def _contact_named(self) -> AttemptBody:
        if self.party is Party.CONTACT and not self.contact_id:
            raise ValueError("contact_id is required when party is contact")
        return self


class OutcomeBody(_Body):
    outcome: Outcome
    recording_ref: str | None = Field(None, max_length=120)
    notes: str | None = Field(None, max_length=500)


def _context(request: Request) -> CollectionsContext:
    ctx = getattr(request.app.state, "collections", None)
    return ctx if isinstance(ctx, CollectionsContext) else default_context()


def _clock(request: Request) -> Clock:
    clock = getattr(request.app.state, "clock", None)
    return clock if clock is not None else SystemClock()


def _domain_error(exc: LendcoreError) -> JSONResponse:
    return JSONResponse(
        error_body(str(exc.code), exc.message, exc.details), _STATUS.get(exc.code, 422)
    )


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _claim(engine: Engine, key: str, digest: str, now: datetime) -> JSONResponse | None:
    """Claim the key (None), or the response a duplicate gets (stored, in progress, reused)."""
    k = idempotency_keys.c
    where = (k.scope == ATTEMPTS_SCOPE, k.key == key)
    for _ in range(2):
        try:
            with UnitOfWork(engine) as uow:
                uow.connection.execute(
                    insert(idempotency_keys).values(
                        scope=ATTEMPTS_SCOPE,
                        key=key,
                        request_hash=digest,
                        status_code=IN_PROGRESS,
                        body="{}",
                        created_at=now.astimezone(UTC),
                    )
                )
                uow.commit()
            return None
        except IntegrityError:
            pass
        with engine.connect() as connection:
            stored = connection.execute(select(idempotency_keys).where(*where)).first()
        if stored is None:
            continue  # a stale claim was just taken over and removed: try again
        if stored.request_hash != digest:
            return JSONResponse(
                error_body(
                    "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body"
                ),
                422,
            )
        if stored.status_code != IN_PROGRESS:
            return JSONResponse(
                json.loads(stored.body), stored.status_code, headers={"Idempotent-Replay": "true"}
            )
        created = stored.created_at
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        if now - created < CLAIM_TIMEOUT:
            return JSONResponse(
                error_body(
                    "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "a request with this Idempotency-Key is being processed; retry later",
                ),
                409,
            )
        with UnitOfWork(engine) as uow:  # the claimer crashed: take the key over
            uow.connection.execute(
                delete(idempotency_keys).where(*where, k.status_code == IN_PROGRESS)
            )
            uow.commit()
    return JSONResponse(error_body("IDEMPOTENCY_KEY_IN_PROGRESS", "retry later"), 409)


def _finish(engine: Engine, key: str, status: int, body: Any) -> JSONResponse:
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.scope == ATTEMPTS_SCOPE, idempotency_keys.c.key == key)
            .values(status_code=status, body=json.dumps(body, default=str))
        )
        uow.commit()
    return JSONResponse(body, status)


def _denied(decision: Decision) -> dict[str, Any]:
    explained = []
    for reason in decision.reasons:
        try:
            zh, en = REASON_TEXT[Reason(reason)]
        except (ValueError, KeyError):
            zh, en = "", ""
        explained.append({"code": reason, "zh": zh, "en": en})
    return error_body(
        "CONTACT_DENIED",
        "拒绝联系 / contact denied: " + ", ".join(decision.reasons),
        {
            "reasons": list(decision.reasons),
            "explained": explained,
            "pack_version": decision.pack_version,
            "audit_seq": decision.audit_seq,
            "alert_id": decision.alert_id,
        },
    )


def _allowed(
    body: AttemptBody, decision: Decision, result: DialOutcome, audit_status: str
) -> dict[str, Any]:
    return {
        "attempt_id": str(decision.attempt_id),  # 64-bit: a string survives JavaScript
        "allowed": True,
        "status": result.status,
        "loan_id": body.loan_id,
        "party": str(body.party),
        "contact_id": body.contact_id,
        "channel": str(body.channel),
        "call_type": str(body.call_type),
        "trigger_reason": body.trigger_reason,
        "masked_number": result.masked_number,
        "virtual_number": result.virtual_number,
        "call_ref": result.call_ref,
        "dialer_outcome": result.dialer_outcome,
        "outcome": result.outcome,
        "recording_ref": result.recording_ref,
        "script": result.script,
        "pack_version": decision.pack_version,
        "audit_seq": decision.audit_seq,
        "audit_status": audit_status,
    }


@router.post(
    "/contact-attempts",
    status_code=201,
    summary="联系尝试 / Contact attempt through the compliance gate (Idempotency-Key required)",
    responses={403: {"description": "denied by the gate, with every reason"}},
)
def post_contact_attempt(
    body: AttemptBody, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    if not idempotency_key:
        return JSONResponse(
            error_body("IDEMPOTENCY_KEY_REQUIRED", "this request needs an Idempotency-Key header"),
            400,
        )
    engine: Engine = request.app.state.engine
    ctx: CollectionsContext | None
    try:
        ctx = _context(request)
    except PrivacyError:
        # The key provider is unusable (e.g. LENDCORE_KEY_PROVIDER=kms, which has no adapter):
        # the gate service builds the context again, fails, and denies GATE_ERROR -- audited.
        log.exception("collections context unavailable: every attempt is denied")
        ctx = None
    now = _clock(request).now()
    duplicate = _claim(engine, idempotency_key, _digest(body.model_dump(mode="json")), now)
    if duplicate is not None:
        return duplicate
    attempt = AttemptRequest(
        loan_id=body.loan_id,
        agent_id=body.agent_id,
        party=body.party,
        channel=body.channel,
        call_type=body.call_type,
        trigger_reason=body.trigger_reason,
        at=now,
        contact_id=body.contact_id,
        authorisation_ref=body.authorisation_ref,
        purpose=body.purpose,
    )
    with UnitOfWork(engine) as uow:
        decision = check_and_reserve(uow, attempt, ctx)
        uow.commit()
    if not decision.allowed:
        return _finish(engine, idempotency_key, 403, _denied(decision))
    assert decision.grant_id is not None and ctx is not None
    try:
        result = dial(engine, decision.grant_id, body.agent_id, now, ctx)
    except PrivacyError:
        log.exception("contact number could not be decrypted")
        error = error_body(
            "DECRYPTION_FAILED",
            "the contact's number could not be decrypted; operators are alerted",
            {"attempt_id": str(decision.attempt_id)},
        )
        return _finish(engine, idempotency_key, 500, error)
    if result.status == "FAILED":
        error = error_body(
            str(ErrorCode.DIALER_UNAVAILABLE),
            "the dialer did not place the call; the attempt is logged as failed",
            {"attempt_id": str(decision.attempt_id), "error": result.error},
        )
        return _finish(engine, idempotency_key, 503, error)
    with engine.connect() as connection:  # read back from the chain, not assumed
        audited = audit_status_of(connection, int(decision.attempt_id or 0), decision.audit_seq)
    return _finish(engine, idempotency_key, 201, _allowed(body, decision, result, audited))


@router.post(
    "/contact-attempts/{attempt_id}/outcome",
    summary="通话结果 / The agent's report of a connected call (Idempotency-Key required)",
)
def post_outcome(
    attempt_id: int,
    body: OutcomeBody,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    engine: Engine = request.app.state.engine
    ctx = _context(request)
    now = _clock(request).now()

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        try:
            view = record_outcome(
                uow,
                attempt_id,
                body.outcome,
                now,
                ctx,
                recording_ref=body.recording_ref,
                notes=body.notes,
            )
        except LendcoreError as exc:
            response = _domain_error(exc)
            return response.status_code, json.loads(bytes(response.body))
        return 200, _public(view)

    return run_idempotent(
        engine,
        f"POST /api/collections/contact-attempts/{attempt_id}/outcome",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


def _public(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "attempt_id": str(view["attempt_id"])}


@router.get(
    "/contact-attempts/{attempt_id}", summary="通话记录 / One call-log entry (masked number)"
)
def get_contact_attempt(attempt_id: int, request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as connection:
            view = get_attempt(connection, attempt_id)
    except LendcoreError as exc:
        return _domain_error(exc)
    return JSONResponse(json.loads(json.dumps(_public(view), default=str)))


@router.get("/qa-queue", summary="质检队列 / Connected calls sampled for quality review")
def get_qa_queue(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    with request.app.state.engine.connect() as connection:
        items = qa_queue(connection, limit)
    for item in items:
        item["attempt_id"] = str(item["attempt_id"])
    return {"items": items, "count": len(items)}
