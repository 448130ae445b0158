"""Asynchronous applications (``POST /api/applications``): a queue of application ids, a worker
that decides them, the database as the source of truth for their status.

The queue is dramatiq (a well-kept task library with retries and a real broker story):
- default: its in-process ``StubBroker`` and a ``Worker`` thread pool inside the API process;
- ``LENDCORE_BROKER_URL=amqp://...``: RabbitMQ, and ``lendcore worker`` processes consume it;

Only the application id travels through the broker. The body waits in
``decision_applications`` encrypted (AES-256-GCM envelope, :mod:`lendcore.privacy.crypto`)
because it holds the ID number and phone in clear; once decided, the row keeps the masked
request and the decision id. A message delivered twice (a broker redelivers after a lost ack)
finds the row DONE and does nothing: the decision is made exactly once per application.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Connection, Engine, insert, select, update

from lendcore.decisioning.decision_tables import decision_applications
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.ids import SnowflakeIds
from lendcore.privacy.crypto import FieldCipher
from lendcore.store.db import UnitOfWork

log = logging.getLogger("lendcore.decisioning.queue")

QUEUE_NAME = "lendcore.applications"
ACTOR_NAME = "lendcore_decide_application"

# decide(uow, body, channel=..., application_id=...) -> the decision document
Decide = Callable[..., dict[str, Any]]
# mask(body) -> the body with identifiers masked (what stays once decided)
Mask = Callable[[Mapping[str, Any]], dict[str, Any]]


def make_broker(url: str | None) -> dramatiq.Broker:
    """The broker for ``url``: none -> the in-process stub; amqp:// -> RabbitMQ."""
    if not url:
        return StubBroker()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValidationError(
        ErrorCode.INVALID_ARGUMENT, f"LENDCORE_BROKER_URL must be an amqp:// URL: {url!r}"
    )


def _context(application_id: int) -> str:
    return f"decision_applications.body:application={application_id}"


