"""The schedule contract as JSON-ready data: amounts as yuan strings, rates with four places."""

from __future__ import annotations

from typing import Any

from lendcore.kernel.money import format_major
from lendcore.kernel.rates import format_rate
from lendcore.schedule.disclosure import Disclosure
from lendcore.schedule.model import Schedule


def schedule_document(
    schedule: Schedule, disclosure: Disclosure, cap_limit: Any, compliant: bool
) -> dict[str, Any]:
    return {
        "installments": [
            {
                "period": i.period,
                "due_date": i.due_date.isoformat(),
                "principal": format_major(i.principal),
                "interest": format_major(i.interest),
                "fee": format_major(i.fee),
                "total": format_major(i.total),
                "remaining_principal": format_major(i.remaining_principal),
            }
            for i in schedule.installments
        ],
        "total_interest": format_major(schedule.total_interest),
        "total_fees": format_major(schedule.total_fees),
        "total_repayment": format_major(schedule.total_repayment),
        "amount_received": format_major(disclosure.amount_received),
        "apr_irr": format_rate(disclosure.apr_irr),
        "nominal_rate": format_rate(disclosure.nominal_rate),
        "cap": {"limit": format_rate(cap_limit), "compliant": compliant},
        "legal_principal": format_major(disclosure.legal_principal),
        "broken_first_period": schedule.broken_first_period,
        "warnings": list(disclosure.warnings),
    }
