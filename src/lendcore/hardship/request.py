"""The calculation request, validated at the edge (pydantic), money as yuan strings.

Bad input raises :class:`lendcore.kernel.errors.ValidationError` with a machine-readable code
(``INVALID_ARGUMENT`` with the field paths, or ``INVALID_AMOUNT``), so the API answers 422 and
the CLI one clear line; nothing is computed on a request that is not valid.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError as SchemaError

from lendcore.hardship.plans import Debt
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.money import parse_major

MAX_AMOUNT = 10**14  # fen: one trillion yuan; anything larger is a typo


def _fen(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError("write amounts as yuan strings, e.g. '1234.56' (never a binary float)")
    if not isinstance(value, (str, int)):
        raise ValueError("expected an amount in yuan, e.g. '1234.56'")
    try:
        fen = parse_major(value)
    except LendcoreError as exc:
        raise ValueError(exc.message) from None
    if fen < 0:
        raise ValueError("an amount cannot be negative")
    if fen > MAX_AMOUNT:
        raise ValueError("amount too large")
    return fen


Fen = Annotated[int, BeforeValidator(_fen)]
HardshipReason = Literal[
    "job_loss", "illness", "income_drop", "business_failure", "family", "other"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DebtIn(_Strict):
    principal: Fen
    interest: Fen = 0
    penalty: Fen = 0
    fees: Fen = 0

    def to_debt(self) -> Debt:
        return Debt(self.principal, self.interest, self.penalty, self.fees)


class HardshipRequest(_Strict):
    """What :func:`lendcore.hardship.calculate.calculate` takes. Either a declared
    ``monthly_net_income`` or ``statements`` (file name, bytes) to derive it from."""

    debt: DebtIn
    days_past_due: int = Field(ge=0, le=10_000)
    policy: str = Field(default="default", min_length=1, max_length=64)
    monthly_net_income: Fen | None = None
    statements: tuple[tuple[str, bytes], ...] = Field(default=(), max_length=12)
    city: str = Field(min_length=1, max_length=40)
    household_size: int = Field(default=1, ge=1, le=20)
    other_debt_payments: Fen = 0
    declared_expenses: Fen | None = None
    liquid_funds: Fen | None = None  # savings for the down payment; default: statements' balance
    proof_of_hardship: bool = False
    hardship_reason: HardshipReason = "other"
    borrower_name: str | None = Field(
        default=None, max_length=40
    )  # spots transfers to own accounts

    @model_validator(mode="after")
    def _income_source(self) -> HardshipRequest:
        if self.monthly_net_income is None and not self.statements:
            raise ValueError("give monthly_net_income or statements")
        if self.debt.principal + self.debt.interest + self.debt.penalty + self.debt.fees <= 0:
            raise ValueError("the debt must be positive")
        for name, content in self.statements:
            if not name or not content:
                raise ValueError(f"statement {name!r} is empty")
        return self


def parse_request(data: Any) -> HardshipRequest:
    """Validate a request (a mapping, e.g. the API body or the CLI's JSON)."""
    if isinstance(data, HardshipRequest):
        return data
    if not isinstance(data, dict):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "the request must be a JSON object")
    document = dict(data)
    if document.get("statements"):
        document["statements"] = tuple(tuple(item) for item in document["statements"])
    try:
        return HardshipRequest.model_validate(document)
    except SchemaError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(request)", "problem": e["msg"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, message or "invalid request", {"fields": fields}
        ) from None
