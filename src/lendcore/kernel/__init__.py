"""Kernel: exact money, rates, business clock, domain errors. Imports nothing else of lendcore."""
