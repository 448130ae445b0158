"""Reconciliation: every loan's balance columns equal its ledger balances, every loan's
instalments agree with its balances, and the trial balance has debits = credits.

All set-based: one GROUP BY over the journal, one over the instalments, compared with the loans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from lendcore.kernel.money import format_major
from lendcore.ledger.accounts import CHART, LOAN_BALANCE_ACCOUNTS


@dataclass
class TrialBalanceRow:
    account: str
    name_zh: str
    name_en: str
    debit: int
    credit: int

    @property
    def balance(self) -> int:
        return self.debit - self.credit


@dataclass
class Reconciliation:
    loans_checked: int
    ledger_mismatches: list[dict[str, Any]] = field(default_factory=list)
    schedule_mismatches: list[dict[str, Any]] = field(default_factory=list)
    trial_balance: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit(self) -> int:
        return sum(row.debit for row in self.trial_balance)

    @property
    def total_credit(self) -> int:
        return sum(row.credit for row in self.trial_balance)

    @property
    def ok(self) -> bool:
        return (
            not self.ledger_mismatches
            and not self.schedule_mismatches
            and self.total_debit == self.total_credit
        )


def trial_balance(connection: Connection) -> list[TrialBalanceRow]:
    totals = {
        row.account: (row.debit, row.credit)
        for row in connection.execute(
            text(
                "SELECT account, coalesce(sum(debit), 0) AS debit, "
                "coalesce(sum(credit), 0) AS credit FROM journal_lines GROUP BY account"
            )
        )
    }
    return [
        TrialBalanceRow(str(a.code), a.name_zh, a.name_en, *totals.get(str(a.code), (0, 0)))
        for a in CHART
    ]


def _ledger_by_loan_sql() -> str:
    columns = ",\n".join(
        f"coalesce(sum(CASE WHEN account = '{account}' THEN {'debit - credit' if sign > 0 else 'credit - debit'} END), 0) AS {name}"
        for name, (account, sign) in LOAN_BALANCE_ACCOUNTS.items()
    )
    return (
        f"SELECT borrower_id, loan_id, {columns} FROM journal_lines GROUP BY borrower_id, loan_id"
    )


def reconcile(connection: Connection, limit: int = 20) -> Reconciliation:
    names = list(LOAN_BALANCE_ACCOUNTS)
    differs = " OR ".join(f"l.{n} <> coalesce(g.{n}, 0)" for n in names)
    select_pairs = ", ".join(f"l.{n} AS loan_{n}, coalesce(g.{n}, 0) AS ledger_{n}" for n in names)
    ledger_sql = f"""
        SELECT l.loan_id, {select_pairs}
          FROM loans l LEFT JOIN ({_ledger_by_loan_sql()}) g
            ON g.borrower_id = l.borrower_id AND g.loan_id = l.loan_id
         WHERE l.state NOT IN ('APPROVED', 'CONTRACT_SIGNED') AND ({differs})
         LIMIT {int(limit)}"""
    schedule_sql = f"""
        SELECT l.loan_id, l.principal_outstanding, s.principal_left,
               l.interest_receivable, s.interest_left, l.fee_receivable, s.fee_left
          FROM loans l JOIN (
                SELECT borrower_id, loan_id,
                       sum(principal_due - principal_paid) AS principal_left,
                       sum(interest_posted - interest_paid) AS interest_left,
                       sum(fee_posted - fee_paid) AS fee_left
                  FROM instalments GROUP BY borrower_id, loan_id) s
            ON s.borrower_id = l.borrower_id AND s.loan_id = l.loan_id
         WHERE l.state NOT IN ('APPROVED', 'CONTRACT_SIGNED', 'WRITTEN_OFF')
           AND (l.principal_outstanding <> s.principal_left
                OR l.interest_receivable <> s.interest_left OR l.fee_receivable <> s.fee_left)
         LIMIT {int(limit)}"""
    checked = connection.execute(
        text("SELECT count(*) FROM loans WHERE state NOT IN ('APPROVED', 'CONTRACT_SIGNED')")
    ).scalar_one()
    return Reconciliation(
        loans_checked=checked,
        ledger_mismatches=[dict(r._mapping) for r in connection.execute(text(ledger_sql))],
        schedule_mismatches=[dict(r._mapping) for r in connection.execute(text(schedule_sql))],
        trial_balance=trial_balance(connection),
    )


def reconciliation_document(result: Reconciliation) -> dict[str, Any]:
    """The reconciliation as JSON-ready data (CLI ``--json`` and the API share it)."""
    return {
        "ok": result.ok,
        "loans_checked": result.loans_checked,
        "ledger_mismatches": result.ledger_mismatches,
        "schedule_mismatches": result.schedule_mismatches,
        "trial_balance": [
            {
                "account": r.account,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "debit": format_major(r.debit),
                "credit": format_major(r.credit),
                "balance": format_major(r.balance),
            }
            for r in result.trial_balance
        ],
        "total_debit": format_major(result.total_debit),
        "total_credit": format_major(result.total_credit),
    }
