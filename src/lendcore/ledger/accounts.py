"""The chart of accounts (a small reference table) — pure data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Account(StrEnum):
    FUNDING_CASH = "1001"
    PRINCIPAL_RECEIVABLE = "1121"
    INTEREST_RECEIVABLE = "1131"
    FEE_RECEIVABLE = "1132"
    PENALTY_RECEIVABLE = "1133"
    SUSPENSE = "1901"
    OVERPAYMENT_LIABILITY = "2241"
    INTEREST_INCOME = "6011"
    FEE_INCOME = "6021"
    PENALTY_INCOME = "6031"
    WRITE_OFF_EXPENSE = "6701"
    CONCESSION_EXPENSE = "6702"


@dataclass(frozen=True)
class AccountInfo:
    code: Account
    name_zh: str
    name_en: str
    kind: str  # asset | liability | income | expense
    normal_side: str  # debit | credit


CHART: tuple[AccountInfo, ...] = (
    AccountInfo(Account.FUNDING_CASH, "资金托管账户", "Funding / escrow cash", "asset", "debit"),
    AccountInfo(
        Account.PRINCIPAL_RECEIVABLE, "贷款本金", "Loan principal receivable", "asset", "debit"
    ),
    AccountInfo(Account.INTEREST_RECEIVABLE, "应收利息", "Interest receivable", "asset", "debit"),
    AccountInfo(Account.FEE_RECEIVABLE, "应收费用", "Fee receivable", "asset", "debit"),
    AccountInfo(Account.PENALTY_RECEIVABLE, "应收罚息", "Penalty receivable", "asset", "debit"),
    AccountInfo(Account.SUSPENSE, "暂挂款", "Suspense", "asset", "debit"),
    AccountInfo(
        Account.OVERPAYMENT_LIABILITY, "溢缴款", "Overpayment liability", "liability", "credit"
    ),
    AccountInfo(Account.INTEREST_INCOME, "利息收入", "Interest income", "income", "credit"),
    AccountInfo(Account.FEE_INCOME, "手续费收入", "Fee income", "income", "credit"),
    AccountInfo(Account.PENALTY_INCOME, "罚息收入", "Penalty income", "income", "credit"),
    AccountInfo(Account.WRITE_OFF_EXPENSE, "核销损失", "Write-off expense", "expense", "debit"),
    AccountInfo(Account.CONCESSION_EXPENSE, "困难减免", "Hardship concessions", "expense", "debit"),
)

# Loan balance column -> the account that mirrors it, and the sign (+1: debit balance).
LOAN_BALANCE_ACCOUNTS: dict[str, tuple[Account, int]] = {
    "principal_outstanding": (Account.PRINCIPAL_RECEIVABLE, 1),
    "interest_receivable": (Account.INTEREST_RECEIVABLE, 1),
    "fee_receivable": (Account.FEE_RECEIVABLE, 1),
    "penalty_receivable": (Account.PENALTY_RECEIVABLE, 1),
    "overpayment": (Account.OVERPAYMENT_LIABILITY, -1),
}
