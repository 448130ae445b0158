"""Fraud-investigation authorisations: record, revoke, list (``/api/collections/investigations``).

The gate's one exception to "no contact of a loan that is not overdue" is an INVESTIGATION call
quoting an authorisation recorded here; an expired or revoked one is denied
(INVESTIGATION_NOT_AUTHORISED). Every change is appended to the audit chain. Domain errors (an
unknown loan, a duplicate reference, revoking one no longer in force) are 4xx with their code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lendcore.collections.flags import (
    authorise_investigation,
    list_investigations,
    revoke_investigation,
)
from lendcore.kernel.clock import Clock, SystemClock
from lendcore.store.db import UnitOfWork

router = APIRouter(prefix="/api/collections/investigations", tags=["collections"])


def _now(request: Request) -> datetime:
    clock: Clock | None = getattr(request.app.state, "clock", None)
    return (clock or SystemClock()).now()


class AuthorisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loan_id: int = Field(ge=1)
    reference: str = Field(min_length=1, max_length=64)
    authorised_by: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)
    expires_at: AwareDatetime | None = None  # default: 30 days


class RevocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoked_by: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)


@router.post("", status_code=201, summary="记录调查授权 / Record an investigation authorisation")
def post_authorisation(body: AuthorisationIn, request: Request) -> dict[str, Any]:
    with UnitOfWork(request.app.state.engine) as uow:
        document = authorise_investigation(
            uow.connection,
            body.loan_id,
            body.reference,
            body.authorised_by,
            _now(request),
            reason=body.reason,
            expires_at=body.expires_at,
        )
        uow.commit()
    return document


@router.delete(
    "/{loan_id}/{reference}", summary="撤销调查授权 / Revoke an investigation authorisation"
)
def delete_authorisation(
    loan_id: int, reference: str, body: RevocationIn, request: Request
) -> dict[str, Any]:
    with UnitOfWork(request.app.state.engine) as uow:
        document = revoke_investigation(
            uow.connection, loan_id, reference, body.revoked_by, _now(request), reason=body.reason
        )
        uow.commit()
    return document


@router.get("", summary="调查授权列表 / The register, with each one's status now")
def get_authorisations(
    request: Request, loan_id: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    with request.app.state.engine.connect() as connection:
        items = list_investigations(connection, _now(request), loan_id)
    return {"items": items, "count": len(items)}
