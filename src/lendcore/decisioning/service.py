"""The decision use case: validate, gather the facts, score, run the policies, record, answer.

:meth:`DecisionService.decide` takes a unit of work (or a connection) and writes two things on
it, after everything that can fail has run: this application's identifiers into the fraud index,
and one ``decisions`` row holding what a replay needs -- the masked request, the rule context
(features, fraud counts, blacklist hit, IP verdict, the applicant's credit line and the model's
score as they were at decision time), the policy versions, the model version and arm, the
trace, the shadow scores and the response. The caller commits. Bad input raises
:class:`ValidationError` before any write.

A caller that holds a write lock for the whole transaction (SQLite: one writer per database, across
processes) first calls :meth:`DecisionService.prepare` on a read-only connection: validation,
the facts, scoring and the policies run there, outside the lock. :meth:`~DecisionService.decide`
then reads the facts again inside the transaction and records the prepared evaluation only if
they are equal; otherwise (a concurrent application sharing an identifier, a new blacklist
entry, a moved credit line) it evaluates again. The record is always what a decision made inside
the transaction would be; only the lock is held for less (the API's POST /api/decisions does
this; ``lendcore_decisions_total{evaluation}`` counts how often the preparation was reused).

:meth:`DecisionService.replay` re-runs a stored decision: the stored credit profile through the
recorded model version, the stored context through the recorded policy versions, the offer priced
with the recorded product version (kept by hash in a
:class:`~lendcore.products.versions.ProductVersionStore`, written when the service is built,
before any decision priced with it is recorded). It never reads the identifier index, the
blacklist, the IP reputation or the credit line again (they have moved on), so a replay of an
unchanged pipeline gives the same answer, and a difference is a finding.

Everything the hot path needs is built once (the policy engine caches parsed versions, the model
registry compiled models, products are loaded at start-up); a decision reads no file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from lendcore.decisioning import blacklist as blacklist_entries
from lendcore.decisioning import reviews
from lendcore.decisioning.credit_line_tables import line_of_rows, line_statement
from lendcore.decisioning.decide import RequestedTerms, decide
from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.documents import compare, response_document
from lendcore.decisioning.fraud import (
    Blacklist,
    HashIdentifier,
    IpReputation,
    SandboxIpReputation,
    identifiers_of,
    index_rows,
)
from lendcore.decisioning.fraud_tables import (
    facts_of_rows,
    facts_statement,
    lock_statement,
    record_statement,
)
from lendcore.decisioning.policy import PolicyEngine
from lendcore.decisioning.records import (
    Evaluation,
    Facts,
    Gathered,
    Prepared,
    decision_row,
    get_decision,
    load_row,
)
from lendcore.decisioning.rules import Application, build_context, parse_application
from lendcore.decisioning.scoring import ModelRegistry, ModelScore
from lendcore.kernel.clock import DEFAULT_TIMEZONE, Clock, SystemClock
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.ids import SnowflakeIds
from lendcore.observability.metrics import LabelledCounter, export
from lendcore.products.caps import RateCap
from lendcore.products.loader import LoadedProduct
from lendcore.products.versions import ProductVersionStore
from lendcore.store.db import read_mark, unchanged_since
from lendcore.store.round_trips import send_together

__all__ = ["CHANNELS", "DecisionService", "Evaluation", "Facts", "Prepared", "get_decision"]

CHANNELS = ("api", "async", "cli", "sim")
_BEIJING = ZoneInfo(DEFAULT_TIMEZONE)
# Built once and executed with the row as parameters (a cached compiled statement); an
# ``insert().values(**row)`` per decision cost twice the insert itself.
_INSERT_DECISION = insert(decisions)
# Counted when the record is written (a rolled-back transaction still counts: a process metric).
DECISIONS = LabelledCounter(
    "lendcore_decisions",
    "decisions recorded by this process, by channel and by where they were evaluated",
    ("channel", "evaluation"),
)
export(DECISIONS)


class IdGenerator(Protocol):
    def next_id(self) -> int: ...


class DecisionService:
    """The decision flow with its collaborators, built once per process."""

    def __init__(
        self,
        engine: PolicyEngine,
        products: Mapping[str, LoadedProduct],
        models: ModelRegistry,
        hasher: HashIdentifier | None = None,
        *,
        blacklist: Callable[[Connection], Blacklist] | None = None,
        ip_reputation: IpReputation | None = None,
        ids: IdGenerator | None = None,
        clock: Clock | None = None,
        cap: RateCap | None = None,
        product_versions: ProductVersionStore | None = None,
    ) -> None:
        self.engine = engine
        self.products = dict(products)
        # Kept before any decision priced with them is recorded: replay prices with these.
        self.product_versions = product_versions or ProductVersionStore()
        self.product_versions.keep_all(self.products.values())
        self.models = models
        self._hasher = hasher
        # None: the database's blacklist, read with the identifier counts (one statement on
        # PostgreSQL); another Blacklist replaces it
        self.blacklist = blacklist
        self.ip_reputation = ip_reputation or SandboxIpReputation()
        self.ids = ids or SnowflakeIds()
        self.clock = clock or SystemClock()
        self.cap = cap

    @property
    def hasher(self) -> HashIdentifier:
        """The blind-index hasher; the production one (the local key file) unless given."""
        if self._hasher is None:
            self._hasher = production_hasher()
        return self._hasher

    # -- the pure part ------------------------------------------------------------------------

    def validate(self, body: Mapping[str, Any] | Application) -> Application:
        """A validated application; bad input is a :class:`ValidationError` naming the field.
        An :class:`Application` was validated when it was built (the model is frozen): only its
        product is checked against this service's products, and it is returned as it is."""
        if isinstance(body, Application):
            if body.product in self.products:
                return body
            # the unknown product: the same error as for a body
            return parse_application(body.model_dump(mode="json"), self.products)
        return parse_application(body, self.products)

    def evaluate(
        self,
        application: Application,
        *,
        application_id: int,
        at: datetime,
        facts: Facts,
        versions: Mapping[str, str] | None = None,
        trace: bool = True,
    ) -> Evaluation:
        """Score and decide, no I/O: the facts come in already gathered. ``versions`` pins
        policies to recorded hashes."""
        decision_date = at.astimezone(_BEIJING).date()
        scoring = self.models.score(application_id, application.credit_profile)
        result = scoring.acted.result
        context = build_context(
            application,
            decision_date,
            identifier_counts=facts.identifier_counts,
            blacklist_identifier=facts.blacklist_identifier,
            ip_risk=facts.ip_risk,
            fraud_checked=facts.fraud_checked,
            score=result.score,
            pd=result.pd,
            credit_line=facts.credit_line,
        )
        decision = decide(
            self.engine,
            application,
            context,
            self.products,
            start=decision_date,
            cap=self.cap,
            # the arm's policy challenger, unless a replay pins the recorded versions
            versions={**scoring.policies, **(versions or {})},
            trace=trace,
        )
        return Evaluation(application, application_id, decision_date, context, scoring, decision)

    # -- the use case -------------------------------------------------------------------------

    def prepare(
        self,
        connection: Connection,
        body: Mapping[str, Any] | Application,
        *,
        application_id: int | None = None,
    ) -> Prepared:
        """Validate, gather the facts and evaluate on a read-only ``connection``, outside any
        write transaction: the expensive part of a decision, so that processes sharing one
        SQLite writer lock (``lendcore api --workers 2``) score and run policies in parallel.
        Writes nothing; hand the result to :meth:`decide`, which records it only if the facts
        are still the same inside its transaction."""
        application = self.validate(body)
        given = application_id is not None
        application_id = application_id if application_id is not None else self.ids.next_id()
        at = self.clock.now()
        gathered = self._gather(connection, application, application_id, at)
        mark = read_mark(connection)  # in the same read transaction as the facts
        evaluation = self.evaluate(
            application, application_id=application_id, at=at, facts=gathered.facts
        )
        return Prepared(application, application_id, at, gathered, evaluation, given, mark)

    def decide(
        self,
        connection_or_uow: Any,
        body: Mapping[str, Any] | Application,
        *,
        channel: str,
        application_id: int | None = None,
        prepared: Prepared | None = None,
    ) -> dict[str, Any]:
        """Decide and record one application; returns the response document. An application id
        that was decided already returns that decision (a redelivered message decides nothing
        twice).

        The facts are always read on this connection, inside the caller's transaction, so the
        record is exactly what a decision made here and now would be. A ``prepared`` evaluation
        (from :meth:`prepare`) whose facts are unchanged is recorded as it is; if anything moved
        (an application sharing an identifier, a blacklist entry, the credit line, the IP list),
        the application is evaluated again on the fresh facts. On SQLite, a transaction on the
        connection that prepared, which nothing has been committed to since the snapshot
        (:func:`~lendcore.store.db.unchanged_since`), would read the same facts: only the IP
        verdict, which lives outside the database, is looked up again."""
        if channel not in CHANNELS:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, f"channel must be one of {', '.join(CHANNELS)}"
            )
        connection: Connection = getattr(connection_or_uow, "connection", connection_or_uow)
        if prepared is not None:
            application, at = prepared.application, prepared.at
            given, application_id = prepared.given_id, prepared.application_id
        else:
            application, at = self.validate(body), self.clock.now()
            given = application_id is not None
            application_id = application_id if application_id is not None else self.ids.next_id()
        if given:  # a new id was never decided: only a caller's id is looked up
            stored = self._stored_response(connection, application_id)
            if stored is not None:
                return stored
        if prepared is not None and self._still_as_prepared(connection, prepared):
            gathered = prepared.gathered
        else:
            gathered = self._gather(
                connection,
                application,
                application_id,
                at,
                locked=True,
                known=prepared.gathered if prepared is not None else None,
            )
        if prepared is not None and prepared.gathered == gathered:
            evaluation, how = prepared.evaluation, "prepared"
        else:
            evaluation = self.evaluate(
                application, application_id=application_id, at=at, facts=gathered.facts
            )
            how = "in_transaction" if prepared is None else "reevaluated"
        decision_id = self.ids.next_id()
        response = response_document(
            evaluation.decision,
            evaluation.scoring.acted,
            decision_id=decision_id,
            application_id=application_id,
        )
        # Writes last: everything above may fail and leave nothing behind. The index rows and the
        # record go together (one round trip on PostgreSQL).
        rows = index_rows(application_id, gathered.applicant_key, gathered.identifiers, at)
        index = record_statement(connection, rows)
        record = (_INSERT_DECISION, decision_row(evaluation, response, gathered, channel, at))
        send_together(connection, [index, record] if index is not None else [record])
        DECISIONS.inc(channel=channel, evaluation=how)
        return response

    def _gather(
        self,
        connection: Connection,
        application: Application,
        application_id: int,
        at: datetime,
        *,
        locked: bool = False,
        known: Gathered | None = None,
    ) -> Gathered:
        """The identifiers and what the index, the blacklist, the credit line and the IP
        reputation say of them now; ``locked``: in the recording transaction, after locking the
        identifiers (:func:`~lendcore.decisioning.fraud_tables.lock_statement`). ``known``:
        an earlier gathering of the same application, whose identifiers are reused."""
        if known is not None:
            applicant_key, identifiers = known.applicant_key, tuple(known.identifiers)
        else:
            try:
                applicant_key, identifiers = identifiers_of(application, self.hasher)
            except LendcoreError as exc:
                raise ValidationError(
                    ErrorCode.INVALID_APPLICATION,
                    f"applicant: {exc.message}",
                    {"field": "applicant"},
                ) from None
        # One round trip on PostgreSQL: the locks (in the recording transaction), then the
        # counts with the blacklist, then the credit line, each statement after the one before.
        lock = lock_statement(connection, identifiers) if locked else None
        count = facts_statement(
            connection,
            identifiers,
            application_id=application_id,
            applicant_key=applicant_key,
            at=at,
        )
        sent = [s for s in (lock, count) if s is not None] + [line_statement(applicant_key)]
        results = send_together(connection, sent)
        count_rows = results[-2] if count is not None else []
        found = facts_of_rows(connection, identifiers, count_rows)
        counts, hit = found.counts, found.blacklist_hit
        if self.blacklist is not None:  # a blacklist of its own, not the database's
            hit = self.blacklist(connection).first_hit(identifiers)
        line = line_of_rows(results[-1])
        verdict = self.ip_reputation.check(application.device.ip)
        facts = Facts(counts, hit.kind if hit else None, str(verdict.risk), True, line)
        return Gathered(applicant_key, tuple(identifiers), facts, verdict.source)

    def _still_as_prepared(self, connection: Connection, prepared: Prepared) -> bool:
        """The prepared facts hold without reading them again: the database has not changed
        for this connection since the snapshot, and the IP reputation says the same."""
        if not unchanged_since(connection, prepared.mark):
            return False
        verdict = self.ip_reputation.check(prepared.application.device.ip)
        gathered = prepared.gathered
        return (str(verdict.risk), verdict.source) == (gathered.facts.ip_risk, gathered.ip_source)

    def _stored_response(
        self, connection: Connection, application_id: int
    ) -> dict[str, Any] | None:
        row = connection.execute(
            select(decisions.c.result).where(decisions.c.application_id == application_id)
        ).first()
        return None if row is None else dict(row.result["response"])

    # -- reading, replaying -------------------------------------------------------------------

    def get(self, connection: Connection, decision_id: int) -> dict[str, Any]:
        return get_decision(connection, decision_id, self.models)

    def replay(self, connection: Connection, decision_id: int) -> dict[str, Any]:
        """Re-evaluate a stored decision with its own model, policy and product versions."""
        row = load_row(connection, decision_id)
        original = row.result["response"]
        model = row.result["model"]
        artifact = self.models.version(model["model_version"], model["model_kind"])
        rescored = artifact.score(row.inputs.get("credit_profile", {}))
        context = {**row.context, "score": float(rescored.score), "pd": float(rescored.pd)}
        decision = decide(
            self.engine,
            RequestedTerms(row.product, row.amount_fen, row.term),
            context,
            self._recorded_products(row.result),
            start=row.decision_date,
            cap=self.cap,
            versions=row.policy_versions,
            trace=True,
        )
        acted = ModelScore(model["arm"], artifact.kind, artifact.version, rescored)
        replayed = response_document(
            decision, acted, decision_id=row.decision_id, application_id=row.application_id
        )
        before, after, differences = compare(original, replayed)
        return {
            "decision_id": str(row.decision_id),
            "original": before,
            "replayed": {**after, "trace": decision.policy.trace},
            "equal": not differences,
            "differences": differences,
        }

    def _recorded_products(self, result: Mapping[str, Any]) -> dict[str, LoadedProduct]:
        """The products as the decision priced with them: the recorded version of the product
        priced (a record made before versions were recorded: its offer's ``product_version``),
        the current files for any other (nothing else was priced). A recorded version that is
        no longer kept is refused (``UNKNOWN_PRODUCT``), never silently swapped for the current
        file."""
        recorded = dict(result.get("product_versions") or {})
        offer = result.get("response", {}).get("offer")
        if not recorded and offer and offer.get("product_version"):
            recorded = {offer["product"]: offer["product_version"]}
        return {
            **self.products,
            **{code: self.product_versions.version(code, v) for code, v in recorded.items()},
        }

    # -- manual review ------------------------------------------------------------------------

    def review_queue(self, connection: Connection, limit: int = 50) -> list[dict[str, Any]]:
        return reviews.review_queue(connection, limit)

    def record_verdict(
        self, connection_or_uow: Any, decision_id: int, operator: str, verdict: str, note: str = ""
    ) -> dict[str, Any]:
        connection = getattr(connection_or_uow, "connection", connection_or_uow)
        return reviews.record_verdict(
            connection, decision_id, operator, verdict, note, self.clock.now()
        )

    # -- the blacklist ------------------------------------------------------------------------

    def blacklist_add(
        self, connection_or_uow: Any, kind: str, value: str, *, reason: str, source: str
    ) -> dict[str, Any]:
        connection = getattr(connection_or_uow, "connection", connection_or_uow)
        return blacklist_entries.add_entry(
            connection, self.hasher, kind, value, reason=reason, source=source, at=self.clock.now()
        )

    def blacklist_remove(
        self,
        connection_or_uow: Any,
        kind: str,
        *,
        value: str | None = None,
        identifier_hash: str | None = None,
    ) -> dict[str, Any]:
        connection = getattr(connection_or_uow, "connection", connection_or_uow)
        return blacklist_entries.remove_entry(
            connection,
            kind,
            value=value,
            digest=identifier_hash,
            hasher=self.hasher if value is not None else None,
        )

    def blacklist_list(
        self, connection: Connection, *, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        return blacklist_entries.list_entries(connection, kind=kind, limit=limit, offset=offset)


def production_hasher() -> HashIdentifier:
    """The blind index under the local key file's index key (``$LENDCORE_KEY_FILE`` or
    ``var/keys/``): the same key the rest of lendcore indexes personal data with."""
    from lendcore.collections.contacts import default_key_provider
    from lendcore.decisioning.fraud import keyed_hasher

    return keyed_hasher(default_key_provider().index_key())


def default_service(hasher: HashIdentifier | None = None) -> DecisionService:
    """The shipped policies, products and models, the production hasher (unless given), the IP
    list named by ``LENDCORE_IP_LIST`` (else the sandbox), the wall clock."""
    from lendcore.decisioning.ip_list import default_ip_reputation
    from lendcore.decisioning.policy import PolicyStore
    from lendcore.products.loader import load_products

    return DecisionService(
        PolicyEngine(PolicyStore()),
        load_products(),
        ModelRegistry(),
        hasher,
        ip_reputation=default_ip_reputation(),
    )
