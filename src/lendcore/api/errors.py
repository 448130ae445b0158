"""One error shape for every failure: {"error": {"code", "message", "details"}}.

Domain errors map to 4xx by what they mean; request validation to 422 with the field paths; a
5xx is a bug (and says so without leaking internals)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lendcore.kernel.errors import ErrorCode, LendcoreError, PolicyViolation

log = logging.getLogger("lendcore.api")

_NOT_FOUND = {
    ErrorCode.UNKNOWN_LOAN,
    ErrorCode.UNKNOWN_PRODUCT,
    ErrorCode.CASE_NOT_FOUND,
    ErrorCode.UNKNOWN_APPLICATION,
    ErrorCode.UNKNOWN_CREDIT_LINE,
}
_CONFLICT = {
    ErrorCode.ILLEGAL_TRANSITION,
    ErrorCode.LOAN_NOT_LIVE,
    ErrorCode.ALREADY_DISBURSED,
    ErrorCode.CASE_STATE_CONFLICT,
    ErrorCode.DECISION_NOT_APPROVED,
    ErrorCode.CASE_FLAGGED,
    ErrorCode.CASE_STALE,
    ErrorCode.DOWN_PAYMENT_REFERENCE_USED,
}


def status_for(error: LendcoreError) -> int:
    if error.code in _NOT_FOUND:
        return 404
    if error.code in _CONFLICT:
        return 409
    if isinstance(error, PolicyViolation):
        return 422
    return 422


class ErrorInfo(BaseModel):
    """错误 / What went wrong: a stable code for programs, a message for people."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(
        description="错误码 machine-readable error code (lendcore.kernel.errors.ErrorCode, or "
        "INVALID_REQUEST for a body that fails validation)",
        examples=["INVALID_REQUEST"],
    )
    message: str = Field(description="错误信息 what went wrong, for people")
    details: dict[str, Any] = Field(
        description="详情 what the error is about: for INVALID_REQUEST ``fields`` "
        "[{field, problem}]; otherwise the field, the id or the conflicting record"
    )


class ErrorBody(BaseModel):
    """统一错误体 / The one error shape every 4xx and 5xx has."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorInfo = Field(description="错误 the error")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install(app: FastAPI) -> None:
    @app.exception_handler(LendcoreError)
    async def _domain(_: Request, exc: LendcoreError) -> JSONResponse:
        return JSONResponse(error_body(str(exc.code), exc.message, exc.details), status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields) or "invalid request"
        return JSONResponse(error_body("INVALID_REQUEST", message, {"fields": fields}), 422)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("INTERNAL", "internal error: this is a bug"), 500)
