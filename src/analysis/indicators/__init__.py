"""Indicators: pure functions from canonical tables to tidy tables (no I/O, no plotting).

Each is written down in ``docs/indicators.md`` before it is coded.
"""
