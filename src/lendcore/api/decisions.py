"""Decision endpoints: decide an application synchronously, read and replay a decision, the
manual-review queue and verdicts, blacklist management.

Every domain error of these endpoints is a 4xx with the uniform body: bad input (missing
fields, age -1, unknown product) is 422 and stores nothing; an unknown decision or blacklist entry
is 404; a second verdict, a verdict on a decision that is not under review, or listing an
identifier twice is 409. POSTs that write take an Idempotency-Key (the stored response is
replayed for a retry with the same body).

A decision is CPU work under the GIL (scoring, the policies, JSON): one process runs one at a
time however many threads it gives them, and a pool of 40 threads (Starlette's default for sync
endpoints) only interleaves them, every 5 ms, so that each of them finishes late. POST
/api/decisions therefore runs in at most ``$LENDCORE_DECISION_THREADS`` threads per process
(default 1): first come, first served. Serve more processes (``lendcore api --workers``) to use
more cores; the other endpoints keep the default pool.

A decision runs in the event loop itself (``$LENDCORE_DECISION_INLINE=1``, the default): no
hand-over to a thread and back, whose GIL traffic cost 0.6-1 ms of CPU per decision measured side
by side (docs/performance.md has the runs). On SQLite its SQL is local file I/O; the one wait it
could meet, SQLite's writer lock held by another process (a batch, the other workers), is never
waited for in the loop: the lock is tried without waiting, again after short pauses that let the
loop run (another worker records in ~1 ms), and if it is still taken after ~30 ms the recording
step (the prepared decision goes with it) waits in a worker thread
(``lendcore_decision_writer_waits_total``), so the process keeps answering. Decisions keep their
first-come order meanwhile. On PostgreSQL the loop waits for the statements' round trips (9
of them, well under a millisecond each on a local network) and, rarely, for an identifier lock
held by a decision in another process sharing a phone or a device: at most the workers'
decisions in flight, a few milliseconds. What it does not bound is a stalled database server:
with ``$LENDCORE_DECISION_INLINE=0`` decisions run in threads and the loop keeps answering
health checks through such a stall, at the cost of the hand-over (docs/performance.md has the
side-by-side runs on PostgreSQL).

Only SQLite prepares a decision on a read snapshot and records it in a separate, short write
transaction (``DecisionService.prepare``): its one writer lock is what the split keeps free.
PostgreSQL has no such lock (concurrent transactions, advisory locks per identifier), so there
the decision is made in its write transaction from the start: the facts are read once, the key
looked up once. Measured side by side, that took the machine's CPU per decision (server and
PostgreSQL together) from 9.5-12.6 ms to 7.4-9.4 ms.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection

from lendcore.api import decision_schemas as schemas
from lendcore.api.errors import ErrorBody, error_body
from lendcore.api.idempotency import key_required, replay_stored, run_idempotent
from lendcore.decisioning.queue import ApplicationQueue, build_queue
from lendcore.decisioning.reviews import Verdict
from lendcore.decisioning.rules import IDENTIFIER_KINDS, Application
from lendcore.decisioning.service import DecisionService, Prepared, default_service
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.observability.metrics import LabelledCounter, export
from lendcore.store.db import UnitOfWork, WriterBusy, is_sqlite

router = APIRouter(prefix="/api", tags=["decisioning"])
_BUILDING = threading.Lock()
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=64, description="required on POSTs that write"),
]
DecisionId = Annotated[int, Path(description="决策号 the decision id")]
ApplicationId = Annotated[int, Path(description="申请号 the application id")]


def _documented(
    status: int, model: type[BaseModel], description: str, **errors: str
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses``: the success model and the uniform error body for each error status
    (``errors`` maps ``e404=...`` to its description). Documentation only: the endpoints return
    ``JSONResponse`` (module :mod:`lendcore.api.decision_schemas`)."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": model, "description": description}
    }
    for name, text in errors.items():
        documented[int(name.removeprefix("e"))] = {"model": ErrorBody, "description": text}
    return documented


_BAD_BODY = "bad request (nothing stored): the uniform error body, with the field"
_STATUS = {
    ErrorCode.UNKNOWN_DECISION: 404,
    ErrorCode.UNKNOWN_BLACKLIST_ENTRY: 404,
    ErrorCode.UNKNOWN_APPLICATION: 404,
    ErrorCode.NOT_UNDER_REVIEW: 409,
    ErrorCode.VERDICT_ALREADY_RECORDED: 409,
    ErrorCode.BLACKLIST_ENTRY_EXISTS: 409,
}
_DECISION_EXAMPLE = {
    "product": "consumer_instalment",
    "amount": "50000.00",
    "term": 12,
    "applicant": {
        "id_number": "110101199003071234",
        "phone": "13812341234",
        "birth_date": "1990-03-07",
        "region": "110105",
        "employment": "private_employee",
        "social_insurance": True,
        "monthly_income": "15000.00",
    },
    "bureau": {"applications_90d": 2, "court_enforcements": 0},
    "device": {"device_id": "dev-1", "ip": "10.1.2.3", "is_proxy": False},
    "credit_profile": {
        "checking_status": "none",
        "duration_months": 12,
        "credit_history": "existing_paid_duly",
        "savings": "ge_1000",
    },
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerdictBody(_Body):
    """审核结论 / An operator's verdict on a manual review."""

    operator: str = Field(min_length=1, max_length=64, description="审核员 the operator's id")
    verdict: Verdict = Field(description="审核结论 APPROVE or REJECT")
    note: str = Field("", max_length=500, description="审核意见 the operator's note")


