"""Hardship negotiation: policies as data, bank-statement evidence, affordability, a seeded
stress test, the three-plan optimizer and negotiation scripts (all pure), plus the database
use cases in :mod:`lendcore.hardship.service`.

The engine's one entry point is :func:`lendcore.hardship.calculate.calculate`; see
docs/concepts/hardship.md.
"""
