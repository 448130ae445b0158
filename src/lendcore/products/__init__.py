"""Loan products as data (policies/products/*.yaml), their validation, and the rate cap."""
