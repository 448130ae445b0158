"""Product definitions: the schema every ``policies/products/*.yaml`` file must satisfy.

Amounts are written in yuan as strings ("3000.00") and held in fen; rates are annual fractions
("0.1800"). A product file is data a risk analyst edits; the schema is what keeps an edit from
breaking the books.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lendcore.kernel.money import Rounding, parse_major
from lendcore.schedule.model import DayCount, Method, PeriodUnit


def _fen(value: Any) -> int:
    if isinstance(value, float):
        raise ValueError("write amounts as strings, e.g. '500.00' (a float is not exact)")
    return parse_major(value)


Fen = Annotated[int, BeforeValidator(_fen)]
Rate = Annotated[Decimal, Field(ge=0, le=Decimal("0.36"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    min: Fen
    max: Fen

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not 0 < self.min <= self.max:
            raise ValueError("need 0 < min <= max")
        return self


class TermRange(_Strict):
    unit: PeriodUnit
    min: int = Field(ge=1)
    max: int = Field(ge=1, le=1200)

    @model_validator(mode="after")
    def _ordered(self) -> TermRange:
        if self.min > self.max:
            raise ValueError("need min <= max")
        return self


class RateRange(_Strict):
    min: Rate
    max: Rate

    @model_validator(mode="after")
    def _ordered(self) -> RateRange:
        if self.min > self.max:
            raise ValueError("need min <= max")
        return self


class Fees(_Strict):
    """Fees the borrower pays. Upfront fees are withheld from the disbursement."""

    upfront_fixed: Fen = 0
    upfront_rate: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal(0)  # of the principal
    per_period_fixed: Fen = 0
    per_period_rate: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal(0)  # of the principal


class Prepayment(_Strict):
    """How early repayment works. ``recompute`` states the rule for the rest of the schedule:
    ``reduce_installment`` keeps the remaining due dates and re-amortizes the smaller balance
    over them (each later instalment shrinks). The current period's interest is charged in
    full whenever its instalment is paid, early or not."""

    allowed: bool = True
    recompute: Literal["reduce_installment"] = "reduce_installment"


DEFAULT_WATERFALL = (
    "overdue_penalty",
    "overdue_interest",
    "overdue_fee",
    "overdue_principal",
    "current_interest",
    "current_fee",
    "current_principal",
)


class Names(_Strict):
    zh_CN: str = Field(alias="zh-CN")
    en: str


class Product(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    name: Names
    version: int = Field(ge=1)
    effective_from: date
    currency: str = Field(default="CNY", pattern=r"^CNY$")
    amount: Range
    term: TermRange
    methods: tuple[Method, ...] = Field(min_length=1)
    rate: RateRange
    day_count: DayCount
    rounding: Rounding = Rounding.HALF_UP
    fees: Fees = Fees()
    penalty_rate: Rate  # annual rate on overdue amounts; the cap still binds the all-in cost
    cap: Rate | None = None  # product-specific cap, below the platform cap
    prepayment: Prepayment = Prepayment()
    # Repayment allocation order; every target exactly once (servicing validates the names).
    waterfall: tuple[str, ...] = DEFAULT_WATERFALL
    notes: str = ""

    @model_validator(mode="after")
    def _waterfall_names_every_target_once(self) -> Product:
        if sorted(self.waterfall) != sorted(DEFAULT_WATERFALL):
            raise ValueError(f"waterfall must list each of {', '.join(DEFAULT_WATERFALL)} once")
        return self

    @model_validator(mode="after")
    def _bullet_is_single_period(self) -> Product:
        if (
            Method.BULLET in self.methods
            and len(self.methods) > 1
            and self.term.unit is PeriodUnit.DAY
        ):
            raise ValueError("a day-term product repays as one bullet; list only 'bullet'")
        return self

    def upfront_fee(self, principal: int) -> int:
        from lendcore.kernel.money import round_minor

        return self.fees.upfront_fixed + round_minor(
            principal * self.fees.upfront_rate, self.rounding
        )

    def fee_per_period(self, principal: int) -> int:
        from lendcore.kernel.money import round_minor

        return self.fees.per_period_fixed + round_minor(
            principal * self.fees.per_period_rate, self.rounding
        )
