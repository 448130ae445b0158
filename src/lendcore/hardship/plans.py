"""The plan as a value: what is owed (:class:`Debt`) and one offered plan (:class:`Plan`),
with its document form (money as yuan strings, rates as four-place strings)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from lendcore.hardship.stress import as_probability
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import Rounding, format_major, round_ratio
from lendcore.kernel.rates import format_rate

KINDS = ("aggressive", "balanced", "conservative")
WAIVER_ORDER = ("penalty", "interest", "fees", "principal")  # as servicing.restructure books it


@dataclass(frozen=True)
class Debt:
    """What is owed, by component, in fen."""

    principal: int
    interest: int = 0
    penalty: int = 0
    fees: int = 0

    def __post_init__(self) -> None:
        for name in ("principal", "interest", "penalty", "fees"):
            if getattr(self, name) < 0:
                raise ValidationError(
                    ErrorCode.INVALID_AMOUNT, f"debt {name} cannot be negative", {"field": name}
                )
        if self.total <= 0:
            raise ValidationError(ErrorCode.INVALID_AMOUNT, "the debt must be positive")

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.penalty + self.fees

    def charges(self, includes_fees: bool) -> int:
        return self.interest + self.penalty + (self.fees if includes_fees else 0)


@dataclass(frozen=True)
class Plan:
    kind: str
    down_payment: int
    down_payment_ratio: Decimal
    periods: int
    installment: int  # the level instalment
    last_installment: int
    waiver: int
    waiver_ratio: Decimal
    waiver_split: dict[str, int]
    financed: int
    total_repayment: int
    repayment_floor: int
    annual_rate: Decimal
    fee_per_period: int
    apr_irr: Decimal
    success_probability: Fraction
    recovery_pv: int
    monthly_net_income: int
    principal_reduction_allowed: bool

    @property
    def max_installment(self) -> int:
        return max(self.installment, self.last_installment)

    @property
    def expected_recovery_pv(self) -> int:
        p = self.success_probability
        return round_ratio(self.recovery_pv * p.numerator, p.denominator, Rounding.HALF_UP)

    def to_document(self) -> dict[str, Any]:
        """Money as yuan strings ("1234.56"), rates as four-place strings."""
        share = (
            Decimal(self.max_installment) / Decimal(self.monthly_net_income)
            if self.monthly_net_income
            else Decimal(0)
        )
        return {
            "kind": self.kind,
            "down_payment": format_major(self.down_payment),
            "down_payment_ratio": str(self.down_payment_ratio),
            "periods": self.periods,
            "installment": format_major(self.installment),
            "last_installment": format_major(self.last_installment),
            "waiver": format_major(self.waiver),
            "waiver_ratio": str(self.waiver_ratio),
            "waiver_split": {k: format_major(v) for k, v in self.waiver_split.items()},
            "financed": format_major(self.financed),
            "total_repayment": format_major(self.total_repayment),
            "repayment_floor": format_major(self.repayment_floor),
            "annual_rate": format_rate(self.annual_rate),
            "fee_per_period": format_major(self.fee_per_period),
            "apr_irr": format_rate(self.apr_irr),
            "installment_share": format_rate(share),
            "success_probability": as_probability(self.success_probability),
            "recovery_pv": format_major(self.recovery_pv),
            "expected_recovery_pv": format_major(self.expected_recovery_pv),
            "principal_reduction_allowed": self.principal_reduction_allowed,
        }
