"""The person behind a phone number, across debtors: their contact history and their lock row.

The same phone can be on several borrowers' contact lists (a parent who is every sibling's
emergency contact), and a borrower's own number on someone else's list. The 48-hour contact
interval and the daily cap on unanswered dials protect that person, so the gate service also
reads the contacts made *about other debtors* with the same number -- matched by the number's
blind index, never by decrypting -- and hands them to the gate as ``GateFacts.same_number``.

On PostgreSQL the number's row in ``collection_numbers`` is locked ``FOR UPDATE`` after the
debtor's row, before this history is read: two agents calling one person about two debtors are
judged one after the other, and the second sees the first's reservation. Lock order is always
agent, debtor, number, and a check takes one number, so no two checks wait on each other in a
cycle. SQLite's single writer (BEGIN IMMEDIATE) serialises all checks already.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from lendcore.collections.contacts import SELF
from lendcore.collections.context import EXPIRY_MARGIN, from_db, utc
from lendcore.collections.model import Channel, HistoryEntry, Outcome, Party
from lendcore.collections.pack import CompiledPack
from lendcore.collections.tables import collection_attempts, collection_numbers

_a = collection_attempts.c
_OUTCOMES = {o.value: o for o in Outcome}
_NUMBER_COLUMNS = (
    _a.phone_index,
    _a.borrower_id,
    _a.contact_id,
    _a.requested_at,
    _a.party,
    _a.channel,
    _a.status,
    _a.outcome,
    _a.grant_expires_at,
)
_SAME_NUMBER = select(*_NUMBER_COLUMNS).where(
    _a.phone_index.in_(bindparam("indexes", expanding=True)),
    _a.requested_at >= bindparam("since"),
)

# (borrower the attempt was about, its contact point, what happened to the number)
NumberHistory = list[tuple[int, str, HistoryEntry]]


def _entry(row: Any, expired_before: datetime) -> HistoryEntry | None:
    status = row.status
    if status == "COMPLETED":
        outcome = _OUTCOMES[row.outcome]
    elif status == "DIALED":  # connected, not reported yet
        outcome = Outcome.ANSWERED
    elif status == "RESERVED" and from_db(row.grant_expires_at) < expired_before:
        return None  # expired unused: nobody was called
    else:
        # Outcome unknown: taken as a dial that did not connect, the worst case for both rules
        # these entries feed (the interval counts any contact, the daily dials the unanswered).
        outcome = Outcome.UNANSWERED
    # Party as made: a borrower's own number called as a borrower counts for the daily dials,
    # not for the third-party interval.
    party = Party(row.party)
    contact_id = "number" if party is Party.CONTACT else None
    return HistoryEntry(from_db(row.requested_at), party, Channel(row.channel), outcome, contact_id)


def load_number_history(
    connection: Connection, indexes: Iterable[str], at: datetime, pack: CompiledPack
) -> dict[str, NumberHistory]:
    """Every contact within the pack's horizon with each of these numbers, any debtor."""
    wanted = sorted({i for i in indexes if i})
    found: dict[str, NumberHistory] = {i: [] for i in wanted}
    if not wanted:
        return found
    expired_before = at - EXPIRY_MARGIN
    rows = connection.execute(
        _SAME_NUMBER, {"indexes": wanted, "since": utc(at - pack.horizon)}
    ).all()
    for row in rows:
        entry = _entry(row, expired_before)
        if entry is not None:
            point = row.contact_id if row.party == "contact" else SELF
            found[row.phone_index].append((int(row.borrower_id), point, entry))
    return found


def elsewhere(history: NumberHistory, borrower_id: int, point: str) -> tuple[HistoryEntry, ...]:
    """The number's history under any other contact point than (``borrower_id``, ``point``):
    other debtors, or the same debtor listing the same phone twice. That point's own contacts
    are already in the debtor's history, with unknown outcomes judged both ways."""
    return tuple(e for about, at_point, e in history if (about, at_point) != (borrower_id, point))


_NUMBER_LOCK = (
    select(collection_numbers.c.phone_index)
    .where(collection_numbers.c.phone_index == bindparam("phone_index"))
    .with_for_update()
)
_NEW_NUMBER = pg_insert(collection_numbers).on_conflict_do_nothing()


def lock_number(connection: Connection, phone_index: str, at: datetime) -> None:
    """``FOR UPDATE`` on the number's row (created on first use). PostgreSQL only."""
    if connection.dialect.name == "sqlite":
        return
    params = {"phone_index": phone_index}
    if connection.execute(_NUMBER_LOCK, params).first() is None:
        connection.execute(_NEW_NUMBER, {"phone_index": phone_index, "created_at": utc(at)})
        connection.execute(_NUMBER_LOCK, params).one()
