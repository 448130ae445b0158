"""lendcore: a compliance-first consumer-lending core."""

__version__ = "0.1.0"
