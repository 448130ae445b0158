"""The hardship policy schema: what every ``policies/hardship/*.yaml`` file must satisfy.

A policy is data the lender's legal and risk staff own: how much may be waived, for how long a
plan may run, who qualifies, how affordability and the stress test are parameterised. The schema
refuses a policy that is laxer than the law it cites (more than 60 periods, the 个性化分期 bound)
or internally inconsistent (a yellow threshold above the red one, an acceptable success rate a red
plan could meet). Ratios and money are written as quoted strings so YAML never turns them into
binary floats.

The essential-expense table (per city, from the local minimum-living standard 低保) is a separate
file under ``policies/hardship/expense-tables/`` that a policy names; it is configuration, not
law, and the schema makes every table say so.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lendcore.kernel.money import Rounding, parse_major, round_minor
from lendcore.products.caps import OUTER_BOUND

# 商业银行信用卡业务监督管理办法 Art. 70: a personalised instalment plan runs at most 5 years.
LEGAL_MAX_PERIODS = 60


def _exact(value: Any) -> Any:
    # YAML reads 0.5 as a binary float; a policy number must be written exactly ("0.5").
    if isinstance(value, float):
        raise ValueError(f"write ratios and amounts as quoted strings, e.g. '0.5', got {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Ratio = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=1)]
PositiveRatio = Annotated[Decimal, BeforeValidator(_exact), Field(gt=0, le=1)]
Coefficient = Annotated[Decimal, BeforeValidator(_exact), Field(gt=0, le=10)]


def _yuan(value: Any) -> int:
    value = _exact(value)
    fen = parse_major(str(value))
    if fen < 0:
        raise ValueError("an amount cannot be negative")
    return fen


# Money in a policy file is written in yuan ("3000.00") and held in fen.
Yuan = Annotated[int, BeforeValidator(_yuan)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Names(_Strict):
    zh_CN: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)


class Source(_Strict):
    """Where a number comes from. Tags as in REGULATIONS.md: P primary text, S secondary,
    U unverified; ``internal`` for the lender's own stricter choice."""

    text: str = Field(min_length=3)
    tag: Literal["P", "S", "U", "internal"]
    effective_from: date | None = None


class Eligibility(_Strict):
    days_past_due_over: int = Field(ge=0, le=3650)  # eligible when days past due exceed this
    proof_of_hardship_required: bool
    require_positive_surplus: bool = True  # ability score less other debts must be > 0


class Waiver(_Strict):
    """At most ``max_ratio`` of the waivable charges (interest, penalty and, if included, fees)
    may be waived: the repaid total is never below debt − max_ratio × charges."""

    max_ratio: Ratio
    includes_fees: bool = True
    step: PositiveRatio = Decimal("0.1")  # the optimizer's grid over 0..max_ratio


class PrincipalReduction(_Strict):
    allowed: bool = False
    max_ratio: Ratio = Decimal(0)

    @model_validator(mode="after")
    def _consistent(self) -> PrincipalReduction:
        if not self.allowed and self.max_ratio > 0:
            raise ValueError("principal_reduction.max_ratio > 0 needs allowed: true")
        return self


