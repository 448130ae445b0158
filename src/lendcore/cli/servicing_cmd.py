"""`lendcore eod`, `ledger`, `simulate`, `report` commands (issue: servicing core)."""
