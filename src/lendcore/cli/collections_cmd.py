"""`lendcore collections ...` commands (issue: collections compliance gate)."""