class BlacklistEntryBody(_Body):
    """加入黑名单 / An identifier to list (only its blind index is stored)."""

    kind: str = Field(description=f"标识类型 one of {', '.join(IDENTIFIER_KINDS)}")
    value: str = Field(
        min_length=1, max_length=128, description="标识值 the identifier (never stored in clear)"
    )
    reason: str = Field(min_length=1, max_length=200, description="原因 why it is listed")
    source: str = Field(
        "internal", min_length=1, max_length=40, description="来源 internal, court list, partner"
    )


class BlacklistRemovalBody(_Body):
    """移出黑名单 / The entry to remove, named by its value or by its hash (exactly one)."""

    kind: str = Field(description=f"标识类型 one of {', '.join(IDENTIFIER_KINDS)}")
    value: str | None = Field(
        None, min_length=1, max_length=128, description="标识值 the identifier"
    )
    identifier_hash: str | None = Field(
        None, min_length=64, max_length=64, description="标识哈希 or its hash, as the list shows it"
    )

    @model_validator(mode="after")
    def _one_name(self) -> BlacklistRemovalBody:
        if (self.value is None) == (self.identifier_hash is None):
            raise ValueError("give value or identifier_hash (exactly one)")
        return self


def service(request: Request) -> DecisionService:
    return service_for(request.app)


def service_for(app: Any) -> DecisionService:
    """The app's decision service (tests set ``app.state.decisions``), built once: loading the
    models takes a second or two, which the first request pays, once."""
    existing = getattr(app.state, "decisions", None)
    if isinstance(existing, DecisionService):
        return existing
    with _BUILDING:  # endpoints run in a thread pool: two first requests build one service
        existing = getattr(app.state, "decisions", None)
        if not isinstance(existing, DecisionService):
            existing = default_service()
            app.state.decisions = existing
    return existing


def _error(exc: LendcoreError) -> JSONResponse:
    return JSONResponse(
        error_body(str(exc.code), exc.message, exc.details), _STATUS.get(exc.code, 422)
    )


def _domain(work: Any) -> tuple[int, Any]:
    """Run ``work``; a domain error becomes its (status, error body). Only used where the error
    is raised before anything is written (a stored error response must not commit writes)."""
    try:
        return 200, work()
    except LendcoreError as exc:
        response = _error(exc)
        return response.status_code, json.loads(bytes(response.body))


