"""Borrowers, KYC ports, consent, contracts."""