class Periods(_Strict):
    min: int = Field(default=1, ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _within_law(self) -> Periods:
        if self.max > LEGAL_MAX_PERIODS:
            raise ValueError(
                f"periods.max {self.max} is above the legal bound of {LEGAL_MAX_PERIODS} "
                "(个性化分期, 商业银行信用卡业务监督管理办法 第七十条)"
            )
        if self.min > self.max:
            raise ValueError("periods.min must not exceed periods.max")
        return self


class DownPayment(_Strict):
    """Ratios of the debt owed before any waiver; due with the first instalment at the latest."""

    min_ratio: Ratio = Decimal(0)
    max_ratio: Ratio
    step: PositiveRatio = Decimal("0.05")

    @model_validator(mode="after")
    def _ordered(self) -> DownPayment:
        if self.min_ratio > self.max_ratio:
            raise ValueError("down_payment.min_ratio must not exceed max_ratio")
        if self.max_ratio >= 1:
            raise ValueError("down_payment.max_ratio must be below 1 (that is a settlement)")
        return self


class PlanTerms(_Strict):
    """The price of the plan itself. Default: no interest and no fee (the usual hardship plan).
    A non-zero rate charges interest on capitalised interest and penalty, i.e. compound interest
    (复利), so it needs ``compound_interest_allowed``."""

    annual_rate: Ratio = Decimal(0)
    fee_per_period_ratio: Annotated[
        Decimal, BeforeValidator(_exact), Field(ge=0, le=Decimal("0.05"))
    ] = Decimal(0)
    rate_cap: PositiveRatio = Decimal("0.24")
    compound_interest_allowed: bool = False

    @model_validator(mode="after")
    def _within_cap(self) -> PlanTerms:
        if self.rate_cap > OUTER_BOUND:
            raise ValueError(f"plan_terms.rate_cap is above the {OUTER_BOUND} outer bound")
        if self.annual_rate > self.rate_cap:
            raise ValueError("plan_terms.annual_rate is above plan_terms.rate_cap")
        if self.annual_rate > 0 and not self.compound_interest_allowed:
            raise ValueError(
                "a plan rate charges interest on capitalised interest (复利): "
                "set compound_interest_allowed: true or use annual_rate '0'"
            )
        return self


class Affordability(_Strict):
    income_coefficient: Coefficient = Decimal("0.6")
    expense_coefficient: Coefficient = Decimal("1.2")
    max_installment_share: PositiveRatio = Decimal("0.5")  # of monthly net income
    expense_table: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")


class Shocks(_Strict):
    """Monthly probabilities and sizes of the shocks the stress test draws."""

    job_loss_monthly: Ratio = Decimal("0.02")
    reemployment_months_mean: Annotated[Decimal, BeforeValidator(_exact), Field(ge=1, le=36)] = (
        Decimal(3)
    )
    unemployment_income_ratio: Ratio = Decimal("0.3")  # unemployment insurance, odd jobs
    pay_cut_monthly: Ratio = Decimal("0.03")
    pay_cut_min: Ratio = Decimal("0.1")
    pay_cut_max: Ratio = Decimal("0.3")
    medical_monthly: Ratio = Decimal("0.02")
    medical_median: Yuan = 300_000
    medical_sigma: Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=3)] = Decimal("0.8")
    income_volatility: Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=1)] = Decimal(
        "0.05"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Shocks:
        if self.pay_cut_min > self.pay_cut_max:
            raise ValueError("shocks.pay_cut_min must not exceed pay_cut_max")
        return self


class Stress(_Strict):
    horizon_months: int = Field(default=12, ge=6, le=12)
    paths: int = Field(default=2000, ge=100, le=100_000)
    yellow_at: PositiveRatio = Decimal("0.2")  # breach probability from which the level is yellow
    red_at: PositiveRatio = Decimal("0.5")  # ... and red: no negotiated plan
    shocks: Shocks = Shocks()

    @model_validator(mode="after")
    def _ordered(self) -> Stress:
        if self.yellow_at >= self.red_at:
            raise ValueError("stress.yellow_at must be below stress.red_at")
        return self


class Optimizer(_Strict):
    discount_rate: Ratio = Decimal("0.08")  # annual, for the lender's recovery present value
    acceptable_success: PositiveRatio = Decimal("0.7")  # the aggressive plan's success floor


class Breach(_Strict):
    misses_allowed: int = Field(
        default=1, ge=0, le=12
    )  # missed plan instalments before the plan breaks


class Evidence(_Strict):
    """Statement evidence and the thresholds of the forgery signals."""

    min_statement_days: int = Field(default=60, ge=1, le=3660)
    date_disorder_tolerance_days: int = Field(default=3, ge=0, le=31)
    salary_max_deviation: Annotated[Decimal, BeforeValidator(_exact), Field(gt=0, le=10)] = Decimal(
        "0.5"
    )  # a salary this far from the median salary (relative) is an anomaly
    salary_day_spread: int = Field(default=7, ge=0, le=31)  # days of month salary may drift


class HardshipPolicy(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    name: Names
    scope: Literal["platform", "product"]
    products: tuple[str, ...] = ()
    version: int = Field(ge=1)
    effective_from: date
    sources: tuple[Source, ...] = Field(min_length=1)
    notes: str = ""
    eligibility: Eligibility
    waiver: Waiver
    principal_reduction: PrincipalReduction = PrincipalReduction()
    periods: Periods
    down_payment: DownPayment
    plan_terms: PlanTerms = PlanTerms()
    affordability: Affordability
    stress: Stress = Stress()
    optimizer: Optimizer = Optimizer()
    breach: Breach = Breach()
    evidence: Evidence = Evidence()
    banned_phrases: tuple[str, ...] = ()  # added to the built-in list for this policy's scripts

    @model_validator(mode="after")
    def _consistent(self) -> HardshipPolicy:
        if self.scope == "product" and not self.products:
            raise ValueError("a product-scoped policy must list its products")
        if self.scope == "platform" and self.products:
            raise ValueError("a platform policy applies to every product: leave products empty")
        if self.optimizer.acceptable_success < 1 - self.stress.red_at:
            raise ValueError(
                "optimizer.acceptable_success must be at least 1 - stress.red_at: "
                "a plan the stress test calls red is never acceptable"
            )
        return self


class CityStandard(_Strict):
    minimum_living_standard: Yuan  # 低保, monthly per person, yuan
    source: str = Field(min_length=3)
    tag: Literal["P", "S", "U", "internal"]
    aliases: tuple[str, ...] = ()


class ExpenseTable(_Strict):
    """Monthly essential expenses per person by city: the local minimum-living standard (低保)
    times ``multiplier``. Configuration a lender owns, not law: ``kind`` must say so."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    kind: Literal["configuration"]
    label: Names  # shown wherever the figure is shown
    multiplier: Coefficient
    effective_from: date
    cities: dict[str, CityStandard]

    @model_validator(mode="after")
    def _has_default(self) -> ExpenseTable:
        if "default" not in self.cities:
            raise ValueError("an expense table needs a 'default' entry for unlisted cities")
        return self

    def lookup(self, city: str) -> tuple[str, CityStandard]:
        """(the matched key, its entry); unknown cities fall back to ``default``."""
        wanted = normalise_city(city)
        for key, entry in self.cities.items():
            names = (key, *entry.aliases)
            if any(normalise_city(name) == wanted for name in names):
                return key, entry
        return "default", self.cities["default"]

    def baseline_per_person(self, city: str) -> tuple[str, int]:
        """(the matched key, the monthly baseline per person in fen), rounded half-up."""
        key, entry = self.lookup(city)
        value = Decimal(entry.minimum_living_standard) * self.multiplier
        return key, round_minor(value, Rounding.HALF_UP)


def normalise_city(name: str) -> str:
    text = name.strip().lower().replace(" ", "")
    for suffix in ("市", "city"):
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
    return text
