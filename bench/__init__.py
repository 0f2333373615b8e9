"""Benchmarks for Stagegate: the board and the gate, at 1,000 and 10,000 deals.

Run with `make bench` (`python -m bench`). Not a test suite: nothing here is collected
by pytest. Figures on a shared 2-core machine are noisy; compare runs, not absolutes.
"""
