"""`lendcore simulate` and `lendcore report` (issue: servicing core, simulator)."""
