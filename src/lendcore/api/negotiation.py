"""Hardship negotiation endpoints: policies, calculate, submit, an operator's approval or
rejection, clearing a flagged case, and the case itself."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from lendcore.api.idempotency import run_idempotent
from lendcore.hardship import service
from lendcore.hardship.api_support import calculator, query_policies
from lendcore.kernel.clock import Clock, SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.store.db import UnitOfWork

router = APIRouter(prefix="/api", tags=["hardship"])
_YUAN = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def _yuan(value: str) -> str:
    """A clear message instead of the pattern's ("String should match pattern ...")."""
    text = value.strip()
    if text.startswith("-"):
        raise ValueError("金额不能为负 / cannot be negative")
    if not _YUAN.match(text):
        raise ValueError(
            "应为以元为单位的金额，最多两位小数，如 '1234.56' / expected an amount in yuan with at "
            "most two decimals, e.g. '1234.56'"
        )
    return text


Yuan = Annotated[
    str,
    AfterValidator(_yuan),
    Field(examples=["10000.00"], description="yuan, up to 12 digits and two decimals"),
]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DebtBody(_Body):
    principal: Yuan
    interest: Yuan = "0"
    penalty: Yuan = "0"
    fees: Yuan = "0"


class StatementFile(_Body):
    filename: str = Field(
        min_length=1, max_length=200, description="its extension picks the parser: .csv or .xlsx"
    )
    content_base64: str = Field(min_length=1, description="the exported file, base64")


class CalculateRequest(_Body):
    """Either a loan (its debt and days past due are read from the ledger) or an explicit debt;
    either a declared monthly net income or bank statements to derive it from."""

    loan_id: int | None = Field(None, ge=1)
    debt: DebtBody | None = None
    days_past_due: int | None = Field(None, ge=0, le=10_000)
    policy: str = Field("default", min_length=1, max_length=64, description="hardship policy id")
    monthly_net_income: Yuan | None = None
    statements: list[StatementFile] | None = Field(None, max_length=12)
    city: str = Field(min_length=1, max_length=40, description="for the essential-expense baseline")
    household_size: int = Field(1, ge=1, le=20)
    other_debt_payments: Yuan = "0"
    declared_expenses: Yuan | None = None
    liquid_funds: Yuan | None = Field(None, description="savings the borrower can draw on")
    hardship_reason: str | None = Field(
        None, max_length=200, description="困难原因, for the script"
    )
    borrower_name: str | None = Field(
        None, max_length=40, description="drops transfers between the borrower's own accounts"
    )
    proof_of_hardship: bool = False
    seed: int | None = Field(None, description="stress-test seed (default: the case id)")

    @model_validator(mode="after")
    def _sources(self) -> CalculateRequest:
        if (self.loan_id is None) == (self.debt is None):
            raise ValueError("give exactly one of loan_id or debt")
        if self.debt is not None and self.days_past_due is None:
            raise ValueError("days_past_due is required with an explicit debt")
        if self.monthly_net_income is None and not self.statements:
            raise ValueError("give monthly_net_income or statements")
        return self


class Consent(_Body):
    agreed: bool
    channel: Literal["oral", "written", "app"]
    recording_ref: str | None = Field(None, max_length=120)


class SubmitRequest(_Body):
    case_id: int = Field(ge=1)
    plan: Literal["aggressive", "balanced", "conservative"]
    consent: Consent
    agent_id: str = Field(min_length=1, max_length=40)


class DecisionRequest(_Body):
    operator: str = Field(min_length=1, max_length=64)
    note: str = Field("", max_length=500)
    business_date: date | None = Field(None, description="defaults to today (Asia/Shanghai)")


class ApproveRequest(DecisionRequest):
    down_payment_reference: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="首付款回单号: the payment channel's receipt serial for the plan's down "
        "payment; required when the plan has one, and usable once only",
    )


class ClearFlagRequest(_Body):
    operator: str = Field(min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=500, description="核查说明: what was checked")


def _clock(request: Request) -> Clock:
    clock = getattr(request.app.state, "clock", None)
    return clock if clock is not None else SystemClock()


