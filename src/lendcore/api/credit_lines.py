"""Credit-line endpoints: a borrower's line (授信额度) and the history of every change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from lendcore.decisioning.credit_lines import credit_line_document

router = APIRouter(prefix="/api", tags=["credit lines"])


@router.get(
    "/credit-lines/{borrower_id}",
    summary="授信额度 / A borrower's credit line with its history",
    responses={404: {"description": "UNKNOWN_CREDIT_LINE: the borrower has no credit line"}},
)
def get_credit_line(borrower_id: int, request: Request) -> dict[str, Any]:
    """The line the approved decision opened: current limit, tier maximum, step-up rule, on-time
    and late counts, and each change (OPENED, REBASED, STEPPED_UP, LATE) with its cause.
    Amounts are yuan strings; ids are strings."""
    with request.app.state.engine.connect() as connection:
        return credit_line_document(connection, borrower_id)
