"""Imports every module's tables so ``metadata`` is complete (migrations, tests)."""

from lendcore.api import tables as api_tables
from lendcore.batch import tables as batch_tables
from lendcore.collections import tables as collections_tables
from lendcore.decisioning import credit_line_tables, decision_tables, fraud_tables
from lendcore.funding import tables as funding_tables
from lendcore.hardship import tables as hardship_tables
from lendcore.ledger import tables as ledger_tables
from lendcore.onboarding import tables as onboarding_tables
from lendcore.servicing import tables as servicing_tables
from lendcore.store.metadata import metadata

__all__ = [
    "api_tables",
    "batch_tables",
    "collections_tables",
    "credit_line_tables",
    "decision_tables",
    "fraud_tables",
    "funding_tables",
    "hardship_tables",
    "ledger_tables",
    "metadata",
    "onboarding_tables",
    "servicing_tables",
]
