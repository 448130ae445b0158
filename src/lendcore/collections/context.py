"""What the collections use cases share: the request and decision types, the context of ports
and settings, and the time helpers for the call log.

A :class:`CollectionsContext` is built once per process (:func:`default_context`: the local key
file and the SANDBOX ports) or by a test or the simulator with its own ports. Times in the call
log are stored in UTC (:func:`utc`); SQLite hands them back naive (:func:`from_db`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from lendcore.collections.alerts import METRICS, AlertWebhook, Metrics, SandboxWebhook
from lendcore.collections.contacts import Vault, default_key_provider
from lendcore.collections.loader import compliance_dir, get_pack, load_pack_file
from lendcore.collections.model import DEFAULT_PACK, CallType, Channel, Party
from lendcore.collections.pack import CompiledPack
from lendcore.collections.ports import Dialer, SandboxDialer, SandboxSmsSender, SmsSender
from lendcore.kernel.clock import DEFAULT_TIMEZONE
from lendcore.kernel.ids import SnowflakeIds

GRANT_TTL = timedelta(minutes=5)
# A reservation is taken as never dialled only this long after its grant expired: a margin for
# clock skew between the host that checks and the host that dials.
EXPIRY_MARGIN = timedelta(minutes=1)
PENDING = ("RESERVED", "DIALING", "FAILED")  # outcome unknown


class Purpose(StrEnum):
    COLLECTION = "collection"
    # A pre-due reminder SMS to the borrower: a service notice, not collection. The gate is asked
    # as for collection with NOT_OVERDUE and HARDSHIP_PLAN_ACTIVE waived; everything else holds.
    REMINDER = "reminder"


class ServiceReason(StrEnum):
    """Denials the service adds to the gate's (a public contract like Reason: add, never
    rename)."""

    AGENT_SUSPENDED = "AGENT_SUSPENDED"
    AGENT_DAILY_CAP = "AGENT_DAILY_CAP"
    UNKNOWN_LOAN = "UNKNOWN_LOAN"
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"  # no such contact point for this loan
    NO_CONSENT = "NO_CONSENT"  # consent withdrawn, or not yet given at that time
    MISSING_FACTS = "MISSING_FACTS"  # e.g. the debtor's time zone is unknown
    REMINDER_SCOPE = "REMINDER_SCOPE"  # a reminder is an SMS to a borrower not yet overdue


@dataclass(frozen=True)
class AttemptRequest:
    loan_id: int
    agent_id: str
    party: Party
    channel: Channel
    call_type: CallType
    trigger_reason: str | None
    at: datetime  # now: time is a parameter
    contact_id: str | None = None  # required for a contact
    authorisation_ref: str | None = None  # must match the loan's recorded authorisation
    purpose: Purpose = Purpose.COLLECTION


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    pack_version: str
    attempt_id: int | None = None
    grant_id: str | None = None
    audit_seq: int | None = None
    alert_id: int | None = None
    masked_number: str | None = None


class IdSource(Protocol):
    def next_id(self) -> int: ...


def _default_ids() -> IdSource:
    return SnowflakeIds()


@dataclass
class CollectionsContext:
    """The ports and settings the use cases need (one per process; tests build their own)."""

    vault: Vault
    dialer: Dialer
    sms: SmsSender
    webhook: AlertWebhook
    pack_code: str = DEFAULT_PACK
    grant_ttl: timedelta = GRANT_TTL
    qa_rate: float = 0.2  # share of connected calls sampled for quality review
    metrics: Metrics = field(default_factory=lambda: METRICS)
    business_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    ids: IdSource = field(default_factory=_default_ids)
    company: str = "lendcore"  # the name scripts use
    callback_number: str = "4000000000"

    packs_dir: Path | None = None  # default: policies/compliance
    _pack_file: Path | None = field(default=None, init=False, repr=False)

    def pack(self) -> CompiledPack:
        """The pack, re-read when its file changes: a threshold edit needs no restart."""
        if self._pack_file is None:
            directory = self.packs_dir or compliance_dir()
            get_pack(self.pack_code, directory)  # validates the code against the directory
            self._pack_file = directory / f"{self.pack_code}.yaml"
        return load_pack_file(self._pack_file)  # a stat() per call; parsed only on change


_default: CollectionsContext | None = None


def default_context() -> CollectionsContext:
    """Local key file and the SANDBOX ports: what ``lendcore api`` runs with today."""
    global _default
    if _default is None:
        _default = CollectionsContext(
            vault=Vault.from_provider(default_key_provider()),
            dialer=SandboxDialer(),
            sms=SandboxSmsSender(),
            webhook=SandboxWebhook(),
        )
    return _default


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def from_db(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
