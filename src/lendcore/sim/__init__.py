"""Synthetic portfolio and lifecycle simulator (demo, tests, benchmarks). Every figure it
produces is synthetic: no real borrower is behind any of it."""
