"""The facts the gate service judges on, read from the database.

- :func:`load_facts`: the loan, its borrower's time zone, the loan's flags and one contact point
  (one query); :func:`load_facts_many` the same for a batch (two queries).
- :func:`load_history`: the contact history of one debtor (one query);
  :func:`load_history_many` the same for many debtors asked about at one moment (one query).
- :func:`agent_status`: the agent's status and whether their daily cap is reached (one query).
- :func:`lock_debtor`: the debtor's row ``FOR UPDATE`` (PostgreSQL), taken before the history
  is read so two checks about one person are judged one after the other.

Hot-path statements are built once with bind parameters: building and cache-keying a statement
per call costs more than running it on SQLite.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from lendcore.collections.alerts import ensure_agent
from lendcore.collections.context import (
    EXPIRY_MARGIN,
    AttemptRequest,
    CollectionsContext,
    from_db,
    utc,
)
from lendcore.collections.model import Channel, HistoryEntry, Outcome, Party
from lendcore.collections.pack import CompiledPack, kind_bit, kind_mask
from lendcore.collections.tables import (
    collection_agents,
    collection_attempts,
    collection_contacts,
    collection_debtors,
    collection_loan_flags,
)
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.tables import loans

CHUNK = 500  # ids per IN (...) of a batch read

_c = collection_contacts.c
_f = collection_loan_flags.c
_a = collection_attempts.c

# ---- the loan, the debtor and the contact point --------------------------------------------

_LOAN_COLUMNS = (
    loans.c.borrower_id,
    loans.c.loan_id,
    loans.c.days_past_due,
    loans.c.state,
    borrowers.c.timezone,
    _f.hardship_plan_active,
    _f.investigation_ref,
    _f.investigation_expires_at,
)
_CONTACT_COLUMNS = (
    _c.contact_id,
    _c.loan_id.label("contact_loan_id"),
    _c.consent_scope,
    _c.consent_at,
    _c.consent_withdrawn_at,
    _c.phone_masked,
    _c.phone_index,
)
_LOAN_JOIN = loans.outerjoin(borrowers, borrowers.c.borrower_id == loans.c.borrower_id).outerjoin(
    collection_loan_flags,
    and_(_f.borrower_id == loans.c.borrower_id, _f.loan_id == loans.c.loan_id),
)
_FACTS = (
    select(*_LOAN_COLUMNS, *_CONTACT_COLUMNS)
    .select_from(
        _LOAN_JOIN.outerjoin(
            collection_contacts,
            and_(
                _c.borrower_id == loans.c.borrower_id,
                _c.contact_id == bindparam("contact_id"),
            ),
        )
    )
    .where(loans.c.loan_id == bindparam("loan_id"))
)
_LOANS_MANY = (
    select(*_LOAN_COLUMNS)
    .select_from(_LOAN_JOIN)
    .where(loans.c.loan_id.in_(bindparam("loan_ids", expanding=True)))
)
_CONTACTS_MANY = select(_c.borrower_id, *_CONTACT_COLUMNS).where(
    _c.borrower_id.in_(bindparam("borrower_ids", expanding=True))
)


@dataclass(frozen=True)
class ContactFacts:
    """A contact point as the gate service needs it: consent and the masked number."""

    contact_id: str
    contact_loan_id: int | None  # None: the contact serves every loan of the borrower
    consent_scope: str | None
    consent_at: datetime | None
    consent_withdrawn_at: datetime | None
    phone_masked: str
    phone_index: str  # the number's blind index: who else has called this person


@dataclass(frozen=True)
class DebtorFacts:
    borrower_id: int
    loan_id: int
    days_past_due: int
    state: str
    timezone: str | None
    hardship: bool
    investigation_ref: str | None
    contact: ContactFacts | None  # None when there is no such contact point
    investigation_expires_at: datetime | None = None  # None: no authorisation in force


def _contact(row: Any) -> ContactFacts | None:
    if row is None or row.contact_id is None:
        return None
    return ContactFacts(
        contact_id=row.contact_id,
        contact_loan_id=None if row.contact_loan_id is None else int(row.contact_loan_id),
        consent_scope=row.consent_scope,
        consent_at=row.consent_at,
        consent_withdrawn_at=row.consent_withdrawn_at,
        phone_masked=row.phone_masked,
        phone_index=row.phone_index,
    )


def _debtor(row: Any, contact: ContactFacts | None) -> DebtorFacts:
    return DebtorFacts(
        borrower_id=int(row.borrower_id),
        loan_id=int(row.loan_id),
        days_past_due=int(row.days_past_due),
        state=str(row.state),
        timezone=row.timezone,
        # A restructured loan is performing under a hardship plan (servicing's state machine).
        hardship=bool(row.hardship_plan_active) or row.state == "RESTRUCTURED",
        investigation_ref=row.investigation_ref,
        contact=contact,
        investigation_expires_at=row.investigation_expires_at,
    )


def load_facts(connection: Connection, loan_id: int, contact_id: str) -> DebtorFacts | None:
    """The loan, its borrower's time zone, its flags and one contact point: one query."""
    row = connection.execute(_FACTS, {"loan_id": loan_id, "contact_id": contact_id}).first()
    return None if row is None else _debtor(row, _contact(row))


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def load_facts_many(
    connection: Connection, wanted: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], DebtorFacts | None]:
    """:func:`load_facts` for many (loan_id, contact_id) pairs: the loans in one query, their
    borrowers' contact points in another (per chunk of ids)."""
    pairs = set(wanted)
    rows: dict[int, Any] = {}
    for ids in _chunks(loan_id for loan_id, _ in pairs):
        for loan in connection.execute(_LOANS_MANY, {"loan_ids": ids}):
            rows[int(loan.loan_id)] = loan
    points: dict[tuple[int, str], ContactFacts | None] = {}
    for ids in _chunks(int(loan.borrower_id) for loan in rows.values()):
        for point in connection.execute(_CONTACTS_MANY, {"borrower_ids": ids}):
            points[int(point.borrower_id), point.contact_id] = _contact(point)
    out: dict[tuple[int, str], DebtorFacts | None] = {}
    for loan_id, contact_id in pairs:
        found = rows.get(loan_id)
        out[loan_id, contact_id] = (
            None
            if found is None
            else _debtor(found, points.get((int(found.borrower_id), contact_id)))
        )
    return out