class ApplicationQueue:
    """Submit, work, and report asynchronous applications."""

    def __init__(
        self,
        engine: Engine,
        decide: Decide,
        mask: Mask,
        cipher: FieldCipher,
        *,
        broker: dramatiq.Broker | None = None,
        ids: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self._decide = decide
        self._mask = mask
        self._cipher = cipher
        self._ids = ids or SnowflakeIds()
        self._clock = clock
        self.broker = broker or StubBroker()
        self.actor: dramatiq.Actor[[int], None] = dramatiq.Actor(
            self.work,
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=QUEUE_NAME,
            priority=0,
            options={"max_retries": 3},
        )
        self._worker: dramatiq.Worker | None = None

    @property
    def in_process(self) -> bool:
        """True when the broker lives in this process (the worker must run here too)."""
        return isinstance(self.broker, StubBroker)

    # -- the producer side ------------------------------------------------------------------

    def enqueue_row(self, connection: Connection, body: Mapping[str, Any]) -> int:
        """Keep the body (encrypted) as a QUEUED application in the caller's transaction; call
        :meth:`send` with the id once it is committed. Returns the application id."""
        application_id = int(self._ids.next_id())
        token = self._cipher.encrypt(
            json.dumps(body, ensure_ascii=False, sort_keys=True), context=_context(application_id)
        )
        now = self._clock()
        connection.execute(
            insert(decision_applications).values(
                application_id=application_id,
                status="QUEUED",
                body={"encrypted": token},
                created_at=now,
                updated_at=now,
            )
        )
        return application_id

    def send(self, application_id: int) -> None:
        self.actor.send(application_id)

    def submit(self, body: Mapping[str, Any]) -> int:
        """:meth:`enqueue_row` in its own transaction, then :meth:`send`."""
        with UnitOfWork(self.engine) as uow:
            application_id = self.enqueue_row(uow.connection, body)
            uow.commit()
        self.send(application_id)
        return application_id

    def requeue_stale(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Send again every application still QUEUED after ``older_than`` (a process that died
        between its commit and its send). The worker ignores ids already decided."""
        t = decision_applications.c
        with self.engine.connect() as connection:
            ids = connection.execute(
                select(t.application_id).where(
                    t.status.in_(("QUEUED", "RUNNING")), t.updated_at < self._clock() - older_than
                )
            ).scalars()
            stale = [int(i) for i in ids]
        for application_id in stale:
            self.send(application_id)
        return len(stale)

    def status(self, application_id: int) -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(decision_applications).where(
                    decision_applications.c.application_id == application_id
                )
            ).first()
        if row is None:
            raise ValidationError(
                ErrorCode.UNKNOWN_APPLICATION,
                f"no application {application_id}",
                {"application_id": str(application_id)},
            )
        return {
            "application_id": str(row.application_id),
            "status": row.status,
            "decision_id": None if row.decision_id is None else str(row.decision_id),
            "error": row.error,
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
        }

    # -- the consumer side ------------------------------------------------------------------

    def work(self, application_id: int) -> None:
        """Decide one queued application (the actor's body)."""
        t = decision_applications.c
        failure: tuple[dict[str, Any], dict[str, Any]] | None = None
        with UnitOfWork(self.engine) as uow:
            row = uow.connection.execute(
                select(t.status, t.body).where(t.application_id == application_id).with_for_update()
            ).first()
            if row is None or row.status in ("DONE", "FAILED"):
                return  # unknown, or a redelivered message: decided already
            body = json.loads(
                self._cipher.decrypt(row.body["encrypted"], context=_context(application_id))
            )
            try:
                document = self._decide(uow, body, channel="async", application_id=application_id)
            except LendcoreError as error:  # bad input: recorded, not retried
                failure = (self._mask(body), error.to_dict())
            else:
                uow.connection.execute(
                    update(decision_applications)
                    .where(t.application_id == application_id)
                    .values(
                        status="DONE",
                        body=self._mask(body),
                        decision_id=int(document["decision_id"]),
                        updated_at=self._clock(),
                    )
                )
                uow.commit()
        if failure is not None:  # the decision's writes rolled back with the block above
            self._finish(application_id, "FAILED", failure[0], None, failure[1])

    def _finish(
        self,
        application_id: int,
        status: str,
        body: dict[str, Any],
        decision_id: int | None,
        error: dict[str, Any] | None,
    ) -> None:
        with UnitOfWork(self.engine) as uow:
            uow.connection.execute(
                update(decision_applications)
                .where(decision_applications.c.application_id == application_id)
                .values(
                    status=status,
                    body=body,
                    decision_id=decision_id,
                    error=error,
                    updated_at=self._clock(),
                )
            )
            uow.commit()

    def start(self, threads: int = 2) -> None:
        """Run a worker pool in this process (the default, in-process deployment)."""
        if self._worker is None:
            self._worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)
            self._worker.start()

    def drain(self, timeout_ms: int = 30_000) -> None:
        """Wait until the in-process queue is empty (tests, the simulator)."""
        if isinstance(self.broker, StubBroker):
            self.broker.join(QUEUE_NAME, timeout=timeout_ms)
            if self._worker is not None:
                self._worker.join()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.broker.close()


def build_queue(engine: Engine, decision_service: Callable[[], Any]) -> ApplicationQueue:
    """The queue with the shipped wiring: the broker from ``LENDCORE_BROKER_URL`` (in-process
    when unset), the local key file's envelope cipher, the decision service built on first use
    (``decision_service`` returns it)."""
    from lendcore.collections.contacts import default_key_provider
    from lendcore.decisioning.inputs import mask_application

    def decide(uow: UnitOfWork, body: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        document: dict[str, Any] = decision_service().decide(uow, body, **options)
        return document

    return ApplicationQueue(
        engine,
        decide,
        mask_application,
        FieldCipher(default_key_provider()),
        broker=make_broker(os.environ.get("LENDCORE_BROKER_URL")),
    )