def _engine_request(body: CalculateRequest) -> dict[str, Any]:
    document = body.model_dump(mode="json", exclude_none=True, exclude={"statements", "seed"})
    if body.statements:
        files = []
        for item in body.statements:
            try:
                files.append((item.filename, base64.b64decode(item.content_base64, validate=True)))
            except (binascii.Error, ValueError):
                raise ValidationError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"statement {item.filename!r} is not base64",
                    {"field": "statements"},
                ) from None
        document["statements"] = files
    return document


@router.get("/policy/query", summary="困难减免政策 / List and filter hardship policies")
def get_policies(
    request: Request,
    policy_id: Annotated[str | None, Query(alias="id")] = None,
    scope: Literal["platform", "product"] | None = None,
    product: str | None = None,
    days_past_due: Annotated[
        int | None,
        Query(ge=0, description="a case's days past due: the policies it is eligible under"),
    ] = None,
    min_days_past_due: Annotated[
        int | None,
        Query(ge=0, deprecated=True, description="the old name of days_past_due"),
    ] = None,
) -> dict[str, Any]:
    """Files that do not load are listed under ``invalid`` instead of failing the query."""
    if days_past_due is not None and min_days_past_due not in (None, days_past_due):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "give days_past_due (min_days_past_due is its deprecated name), not both",
            {"field": "days_past_due"},
        )
    dpd = days_past_due if days_past_due is not None else min_days_past_due
    found: dict[str, Any] = query_policies(
        policy_id=policy_id, scope=scope, product=product, dpd=dpd
    )
    return found


@router.post(
    "/negotiation/calculate",
    status_code=201,
    summary="协商方案测算 / Ability, stress test and three plans (kept as a case)",
)
def calculate(
    body: CalculateRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    clock = _clock(request)
    document = _engine_request(body)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        result = service.calculate_case(
            uow, document, calculator(clock), now=clock.now(), actor="api", seed=body.seed
        )
        return 201, result

    return run_idempotent(
        request.app.state.engine,
        "POST /api/negotiation/calculate",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.post(
    "/negotiation/submit",
    status_code=201,
    summary="提交协商方案 / The borrower's chosen plan and consent: pending approval",
)
def submit(body: SubmitRequest, request: Request, idempotency_key: IdempotencyKey = None) -> Any:
    clock = _clock(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        consent = body.consent.model_dump(mode="json")
        return 201, service.submit(
            uow, body.case_id, body.plan, consent, actor=body.agent_id, now=clock.now()
        )

    return run_idempotent(
        request.app.state.engine,
        "POST /api/negotiation/submit",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.post(
    "/negotiation/cases/{case_id}/approve",
    summary="批准并重组 / Approve: restructure the loan, pause collection",
)
def approve(
    case_id: int, body: ApproveRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    clock = _clock(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        day = body.business_date or clock.business_date()
        return 200, service.approve(
            uow,
            case_id,
            operator=body.operator,
            business_date=day,
            now=clock.now(),
            note=body.note,
            down_payment_reference=body.down_payment_reference,
        )

    return run_idempotent(
        request.app.state.engine,
        f"POST /api/negotiation/cases/{case_id}/approve",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.post("/negotiation/cases/{case_id}/reject", summary="驳回 / Reject a pending plan")
def reject(
    case_id: int, body: DecisionRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    clock = _clock(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, service.reject(
            uow, case_id, operator=body.operator, note=body.note, now=clock.now()
        )

    return run_idempotent(
        request.app.state.engine,
        f"POST /api/negotiation/cases/{case_id}/reject",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.post(
    "/negotiation/cases/{case_id}/clear-flag",
    summary="解除流水标记 / An operator reviewed a flagged statement: clear the flag",
)
def clear_flag(
    case_id: int, body: ClearFlagRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> Any:
    clock = _clock(request)

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, service.clear_flag(
            uow, case_id, operator=body.operator, note=body.note, now=clock.now()
        )

    return run_idempotent(
        request.app.state.engine,
        f"POST /api/negotiation/cases/{case_id}/clear-flag",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.get("/negotiation/cases/{case_id}", summary="协商案件 / A hardship case")
def get_case(case_id: int, request: Request) -> dict[str, Any]:
    with request.app.state.engine.connect() as connection:
        return service.get_case(connection, case_id)