# ---- the contact history -------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """An attempt whose outcome is not known yet (reserved, dialling, or the dialer failed)."""

    at: datetime
    party: Party
    channel: Channel
    contact_id: str | None


History = tuple[list[HistoryEntry], list[Pending]]

_OUTCOMES = {o.value: o for o in Outcome}
_PARTIES = {p.value: p for p in Party}
_CHANNELS = {c.value: c for c in Channel}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_reach = collection_attempts.alias("reach")
_r = _reach.c
# A borrower call that may have connected: answered, refused, or not known yet -- unless its
# grant expired unused. (No IN (...): a literal list compiles to an expanding parameter,
# re-rendered per call.)
_MAY_HAVE_CONNECTED = (
    _r.party == "borrower",
    _r.channel == "call",
    or_(_r.outcome == "answered", _r.outcome == "refused", _r.outcome.is_(None)),
    or_(_r.status != "RESERVED", _r.grant_expires_at >= bindparam("expired_before")),
)
# One debtor: the last such call, as a scalar subquery on the bound id (computed once).
_LAST_REACH = (
    select(func.max(_r.requested_at))
    .where(_r.borrower_id == bindparam("borrower_id"), *_MAY_HAVE_CONNECTED)
    .scalar_subquery()
)
# Many debtors: each one's last such call, grouped once and joined (a correlated subquery would
# be evaluated again for every history row).
_LAST_REACHES = (
    select(_r.borrower_id, func.max(_r.requested_at).label("last_reach"))
    .where(_r.borrower_id.in_(bindparam("borrower_ids", expanding=True)), *_MAY_HAVE_CONNECTED)
    .group_by(_r.borrower_id)
    .subquery("last_reaches")
)


_HISTORY_COLUMNS = (
    _a.borrower_id,
    _a.requested_at,
    _a.party,
    _a.channel,
    _a.contact_id,
    _a.status,
    _a.outcome,
    _a.grant_expires_at,
)


def _in_history(last_reach: Any) -> Any:
    return or_(
        _a.requested_at >= bindparam("since"),
        _a.party == "contact",
        and_(
            _a.party == "borrower",
            _a.channel == "call",
            _a.requested_at >= func.coalesce(last_reach, bindparam("epoch")),
        ),
    )


_HISTORY = select(*_HISTORY_COLUMNS).where(
    _a.borrower_id == bindparam("borrower_id"), _in_history(_LAST_REACH)
)
_HISTORY_MANY = (
    select(*_HISTORY_COLUMNS)
    .select_from(
        collection_attempts.outerjoin(_LAST_REACHES, _LAST_REACHES.c.borrower_id == _a.borrower_id)
    )
    .where(
        _a.borrower_id.in_(bindparam("borrower_ids", expanding=True)),
        _in_history(_LAST_REACHES.c.last_reach),
    )
)


def _params(at: datetime, pack: CompiledPack) -> dict[str, Any]:
    return {
        "since": utc(at - pack.horizon),
        "expired_before": utc(at - EXPIRY_MARGIN),
        "epoch": _EPOCH,
    }


