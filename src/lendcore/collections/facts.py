"""Gate facts from a JSON document (the what-if CLI today, the API later).

The document is checked strictly: unknown keys, missing keys, a string where a number belongs, a
time without an offset, an unknown time zone are all ``INVALID_FACTS`` errors. Only
``trigger_reason`` may be absent; the gate then denies with TRIGGER_REASON_REQUIRED, because a
missing reason is a verdict about the request, not a malformed document.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic import ValidationError as SchemaError

from lendcore.collections.model import (
    DEFAULT_PACK,
    CallType,
    Channel,
    ContactRequest,
    ContactScope,
    GateFacts,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
)
from lendcore.kernel.errors import ErrorCode, ValidationError

MAX_HISTORY = 100_000  # far above a debtor's lifetime of contacts; refuses a runaway document


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Loan(_Strict):
    days_past_due: Annotated[StrictInt, Field(ge=0)]
    fraud_investigation_authorised: StrictBool
    hardship_plan_active: StrictBool


class _Request(_Strict):
    at: AwareDatetime
    party: Party
    channel: Channel
    call_type: CallType
    trigger_reason: str | None = None
    contact_id: str | None = None
    contact_scope: ContactScope | None = None


class _Entry(_Strict):
    at: AwareDatetime
    party: Party
    channel: Channel
    outcome: Outcome
    contact_id: str | None = None


class FactsDocument(_Strict):
    pack: str = DEFAULT_PACK
    debtor_timezone: str = Field(min_length=1)
    loan: _Loan
    request: _Request
    history: Annotated[list[_Entry], Field(max_length=MAX_HISTORY)]


def parse_facts(text: str | bytes) -> tuple[str, GateFacts]:
    """The pack code asked for and the validated facts; INVALID_FACTS on any defect."""
    try:
        doc = FactsDocument.model_validate_json(text)
    except SchemaError as exc:
        raise ValidationError(ErrorCode.INVALID_FACTS, _summary(exc)) from None
    return doc.pack, to_facts(doc)


def to_facts(doc: FactsDocument) -> GateFacts:
    try:
        zone = ZoneInfo(doc.debtor_timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            ErrorCode.INVALID_FACTS,
            f"debtor_timezone is not an IANA time zone: {doc.debtor_timezone!r}",
        ) from None
    r = doc.request
    return GateFacts(
        debtor_timezone=zone,
        loan=LoanState(
            days_past_due=doc.loan.days_past_due,
            fraud_investigation_authorised=doc.loan.fraud_investigation_authorised,
            hardship_plan_active=doc.loan.hardship_plan_active,
        ),
        request=ContactRequest(
            at=r.at,
            party=r.party,
            channel=r.channel,
            call_type=r.call_type,
            trigger_reason=r.trigger_reason,
            contact_id=r.contact_id,
            contact_scope=r.contact_scope,
        ),
        history=tuple(
            HistoryEntry(
                at=e.at,
                party=e.party,
                channel=e.channel,
                outcome=e.outcome,
                contact_id=e.contact_id,
            )
            for e in doc.history
        ),
    )


def _summary(exc: SchemaError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
