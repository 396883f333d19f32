"""Benchmark scripts that reproduce the results from the real data in ``../shared/data``."""