def _classify(rows: Iterable[Any], expired_before: datetime) -> History:
    known: list[HistoryEntry] = []
    pending: list[Pending] = []
    for row in rows:
        moment = from_db(row.requested_at)
        party, channel = _PARTIES[row.party], _CHANNELS[row.channel]
        contact_id = row.contact_id if party is Party.CONTACT else None
        status = row.status
        if status == "COMPLETED":
            known.append(HistoryEntry(moment, party, channel, _OUTCOMES[row.outcome], contact_id))
        elif status == "DIALED":  # the network connected; the agent has not reported
            known.append(HistoryEntry(moment, party, channel, Outcome.ANSWERED, contact_id))
        elif status == "RESERVED" and from_db(row.grant_expires_at) < expired_before:
            continue  # the grant expired unused: no number was released, nobody was called
        else:
            pending.append(Pending(moment, party, channel, contact_id))
    return known, pending


def load_history(
    connection: Connection, borrower_id: int, at: datetime, pack: CompiledPack
) -> History:
    """Every contact about the debtor the gate needs: entries inside the pack's horizon, every
    contact-party entry ever (refusals and lifetime caps), and the borrower calls since the last
    one that may have connected (unreachability has no time limit)."""
    params = _params(at, pack)
    rows = connection.execute(_HISTORY, {**params, "borrower_id": borrower_id}).all()
    return _classify(rows, params["expired_before"])


def load_history_many(
    connection: Connection, borrower_ids: Iterable[int], at: datetime, pack: CompiledPack
) -> dict[int, History]:
    """:func:`load_history` of many debtors asked about at the same moment ``at``."""
    params = _params(at, pack)
    grouped: dict[int, list[Any]] = {}
    wanted = set(borrower_ids)
    for ids in _chunks(wanted):
        for row in connection.execute(_HISTORY_MANY, {**params, "borrower_ids": ids}):
            grouped.setdefault(int(row.borrower_id), []).append(row)
    return {b: _classify(grouped.get(b, ()), params["expired_before"]) for b in wanted}


# ---- the agent and the debtor lock ---------------------------------------------------------


def agent_day(at: datetime, ctx: CollectionsContext) -> date:
    return at.astimezone(ctx.business_timezone).date()


@functools.cache
def _agent_query(parties: tuple[str, ...], channels: tuple[str, ...], lock: bool) -> Any:
    """Status and today's counted attempts in one query, built once per (cap kinds, lock): the
    kinds are inlined, since an IN-list parameter is re-rendered on every execution."""
    counted = select(func.count()).where(
        _a.agent_id == bindparam("agent_id"),
        _a.agent_day == bindparam("day"),
        or_(*(_a.party == literal_column(f"'{p}'") for p in parties), false()),
        or_(*(_a.channel == literal_column(f"'{c}'") for c in channels), false()),
    )
    query = select(collection_agents.c.status, counted.scalar_subquery().label("used_today")).where(
        collection_agents.c.agent_id == bindparam("agent_id")
    )
    return query.with_for_update(of=collection_agents) if lock else query


def agent_status(
    connection: Connection,
    request: AttemptRequest,
    pack: CompiledPack,
    ctx: CollectionsContext,
    *,
    lock: bool,
) -> tuple[str, bool]:
    """The agent's status (created ACTIVE on first use when ``lock``; locked FOR UPDATE on
    PostgreSQL) and whether the pack's per-agent daily cap is reached for this kind of contact.
    One query: status and today's count together."""
    cap = pack.pack.rules.agent_daily_cap
    counted = cap is not None and bool(
        kind_bit(request.party, request.channel) & kind_mask(cap.channels, cap.parties)
    )
    params = {"agent_id": request.agent_id, "day": agent_day(request.at, ctx)}
    query = _agent_query(
        tuple(sorted(str(p) for p in cap.parties)) if cap else (),
        tuple(sorted(str(c) for c in cap.channels)) if cap else (),
        lock and connection.dialect.name != "sqlite",
    )
    row = connection.execute(query, params).first()
    if row is None:
        if not lock:  # a pre-check writes nothing: an agent not seen yet is an active one
            return "ACTIVE", False
        ensure_agent(connection, request.agent_id, request.at, lock=True)
        row = connection.execute(query, params).one()
    reached = counted and cap is not None and int(row.used_today) >= cap.max
    return str(row.status), reached


_DEBTOR_LOCK = (
    select(collection_debtors.c.borrower_id)
    .where(collection_debtors.c.borrower_id == bindparam("borrower_id"))
    .with_for_update()
)
_NEW_DEBTOR = pg_insert(collection_debtors).on_conflict_do_nothing()


def lock_debtor(connection: Connection, borrower_id: int, at: datetime) -> None:
    """``FOR UPDATE`` on the debtor's row (created on first use). PostgreSQL only: on SQLite the
    transaction already holds the database's single write lock (BEGIN IMMEDIATE)."""
    if connection.dialect.name == "sqlite":
        return
    params = {"borrower_id": borrower_id}
    if connection.execute(_DEBTOR_LOCK, params).first() is None:
        connection.execute(_NEW_DEBTOR, {"borrower_id": borrower_id, "created_at": utc(at)})
        connection.execute(_DEBTOR_LOCK, params).one()