@router.post(
    "/decisions",
    status_code=201,
    summary="申请决策（同步） / Decide an application (synchronous; Idempotency-Key required)",
    # Documented, not validated: the hot path returns its JSONResponse as built.
    responses=_documented(
        201,
        schemas.DecisionResponse,
        "the decision: outcome, reasons, score, PD, tier, offer, versions",
        e400="no Idempotency-Key",
        e422=_BAD_BODY,
    ),
)
async def post_decision(
    request: Request,
    body: Annotated[Application, Body(openapi_examples={"clean": {"value": _DECISION_EXAMPLE}})],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    # Validated here, in the event loop. The decision runs inline (the default) or in at most
    # decision_threads() worker threads per process: see the module's docstring.
    limiter = _decision_limiter(request)
    if not request.app.state.decision_inline:
        return await anyio.to_thread.run_sync(
            _post_decision, request, body, idempotency_key, limiter=limiter
        )
    if not is_sqlite(request.app.state.engine):  # the whole decision in its transaction
        async with limiter:
            return _decide_in_transaction(request, body, idempotency_key)
    # First come, first served here too: a decision waiting for the writer lock keeps its turn
    # (the loop serves other endpoints meanwhile, not newer decisions, which would make the
    # waiting one later still).
    async with limiter:
        # One connection for the snapshot and the recording: if nothing was committed in between,
        # the recording need not read the facts again (DecisionService.decide).
        with request.app.state.engine.connect() as connection:
            ready = _prepare_decision(request, body, idempotency_key, connection)
            if isinstance(ready, JSONResponse):
                return ready
            for pause in (*_WRITER_BACKOFF, None):
                try:
                    return _record_decision(request, ready, connection, wait=False)
                except WriterBusy:  # another writer is recording (~1 ms): let the loop run
                    if pause is not None:
                        await anyio.sleep(pause)
        # still taken after ~30 ms (a batch, a restart checkpoint): wait off the event loop, in
        # a thread of the default pool (this decision holds its turn of ``limiter`` already), on
        # a connection of its own (after 30 ms the facts are read again anyway)
        WRITER_WAITS.inc(endpoint="POST /api/decisions")
        return await anyio.to_thread.run_sync(_record_decision, request, ready)


# Pauses between tries of SQLite's writer lock from the event loop (s): ~30 ms in all.
_WRITER_BACKOFF = (0.0005, 0.001, 0.001, 0.002, 0.002, 0.004, 0.004, 0.008, 0.008)


@dataclass(frozen=True)
class _Ready:
    """A decision prepared on a read snapshot, to be recorded under its Idempotency-Key."""

    decisions: DecisionService
    prepared: Prepared
    key: str
    request_body: dict[str, Any]


def _post_decision(
    request: Request, body: Application, idempotency_key: str | None
) -> JSONResponse:
    engine = request.app.state.engine
    if not is_sqlite(engine):
        return _decide_in_transaction(request, body, idempotency_key)
    with engine.connect() as connection:
        ready = _prepare_decision(request, body, idempotency_key, connection)
        if isinstance(ready, JSONResponse):
            return ready
        return _record_decision(request, ready, connection)


def _decide_in_transaction(
    request: Request, body: Application, idempotency_key: str | None
) -> JSONResponse:
    """The whole decision inside its write transaction (PostgreSQL: see the module docstring);
    a domain error rolls it back and answers with nothing stored."""
    decisions = service(request)
    try:
        application = decisions.validate(body)  # the unknown product, before any key is stored
        if not idempotency_key:
            return key_required()

        def work(uow: UnitOfWork) -> tuple[int, Any]:
            return 201, decisions.decide(uow, application, channel="api")

        return run_idempotent(
            request.app.state.engine,
            "POST /api/decisions",
            idempotency_key,
            body.model_dump(mode="json"),
            work,
        )
    except LendcoreError as exc:
        return _error(exc)


def _prepare_decision(
    request: Request, body: Application, idempotency_key: str | None, connection: Connection
) -> _Ready | JSONResponse:
    """Everything before the write transaction, in a read transaction on ``connection``, ended
    before returning; a JSONResponse when the request ends here (a bad product, no key, a retry
    answered from its stored response)."""
    decisions = service(request)
    request_body = body.model_dump(mode="json")
    try:
        application = decisions.validate(body)  # the unknown product, before any key is stored
        if not idempotency_key:
            return key_required()
        # Scored and decided on a read snapshot, outside the write transaction (and SQLite's
        # writer lock); decide() re-reads the facts inside it and evaluates again if they moved.
        # A retry of a decided request is answered from its stored response first.
        try:
            replay = replay_stored(connection, "POST /api/decisions", idempotency_key, request_body)
            if replay is not None:
                return replay
            prepared = decisions.prepare(connection, application)
        finally:
            connection.rollback()  # the snapshot ends; it wrote nothing
    except LendcoreError as exc:
        return _error(exc)
    return _Ready(decisions, prepared, idempotency_key, request_body)


def _record_decision(
    request: Request, ready: _Ready, connection: Connection | None = None, wait: bool = True
) -> JSONResponse:
    """The write transaction: the decision and its key, exactly once, on ``connection`` (the one
    that prepared) or a new one. ``wait=False`` raises :class:`WriterBusy` (nothing done)
    rather than wait for SQLite's writer lock."""

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 201, ready.decisions.decide(
            uow, ready.prepared.application, channel="api", prepared=ready.prepared
        )

    return run_idempotent(
        request.app.state.engine,
        "POST /api/decisions",
        ready.key,
        ready.request_body,
        work,
        wait=wait,
        connection=connection,
        absent_at=ready.prepared.mark,  # its key was looked up in the snapshot that prepared
    )


DECISION_THREADS = "LENDCORE_DECISION_THREADS"
DECISION_INLINE = "LENDCORE_DECISION_INLINE"
WRITER_WAITS = LabelledCounter(
    "lendcore_decision_writer_waits",
    "inline decisions whose recording found SQLite's writer lock taken and waited in a thread",
    ("endpoint",),
)
export(WRITER_WAITS)


def decision_threads() -> int:
    """How many decisions one process runs at once in threads (``$LENDCORE_DECISION_THREADS``,
    default 1)."""
    raw = os.environ.get(DECISION_THREADS, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise LendcoreError(
            ErrorCode.INVALID_ARGUMENT, f"{DECISION_THREADS} must be a whole number >= 1: {raw!r}"
        )
    return int(raw)


def decision_inline() -> bool:
    """Whether decisions run in the event loop (``$LENDCORE_DECISION_INLINE``: ``1``, the
    default, or ``0``: in threads)."""
    raw = os.environ.get(DECISION_INLINE, "1")
    if raw not in ("0", "1"):
        raise LendcoreError(
            ErrorCode.INVALID_ARGUMENT, f"{DECISION_INLINE} must be 0 or 1: {raw!r}"
        )
    return raw == "1"


def _decision_limiter(request: Request) -> anyio.CapacityLimiter:
    """The app's limiter, made in its event loop on the first decision."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "decision_limiter", None)
    if limiter is None:
        limiter = request.app.state.decision_limiter = anyio.CapacityLimiter(decision_threads())
    return limiter


@router.get(
    "/decisions/{decision_id}",
    summary="决策记录 / A recorded decision with its trace",
    responses=_documented(
        200, schemas.DecisionRecord, "the record", e404="no such decision", e422=_BAD_BODY
    ),
)
def get_decision(decision_id: DecisionId, request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as connection:
            return JSONResponse(service(request).get(connection, decision_id))
    except LendcoreError as exc:
        return _error(exc)


@router.post(
    "/decisions/{decision_id}/replay",
    summary="回放 / Replay a decision with its own policy, model and product versions "
    "(writes nothing)",
    responses=_documented(
        200,
        schemas.DecisionReplay,
        "the recorded and the replayed fields, and every difference",
        e404="no such decision",
        e422=_BAD_BODY,
    ),
)
def post_replay(decision_id: DecisionId, request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as connection:
            return JSONResponse(service(request).replay(connection, decision_id))
    except LendcoreError as exc:
        return _error(exc)


@router.get(
    "/reviews",
    summary="人工审核队列 / Decisions waiting for a verdict, oldest first",
    responses=_documented(200, schemas.ReviewQueue, "the queue", e422=_BAD_BODY),
)
def get_reviews(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500, description="条数 at most this many")] = 50,
) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        items = service(request).review_queue(connection, limit)
    return JSONResponse({"items": items, "count": len(items)})


@router.post(
    "/reviews/{decision_id}",
    status_code=201,
    summary="审核结论 / Record the verdict on a manual review, once (Idempotency-Key required)",
    responses=_documented(
        201,
        schemas.DecisionVerdictRecorded,
        "the verdict as recorded",
        e400="no Idempotency-Key",
        e404="no such decision",
        e409="not under review, or a verdict was recorded already",
        e422=_BAD_BODY,
    ),
)
def post_review(
    decision_id: DecisionId,
    body: VerdictBody,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    decisions = service(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        status, document = _domain(
            lambda: decisions.record_verdict(
                uow, decision_id, body.operator, str(body.verdict), body.note
            )
        )
        return (201 if status == 200 else status), document

    return run_idempotent(
        request.app.state.engine,
        f"POST /api/reviews/{decision_id}",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.get(
    "/blacklist",
    summary="黑名单 / Blacklist entries, newest first (hashes, never values)",
    responses=_documented(200, schemas.BlacklistPage, "a page of entries", e422=_BAD_BODY),
)
def get_blacklist(
    request: Request,
    kind: Annotated[str | None, Query(description="标识类型 only this identifier kind")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="条数 page size")] = 100,
    offset: Annotated[int, Query(ge=0, description="偏移 entries to skip")] = 0,
) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as connection:
            listed = service(request).blacklist_list(
                connection, kind=kind, limit=limit, offset=offset
            )
    except LendcoreError as exc:
        return _error(exc)
    return JSONResponse(listed)


@router.post(
    "/blacklist",
    status_code=201,
    summary="加入黑名单 / List an identifier (Idempotency-Key required)",
    responses=_documented(
        201,
        schemas.BlacklistEntry,
        "the entry as listed",
        e400="no Idempotency-Key",
        e409="this identifier is listed already",
        e422=_BAD_BODY,
    ),
)
def post_blacklist(
    body: BlacklistEntryBody, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    decisions = service(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        status, document = _domain(
            lambda: decisions.blacklist_add(
                uow, body.kind, body.value, reason=body.reason, source=body.source
            )
        )
        return (201 if status == 200 else status), document

    return run_idempotent(
        request.app.state.engine,
        "POST /api/blacklist",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.delete(
    "/blacklist",
    summary="移出黑名单 / Remove an entry, by value or by hash",
    responses=_documented(
        200, schemas.BlacklistRemoved, "what was removed", e404="no such entry", e422=_BAD_BODY
    ),
)
def delete_blacklist(body: BlacklistRemovalBody, request: Request) -> JSONResponse:
    try:
        with UnitOfWork(request.app.state.engine) as uow:
            removed = service(request).blacklist_remove(
                uow, body.kind, value=body.value, identifier_hash=body.identifier_hash
            )
            uow.commit()
    except LendcoreError as exc:
        return _error(exc)
    return JSONResponse({"removed": removed})


# -- asynchronous applications ---------------------------------------------------------------

_QUEUE_LOCK = threading.Lock()


def application_queue(app: Any) -> ApplicationQueue:
    """The app's queue, built on first use: dramatiq's in-process broker and a worker pool in
    this process by default; with ``LENDCORE_BROKER_URL=amqp://...`` RabbitMQ, consumed by
    ``lendcore worker`` processes (tests set ``app.state.applications``)."""
    existing = getattr(app.state, "applications", None)
    if isinstance(existing, ApplicationQueue):
        return existing
    with _QUEUE_LOCK:
        existing = getattr(app.state, "applications", None)
        if not isinstance(existing, ApplicationQueue):
            existing = build_queue(app.state.engine, lambda: service_for(app))
            if existing.in_process:
                existing.start()
            app.state.applications = existing
    return existing


@router.post(
    "/applications",
    status_code=202,
    summary="异步申请 / Queue an application; poll its status URL (Idempotency-Key required)",
    responses=_documented(
        202,
        schemas.ApplicationQueued,
        "queued; the Location header is the status URL",
        e400="no Idempotency-Key",
        e422="bad request (nothing queued): the uniform error body, with the field",
    ),
)
def post_application(
    request: Request,
    body: Annotated[Application, Body(openapi_examples={"clean": {"value": _DECISION_EXAMPLE}})],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    try:
        service(request).validate(body)  # refused here, never queued
    except LendcoreError as exc:
        return _error(exc)
    queue = application_queue(request.app)
    created: list[int] = []

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        application_id = queue.enqueue_row(uow.connection, body.model_dump(mode="json"))
        created.append(application_id)
        return 202, {
            "application_id": str(application_id),
            "status": "QUEUED",
            "status_url": f"/api/applications/{application_id}",
        }

    response = run_idempotent(
        request.app.state.engine,
        "POST /api/applications",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )
    for application_id in created:  # committed: now the worker may see it
        queue.send(application_id)
    if response.status_code == 202:
        response.headers["Location"] = json.loads(bytes(response.body))["status_url"]
    return response


@router.get(
    "/applications/{application_id}",
    summary="申请状态 / An asynchronous application's status (and its decision once made)",
    responses=_documented(
        200,
        schemas.ApplicationStatus,
        "the status, with the decision once made",
        e404="no such application",
        e422=_BAD_BODY,
    ),
)
def get_application(application_id: ApplicationId, request: Request) -> JSONResponse:
    try:
        status = application_queue(request.app).status(application_id)
        if status["decision_id"] is not None:
            with request.app.state.engine.connect() as connection:
                status["decision"] = service(request).get(connection, int(status["decision_id"]))
                status["decision"].pop("trace", None)
            status["decision_url"] = f"/api/decisions/{status['decision_id']}"
    except LendcoreError as exc:
        return _error(exc)
    return JSONResponse(status)
