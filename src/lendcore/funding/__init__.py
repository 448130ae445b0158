"""Funding and disbursement: payment channel ports, disbursement guard."""
