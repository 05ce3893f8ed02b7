"""The benchmark's tests, a suite of their own: ``python -m pytest benchmarks/tests``."""
