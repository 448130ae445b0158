"""Loan accounts: lifecycle, balances, repayment allocation, prepayment."""
