"""Double-entry ledger: chart of accounts, journal entries, reconciliation."""
